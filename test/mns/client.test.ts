// Our MNS client against the local MNS: each @alicloud/mns defect of spec §10.1 stays neutralised here.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { MnsClient, MnsError, bodyMd5, mnsEndpoint } from '../../lib/mns';
import { ACCOUNT_ID, AK, CountingProvider, staticProvider, startLocalMns, type LocalMns } from './support';

describe('lib/mns MnsClient against the local MNS', function () {
  let local: LocalMns;
  let client: MnsClient;
  let provider: CountingProvider;

  beforeEach(async function () {
    local = await startLocalMns();
    provider = staticProvider();
    client = new MnsClient({ endpoint: local.mns.url, accountId: ACCOUNT_ID, credentials: provider, timeoutMs: 2000 });
  });
  afterEach(async function () {
    client.close();
    await local.mns.stop();
  });

  describe('XML escaping (the SDK escapes nothing)', function () {
    const bodies = [
      'a<b & "c" \'d\' > e',
      '{"temp":21.5,"note":"<script>alert(1)</script> & co"}',
      '中文测试 — 温度 ✓',
      'emoji 😀🚀 and a surrogate pair 𝄞',
      '  leading and trailing spaces, tab\tand\nnewline  ',
      'Windows lines\r\nkeep their CR\r\n',
      ']]> and <![CDATA[ and &amp; literally',
    ];
    for (const body of bodies) {
      it(`publishes ${JSON.stringify(body.slice(0, 24))}… byte-identical to topic and subscribed queue`, async function () {
        const r = await client.publishMessage('telemetry', body);
        assert.equal(r.bodyMD5, bodyMd5(body));
        const published = local.mns.published('telemetry');
        assert.equal(published.length, 1);
        assert.equal(Buffer.compare(Buffer.from(published[0].body, 'utf8'), Buffer.from(body, 'utf8')), 0);
        const got = await client.receiveMessages('app', 1, 16);
        assert.equal(got.length, 1);
        assert.equal(got[0].body, body);
      });
    }

    it('escapes the message tag too', async function () {
      await client.publishMessage('telemetry', 'x', 'a&b<c>');
      assert.equal(local.mns.published('telemetry')[0].tag, 'a&b<c>');
    });

    it('refuses control characters and oversize bodies before sending, accepts exactly 64 KB', async function () {
      await assert.rejects(client.publishMessage('telemetry', 'bell\u0007'), (e: MnsError) => e.code === 'InvalidArgument' && !e.retryable && /U\+0007/.test(e.message));
      await assert.rejects(client.publishMessage('telemetry', 'x'.repeat(65537)), (e: MnsError) => /65537 bytes/.test(e.message) && !e.retryable);
      await assert.rejects(client.publishMessage('telemetry', ''), (e: MnsError) => /empty/.test(e.message));
      assert.equal(local.mns.published('telemetry').length, 0, 'nothing reached MNS');
      await client.publishMessage('telemetry', 'y'.repeat(65536));
      assert.equal(local.mns.published('telemetry').length, 1);
    });
  });

  describe('every failure throws one typed MnsError', function () {
    it('503 with an HTML body throws (the SDK would resolve it)', async function () {
      local.mns.faults.fail({ kind: 'service-unavailable', count: 1 });
      await assert.rejects(client.publishMessage('telemetry', 'm'), (e: unknown) => {
        assert.ok(e instanceof MnsError);
        assert.equal(e.code, 'ServiceUnavailable');
        assert.equal(e.status, 503);
        assert.equal(e.retryable, true);
        return true;
      });
      assert.equal(local.mns.published('telemetry').length, 0);
    });

    it('an empty 502 throws BadGateway, retryable', async function () {
      local.mns.faults.fail({ kind: 'bad-gateway', count: 1 });
      await assert.rejects(client.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'BadGateway' && e.status === 502 && e.retryable);
    });

    it('500 InternalError carries status, requestId and is retryable', async function () {
      local.mns.faults.fail({ kind: 'internal-error', count: 1 });
      await assert.rejects(client.publishMessage('telemetry', 'm'), (e: MnsError) => {
        assert.equal(e.code, 'InternalError');
        assert.equal(e.status, 500);
        assert.match(e.requestId ?? '', /^[0-9A-F]+/i);
        assert.equal(e.retryable, true);
        return true;
      });
    });

    it('throttling (429 and the legacy 400 QpsLimitExceeded) is retryable', async function () {
      local.mns.faults.fail({ kind: 'throttle', count: 1, holdMs: 0 });
      await assert.rejects(client.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'TooManyRequests' && e.status === 429 && e.retryable);
      local.mns.faults.fail({ kind: 'throttle-legacy', count: 1 });
      await assert.rejects(client.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'QpsLimitExceeded' && e.retryable);
    });

    it('TopicNotExist is permanent, with status 404', async function () {
      await assert.rejects(client.publishMessage('nope', 'm'), (e: MnsError) => e.code === 'TopicNotExist' && e.status === 404 && !e.retryable);
    });

    it('a reset connection is a retryable NetworkError', async function () {
      local.mns.faults.fail({ kind: 'reset', count: 1 });
      await assert.rejects(client.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'NetworkError' && e.status === 0 && e.retryable);
    });

    it('a server that never answers times out after the configured read timeout, not 40 s', async function () {
      const quick = new MnsClient({ endpoint: local.mns.url, credentials: provider, timeoutMs: 300 });
      local.mns.faults.fail({ kind: 'timeout', count: 1 });
      const t0 = Date.now();
      await assert.rejects(quick.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'Timeout' && e.retryable);
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      quick.close();
    });

    it('a wrong secret is SignatureDoesNotMatch, not retryable, and the message never shows the secret', async function () {
      const bad = new MnsClient({ endpoint: local.mns.url, credentials: new CountingProvider({ accessKeyId: AK.accessKeyId, accessKeySecret: 'wrong-secret-123' }) });
      await assert.rejects(bad.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'SignatureDoesNotMatch' && e.status === 403 && !e.retryable && !e.message.includes('wrong-secret-123'));
      bad.close();
    });
  });

  describe('credentials from the provider on every call', function () {
    it('asks the provider for each call and follows a key rotation at once', async function () {
      local.accounts.addAccessKey({ accessKeyId: 'LTAIsecond01', accessKeySecret: 'second-secret', accountId: ACCOUNT_ID });
      await client.publishMessage('telemetry', 'one');
      const rotating = new CountingProvider({ accessKeyId: 'LTAIsecond01', accessKeySecret: 'second-secret' });
      const c2 = new MnsClient({ endpoint: local.mns.url, credentials: rotating });
      await c2.publishMessage('telemetry', 'two');
      await c2.publishMessage('telemetry', 'three');
      assert.equal(rotating.calls, 2);
      assert.equal(provider.calls, 1);
      c2.close();
      local.accounts.removeAccessKey(AK.accessKeyId);
      await assert.rejects(client.publishMessage('telemetry', 'four'), (e: MnsError) => e.code === 'InvalidAccessKeyId');
    });

    it('sends the security-token of STS credentials, and refreshes once when MNS says the token expired', async function () {
      const now = Date.now();
      const sts1 = { accessKeyId: 'STS.first', accessKeySecret: 'sts-secret-1', securityToken: 'CAIS-token-1' };
      const sts2 = { accessKeyId: 'STS.second', accessKeySecret: 'sts-secret-2', securityToken: 'CAIS-token-2' };
      const rec = { accountId: ACCOUNT_ID, roleArn: `acs:ram::${ACCOUNT_ID}:role/mns-writer`, roleSessionName: 'test' };
      local.accounts.recordSts({ ...sts1, ...rec, expiresAt: now + 3_600_000 });
      local.accounts.recordSts({ ...sts2, ...rec, expiresAt: now + 3_600_000 });
      const sts = new CountingProvider({ ...sts1, expiration: new Date(now + 3_600_000) }, () => ({ ...sts2, expiration: new Date(now + 3_600_000) }));
      const c = new MnsClient({ endpoint: local.mns.url, credentials: sts });
      await c.publishMessage('telemetry', 'with token'); // the emulator refuses STS keys without their token
      assert.equal(sts.refreshes, 0);
      local.accounts.recordSts({ ...sts1, ...rec, expiresAt: now - 1000 }); // MNS now sees token 1 as expired
      const r = await c.publishMessage('telemetry', 'after expiry');
      assert.ok(r.messageId);
      assert.equal(sts.refreshes, 1);
      assert.equal(local.mns.published('telemetry').length, 2);
      c.close();
    });

    it('a token MNS keeps calling expired is retryable (SecurityTokenExpired) after one refresh', async function () {
      const sts1 = { accessKeyId: 'STS.only', accessKeySecret: 'sts-secret', securityToken: 'CAIS-only' };
      local.accounts.recordSts({ ...sts1, accountId: ACCOUNT_ID, roleArn: 'r', roleSessionName: 's', expiresAt: Date.now() + 60_000 });
      local.mns.faults.apply({ expireSecurityTokens: true });
      const sts = new CountingProvider(sts1);
      const c = new MnsClient({ endpoint: local.mns.url, credentials: sts });
      await assert.rejects(c.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'SecurityTokenExpired' && e.retryable && !e.message.includes('CAIS-only'));
      assert.equal(sts.refreshes, 1);
      c.close();
    });

    it('a provider failure becomes CredentialsUnavailable', async function () {
      const c = new MnsClient({ endpoint: local.mns.url, credentials: { getCredentials: () => Promise.reject(Object.assign(new Error('STS down'), { retryable: true })) } });
      await assert.rejects(c.publishMessage('telemetry', 'm'), (e: MnsError) => e.code === 'CredentialsUnavailable' && e.retryable);
      c.close();
    });
  });

  describe('queues', function () {
    it('receives in batches, deletes, and an empty queue is an empty list', async function () {
      for (let i = 0; i < 5; i++) await client.publishMessage('telemetry', `m${i}`);
      const got = await client.receiveMessages('app', 0, 16);
      assert.deepEqual(got.map((m) => m.body).sort(), ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.ok(got.every((m) => m.dequeueCount === 1 && m.enqueueTime > 0 && m.receiptHandle !== ''));
      assert.deepEqual(await client.deleteMessages('app', got.slice(0, 1).map((m) => m.receiptHandle)), []);
      assert.deepEqual(await client.deleteMessages('app', got.slice(1).map((m) => m.receiptHandle)), []);
      assert.equal(local.mns.messages('app').length, 0);
      assert.deepEqual(await client.receiveMessages('app', 0, 1), []);
    });

    it('reports stale receipt handles instead of throwing', async function () {
      await client.publishMessage('telemetry', 'x');
      const [m] = await client.receiveMessages('app', 0, 1);
      const moved = await client.changeVisibility('app', m.receiptHandle, 60);
      assert.notEqual(moved.receiptHandle, m.receiptHandle);
      assert.ok(moved.nextVisibleTime > Date.now() + 50_000);
      const failed = await client.deleteMessages('app', [m.receiptHandle]);
      assert.equal(failed.length, 1);
      const failedBatch = await client.deleteMessages('app', [m.receiptHandle, moved.receiptHandle]);
      assert.equal(failedBatch.length, 1, 'one stale, one deleted');
      assert.equal(local.mns.messages('app').length, 0);
    });

    it('close() ends a long poll at once', async function () {
      const poll = client.receiveMessages('app', 30, 1);
      const t0 = Date.now();
      client.close();
      await assert.rejects(poll, (e: MnsError) => e instanceof MnsError);
      assert.ok(Date.now() - t0 < 1000);
    });
  });
});

describe('runtime dependencies (spec §15.3)', function () {
  it('@alicloud/mns (and with it xml2js) is only a devDependency, and no runtime code loads it', function () {
    const root = path.join(__dirname, '..', '..');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.equal(pkg.dependencies['@alicloud/mns'], undefined);
    assert.equal(pkg.dependencies.xml2js, undefined);
    assert.ok(pkg.devDependencies['@alicloud/mns'], 'kept as the oracle of test/mns/sdk-parity.test.ts');
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ts$/.test(e.name) && /['"]@alicloud\/mns['"]|['"]xml2js['"]/.test(readFileSync(p, 'utf8'))) offenders.push(path.relative(root, p));
      }
    };
    for (const d of ['lib', 'nodes']) walk(path.join(root, d));
    assert.deepEqual(offenders, []);
  });
});

