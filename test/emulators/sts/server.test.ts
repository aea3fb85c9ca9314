import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { createHmac, randomUUID } from 'node:crypto';
import { start, TEST_CA_FILE, DEMO_ROLE_ARN, DEMO_ACCESS_KEY, DEMO_ROOT_KEY, type LocalCloud } from '../../../emulators';

// Raw client written here (not lib/pop) so these tests check the emulator against the spec alone.
function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
function sign(method: string, params: Record<string, string>, secret: string): string {
  const canon = Object.keys(params).sort().map((k) => `${enc(k)}=${enc(params[k])}`).join('&');
  return createHmac('sha1', secret + '&').update(`${method}&%2F&${enc(canon)}`).digest('base64');
}
function common(accessKeyId: string, action = 'AssumeRole'): Record<string, string> {
  return {
    Format: 'JSON', Version: '2015-04-01', Action: action, AccessKeyId: accessKeyId, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: randomUUID(), Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}
interface Answer { status: number; json: Record<string, unknown>; text: string; contentType: string }
function send(url: string, method: string, query: Record<string, string>, body?: Record<string, string>): Promise<Answer> {
  const u = new URL(url);
  const qs = new URLSearchParams(query).toString();
  const payload = body ? new URLSearchParams(body).toString() : undefined;
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname, port: u.port, path: '/?' + qs, method, headers: payload ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, json, text, contentType: String(res.headers['content-type']) });
      });
    });
    r.on('error', reject);
    r.end(payload);
  });
}
/** Signs everything, sends common params in the query and the rest in the body, as @alicloud/credentials does. */
function assume(cloud: LocalCloud, extra: Record<string, string>, key = DEMO_ACCESS_KEY, tweak?: (q: Record<string, string>) => void): Promise<Answer> {
  const q = common(key.accessKeyId);
  const body = { RoleArn: DEMO_ROLE_ARN, RoleSessionName: 'test-session', ...extra };
  q.Signature = sign('POST', { ...q, ...body }, key.accessKeySecret);
  tweak?.(q);
  return send(cloud.sts.url, 'POST', q, body);
}