describe('lib/mns mnsEndpoint', function () {
  it('builds public, internal and VPC endpoints from account and region', function () {
    assert.equal(mnsEndpoint({ accountId: ACCOUNT_ID, region: 'cn-hangzhou' }), `https://${ACCOUNT_ID}.mns.cn-hangzhou.aliyuncs.com`);
    assert.equal(mnsEndpoint({ accountId: ACCOUNT_ID, region: 'cn-shanghai', network: 'internal' }), `https://${ACCOUNT_ID}.mns.cn-shanghai-internal.aliyuncs.com`);
    assert.equal(mnsEndpoint({ accountId: ACCOUNT_ID, region: 'cn-shanghai', network: 'vpc', secure: false }), `http://${ACCOUNT_ID}.mns.cn-shanghai-internal-vpc.aliyuncs.com`);
  });
  it('takes a full URL and refuses bad input with what to fix', function () {
    assert.equal(mnsEndpoint({ endpoint: 'http://127.0.0.1:4000/' }), 'http://127.0.0.1:4000');
    assert.throws(() => mnsEndpoint({ endpoint: 'ftp://x' }), /http:\/\/ or https:\/\//);
    assert.throws(() => mnsEndpoint({ endpoint: 'http://h/queues' }), /path/);
    assert.throws(() => mnsEndpoint({ accountId: 'abc', region: 'cn-hangzhou' }), /account ID/);
    assert.throws(() => mnsEndpoint({ accountId: ACCOUNT_ID, region: 'Hangzhou' }), /region/);
  });
});