describe('local STS (emulators/sts)', () => {
  let cloud: LocalCloud;
  beforeEach(async () => {
    cloud = await start();
  });
  afterEach(async () => {
    await cloud.stop();
  });

  it('issues STS-shaped credentials and records them in the AccountBook', async () => {
    const a = await assume(cloud, { DurationSeconds: '900' });
    assert.equal(a.status, 200, a.text);
    assert.match(a.contentType, /^application\/json/);
    const c = a.json.Credentials as Record<string, string>;
    assert.match(c.AccessKeyId, /^STS\./);
    assert.match(c.Expiration, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const lifetime = Date.parse(c.Expiration) - Date.now();
    assert.ok(lifetime > 890_000 && lifetime <= 900_000, `lifetime ${lifetime}`);
    assert.deepEqual(a.json.AssumedRoleUser, { Arn: 'acs:ram::1234567890123456:role/iot-mns-writer/test-session', AssumedRoleId: (a.json.AssumedRoleUser as { AssumedRoleId: string }).AssumedRoleId });
    assert.match(String(a.json.RequestId), /^[0-9A-F-]{36}$/);
    const rec = cloud.accounts.resolve(c.AccessKeyId);
    assert.equal(rec?.kind, 'sts');
    assert.equal(rec?.kind === 'sts' && rec.record.securityToken, c.SecurityToken);
    assert.equal(rec?.kind === 'sts' && rec.record.roleArn, DEMO_ROLE_ARN);
  });

  it('accepts GET with every parameter in the query', async () => {
    const q: Record<string, string> = { ...common(DEMO_ACCESS_KEY.accessKeyId), RoleArn: DEMO_ROLE_ARN, RoleSessionName: 'via-get' };
    q.Signature = sign('GET', q, DEMO_ACCESS_KEY.accessKeySecret);
    const a = await send(cloud.sts.url, 'GET', q);
    assert.equal(a.status, 200, a.text);
  });

  it('answers SignatureDoesNotMatch with its string to sign when the secret is wrong', async () => {
    const a = await assume(cloud, {}, { ...DEMO_ACCESS_KEY, accessKeySecret: 'wrong' });
    assert.equal(a.status, 400);
    assert.equal(a.json.Code, 'SignatureDoesNotMatch');
    assert.match(String(a.json.Message), /^Specified signature is not matched with our calculation\. server string to sign is:POST&%2F&AccessKeyId%3D/);
    for (const k of ['RequestId', 'HostId', 'Code', 'Message', 'Recommend']) assert.ok(k in a.json, k);
  });

  const cases: [string, Record<string, string>, number, string, typeof DEMO_ACCESS_KEY?][] = [
    ['unknown role', { RoleArn: 'acs:ram::1234567890123456:role/nope' }, 404, 'EntityNotExist.Role'],
    ['malformed role ARN', { RoleArn: 'acs:ram::123:user/x' }, 400, 'InvalidParameter.RoleArn'],
    ['bad session name', { RoleSessionName: 'has space' }, 400, 'InvalidParameter.RoleSessionName'],
    ['duration below 900', { DurationSeconds: '899' }, 400, 'InvalidParameter.DurationSeconds'],
    ["duration above the role's maximum", { DurationSeconds: '3601' }, 400, 'InvalidParameter.DurationSeconds'],
    ['policy not JSON', { Policy: '{"Version":' }, 400, 'InvalidParameter.PolicyGrammar'],
    ['policy longer than 2048', { Policy: JSON.stringify({ Version: '1', x: 'y'.repeat(2100) }) }, 400, 'InvalidParameter.PolicyGrammar'],
    ['root account caller', {}, 403, 'NoPermission', DEMO_ROOT_KEY],
  ];
  for (const [name, extra, status, code, key] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const a = await assume(cloud, extra, key);
      assert.equal(a.status, status, a.text);
      assert.equal(a.json.Code, code);
    });
  }

  it('unknown AccessKey → 404 InvalidAccessKeyId.NotFound', async () => {
    const a = await assume(cloud, {}, { ...DEMO_ACCESS_KEY, accessKeyId: 'LTAI5tNobodyHas' });
    assert.equal(a.status, 404);
    assert.equal(a.json.Code, 'InvalidAccessKeyId.NotFound');
  });

  it('a caller the role does not trust → 403 NoPermission', async () => {
    cloud.sts.addRole({ arn: 'acs:ram::1234567890123456:role/locked', trustedAccessKeyIds: ['someone-else'] });
    const a = await assume(cloud, { RoleArn: 'acs:ram::1234567890123456:role/locked' });
    assert.equal(a.status, 403);
    assert.equal(a.json.Code, 'NoPermission');
  });

  it('a role requiring an ExternalId refuses callers without it', async () => {
    cloud.sts.addRole({ arn: 'acs:ram::1234567890123456:role/ext', externalId: 'abc-123' });
    assert.equal((await assume(cloud, { RoleArn: 'acs:ram::1234567890123456:role/ext' })).json.Code, 'NoPermission');
    assert.equal((await assume(cloud, { RoleArn: 'acs:ram::1234567890123456:role/ext', ExternalId: 'abc-123' })).status, 200);
  });

  it('rejects a reused nonce, an old timestamp and a missing signature', async () => {
    const q = common(DEMO_ACCESS_KEY.accessKeyId);
    const body = { RoleArn: DEMO_ROLE_ARN, RoleSessionName: 'nonce' };
    q.Signature = sign('POST', { ...q, ...body }, DEMO_ACCESS_KEY.accessKeySecret);
    assert.equal((await send(cloud.sts.url, 'POST', q, body)).status, 200);
    assert.equal((await send(cloud.sts.url, 'POST', q, body)).json.Code, 'SignatureNonceUsed');

    const old = common(DEMO_ACCESS_KEY.accessKeyId);
    old.Timestamp = new Date(Date.now() - 20 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    old.Signature = sign('POST', { ...old, ...body }, DEMO_ACCESS_KEY.accessKeySecret);
    assert.equal((await send(cloud.sts.url, 'POST', old, body)).json.Code, 'InvalidTimeStamp.Expired');

    const unsigned = common(DEMO_ACCESS_KEY.accessKeyId);
    const a = await send(cloud.sts.url, 'POST', unsigned, body);
    assert.equal(a.json.Code, 'IncompleteSignature');
  });

  it('fault injection: throttling, 5xx (JSON and HTML), refused role, latency — switchable at run time', async () => {
    cloud.sts.setFaults({ throttle: { count: 1 } });
    const t = await assume(cloud, {});
    assert.equal(t.status, 400);
    assert.equal(t.json.Code, 'Throttling.User');
    assert.equal((await assume(cloud, {})).status, 200, 'throttling ends after count requests');

    cloud.sts.setFaults({ fail: { status: 500, count: 1 } });
    assert.equal((await assume(cloud, {})).json.Code, 'InternalError');
    cloud.sts.setFaults({ fail: { status: 503, html: true } });
    const h = await assume(cloud, {});
    assert.equal(h.status, 503);
    assert.match(h.contentType, /^text\/html/);

    cloud.sts.setFaults({ refuseRoles: [DEMO_ROLE_ARN] });
    assert.equal((await assume(cloud, {})).json.Code, 'NoPermission');

    cloud.sts.setFaults({ latencyMs: 150 });
    const t0 = Date.now();
    assert.equal((await assume(cloud, {})).status, 200);
    assert.ok(Date.now() - t0 >= 140, 'answer was delayed');
    cloud.sts.clearFaults();
    assert.equal((await assume(cloud, {})).status, 200);
  });

  it('admin path (outside the signed API) switches faults and lifetime and shows the request log', async () => {
    const admin = (method: string, path: string, body?: object) =>
      new Promise<{ status: number; json: unknown }>((resolve, reject) => {
        const u = new URL(cloud.sts.url);
        const data = body ? JSON.stringify(body) : undefined;
        const r = http.request({ host: u.hostname, port: u.port, path: '/__admin/' + path, method, headers: data ? { 'Content-Type': 'application/json' } : {} }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
        });
        r.on('error', reject);
        r.end(data);
      });
    assert.equal((await admin('PUT', 'faults', { throttle: { count: 1 } })).status, 200);
    assert.equal((await assume(cloud, {})).json.Code, 'Throttling.User');
    assert.equal((await admin('PUT', 'lifetime', { seconds: 5 })).status, 200);
    const ok = await assume(cloud, {});
    assert.ok(Date.parse((ok.json.Credentials as { Expiration: string }).Expiration) - Date.now() <= 5000);
    assert.equal((await admin('PUT', 'lifetime', { seconds: -1 })).status, 400);
    const log = (await admin('GET', 'requests')).json as { code?: string }[];
    assert.deepEqual(log.map((e) => e.code), ['Throttling.User', undefined]);
    assert.equal((await admin('DELETE', 'faults')).status, 200);
    assert.equal((await admin('GET', 'nothing')).status, 404);
  });

  it('lifetime override makes issued credentials expire after a few seconds', async () => {
    cloud.sts.setLifetime(3);
    const a = await assume(cloud, { DurationSeconds: '3600' });
    const exp = Date.parse((a.json.Credentials as { Expiration: string }).Expiration);
    assert.ok(exp - Date.now() <= 3000 && exp - Date.now() > 1000);
  });

  it('keeps a request log with action, caller and outcome, without secrets', async () => {
    await assume(cloud, {});
    await assume(cloud, { RoleArn: 'acs:ram::1234567890123456:role/nope' });
    const log = cloud.sts.requests('AssumeRole');
    assert.equal(log.length, 2);
    assert.deepEqual([log[0].status, log[1].code], [200, 'EntityNotExist.Role']);
    assert.equal(log[0].accessKeyId, DEMO_ACCESS_KEY.accessKeyId);
    assert.ok(!JSON.stringify(log).includes(DEMO_ACCESS_KEY.accessKeySecret));
  });

  it('role chaining: STS credentials with their SecurityToken may call GetCallerIdentity; without it they may not', async () => {
    const c = (await assume(cloud, {})).json.Credentials as Record<string, string>;
    const q: Record<string, string> = { ...common(c.AccessKeyId, 'GetCallerIdentity'), SecurityToken: c.SecurityToken };
    q.Signature = sign('POST', q, c.AccessKeySecret);
    const ok = await send(cloud.sts.url, 'POST', q);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.IdentityType, 'AssumedRoleUser');
    const q2 = common(c.AccessKeyId, 'GetCallerIdentity');
    q2.Signature = sign('POST', q2, c.AccessKeySecret);
    assert.equal((await send(cloud.sts.url, 'POST', q2)).json.Code, 'MissingSecurityToken');
  });

  describe('the official @alicloud/credentials ram_role_arn provider over HTTPS (child process with NODE_EXTRA_CA_CERTS)', () => {
    function runOfficial(secret: string): Promise<{ ok: boolean; accessKeyId?: string; hasToken?: boolean; message?: string }> {
      const host = new URL(cloud.sts.httpsUrl as string).host;
      return new Promise((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', path.join(__dirname, 'official-sdk-child.ts')],
          { env: { ...process.env, NODE_EXTRA_CA_CERTS: TEST_CA_FILE, STS_HOST: host, AK_ID: DEMO_ACCESS_KEY.accessKeyId, AK_SECRET: secret, ROLE_ARN: DEMO_ROLE_ARN }, timeout: 20_000 },
          (err, stdout, stderr) => {
            if (err) return reject(new Error(`child failed: ${err.message}\n${stderr}`));
            try {
              resolve(JSON.parse(stdout.trim().split('\n').pop() as string));
            } catch {
              reject(new Error(`child printed no JSON: ${stdout}\n${stderr}`));
            }
          },
        );
      });
    }

    it('gets STS credentials from the local STS', async () => {
      const r = await runOfficial(DEMO_ACCESS_KEY.accessKeySecret);
      assert.equal(r.ok, true, r.message);
      assert.match(r.accessKeyId as string, /^STS\./);
      assert.equal(r.hasToken, true);
      const log = cloud.sts.requests('AssumeRole');
      assert.equal(log.length, 1);
      assert.equal(log[0].protocol, 'https');
      assert.equal(cloud.accounts.resolve(r.accessKeyId as string)?.kind, 'sts');
    });

    it('recognises a wrong secret from our SignatureDoesNotMatch answer (same format as STS)', async () => {
      const r = await runOfficial('not-the-secret');
      assert.equal(r.ok, false);
      assert.equal(r.message, 'the access key secret is invalid');
    });
  });
});
