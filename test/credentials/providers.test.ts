import assert from 'node:assert/strict';
import { once } from 'node:events';
import { start, DEMO_ACCESS_KEY, DEMO_ROOT_KEY, DEMO_ROLE_ARN, type LocalCloud } from '../../emulators';
import {
  AssumeRoleProvider,
  StaticAccessKeyProvider,
  DefaultChainProvider,
  CredentialsConfigError,
  CredentialsExpiredError,
  StsError,
  createCredentialProvider,
  getCallerIdentity,
  statusTextFor,
  type RefreshFailedEvent,
  type RoleOptions,
} from '../../lib/credentials';
import { callRpc, PopError } from '../../lib/pop';

const key = new StaticAccessKeyProvider(DEMO_ACCESS_KEY.accessKeyId, DEMO_ACCESS_KEY.accessKeySecret);

describe('lib/credentials against the local STS', () => {
  let cloud: LocalCloud;
  let role: RoleOptions;
  beforeEach(async () => {
    cloud = await start({ sts: { httpsPort: null } });
    role = { roleArn: DEMO_ROLE_ARN, roleSessionName: 'unit-test', stsEndpoint: cloud.sts.url };
  });
  afterEach(async () => {
    await cloud.stop();
  });

  it('AssumeRole returns STS credentials that the local cloud recognises', async () => {
    const p = new AssumeRoleProvider(key, { ...role, durationSeconds: 900 });
    const c = await p.getCredentials();
    assert.match(c.accessKeyId, /^STS\./);
    assert.ok(c.securityToken && c.expiration);
    const rec = cloud.accounts.resolve(c.accessKeyId);
    assert.ok(rec?.kind === 'sts' && rec.record.securityToken === c.securityToken && rec.record.accessKeySecret === c.accessKeySecret);
    assert.equal(p.assumedRoleArn, 'acs:ram::1234567890123456:role/iot-mns-writer/unit-test');
    // The STS credentials themselves can sign further calls (SecurityToken parameter).
    const who = await getCallerIdentity({ endpoint: cloud.sts.url }, c);
    assert.equal(who.identityType, 'AssumedRoleUser');
  });

  it('caches: a second call within the token lifetime makes no STS request', async () => {
    const p = new AssumeRoleProvider(key, role);
    const a = await p.getCredentials();
    const b = await p.getCredentials();
    assert.equal(a.accessKeyId, b.accessKeyId);
    assert.equal(cloud.sts.requests('AssumeRole').length, 1);
  });

  it('single-flight: 100 concurrent callers on an empty cache cause exactly one AssumeRole', async () => {
    cloud.sts.setFaults({ latencyMs: 50 });
    const p = new AssumeRoleProvider(key, role);
    const all = await Promise.all(Array.from({ length: 100 }, () => p.getCredentials()));
    assert.equal(new Set(all.map((c) => c.accessKeyId)).size, 1);
    assert.equal(cloud.sts.requests('AssumeRole').length, 1);
  });

  it('refresh threshold Expiration − max(5 min, 20 %): 3600 s tokens refresh at 48 min, 900 s tokens at 10 min; 100 callers → 1 refresh', async () => {
    for (const duration of [3600, 900]) {
      const before = cloud.sts.requests('AssumeRole').length;
      let offset = 0;
      const p = new AssumeRoleProvider(key, { ...role, durationSeconds: duration }, { now: () => Date.now() + offset });
      const first = await p.getCredentials();
      const lifetime = (first.expiration as Date).getTime() - Date.now();
      const margin = Math.max(300_000, 0.2 * duration * 1000);
      offset = lifetime - margin - 2000; // just before the threshold: cached
      assert.equal((await p.getCredentials()).accessKeyId, first.accessKeyId);
      assert.equal(cloud.sts.requests('AssumeRole').length - before, 1, `${duration}: no refresh before the threshold`);
      offset = lifetime - margin + 1000; // just after: old token served at once, one refresh in the background
      const refreshed = once(p, 'refreshed');
      cloud.sts.setFaults({ latencyMs: 30 });
      const during = await Promise.all(Array.from({ length: 100 }, () => p.getCredentials()));
      assert.ok(during.every((c) => c.accessKeyId === first.accessKeyId), 'callers keep the valid token meanwhile');
      await refreshed;
      cloud.sts.clearFaults();
      assert.equal(cloud.sts.requests('AssumeRole').length - before, 2, `${duration}: exactly one refresh`);
      assert.notEqual((await p.getCredentials()).accessKeyId, first.accessKeyId);
      p.close();
    }
  });

  it('tokens of a few seconds refresh for real (proactive timer, lifetime override), waiting on the refreshed event', async () => {
    cloud.sts.setLifetime(4);
    const p = new AssumeRoleProvider(key, role, { proactive: true, minMarginMs: 1500, marginFraction: 0.2, expirySafetyMs: 500 });
    try {
      const first = await p.getCredentials();
      const t0 = Date.now();
      const [ev] = (await once(p, 'refreshed')) as [{ accessKeyId: string; expiration: Date }];
      const waited = Date.now() - t0;
      assert.notEqual(ev.accessKeyId, first.accessKeyId);
      // Expiration has second precision, so the refresh lands 1.5–2.5 s after the first fetch, before expiry.
      assert.ok(waited < (first.expiration as Date).getTime() - t0, 'refreshed before the old token expired');
      const now = await p.getCredentials();
      assert.equal(now.accessKeyId, ev.accessKeyId);
      assert.equal(cloud.sts.requests('AssumeRole').length, 2);
    } finally {
      p.close();
    }
  });

  it('failed refresh keeps serving the valid token, reports it, backs off, then throws CredentialsExpiredError after expiry', async () => {
    let offset = 0;
    const p = new AssumeRoleProvider(key, role, { now: () => Date.now() + offset, random: () => 0.5 });
    const first = await p.getCredentials();
    const exp = (first.expiration as Date).getTime() - Date.now();
    cloud.sts.setFaults({ fail: { status: 503 } });
    offset = exp - 200_000; // inside the refresh window, still valid
    const failed = once(p, 'refresh-failed');
    assert.equal((await p.getCredentials()).accessKeyId, first.accessKeyId);
    const [ev] = (await failed) as [RefreshFailedEvent];
    assert.equal(ev.servingCached, true);
    assert.equal(ev.attempt, 1);
    assert.ok(ev.error instanceof StsError && ev.error.code === 'ServiceUnavailable');
    const retryIn = ev.retryAt - (Date.now() + offset);
    assert.ok(retryIn >= 500 && retryIn <= 1000, `first backoff ~1 s jittered, got ${retryIn}`);
    // Within the backoff: no new STS request, still the old token.
    const n = cloud.sts.requests('AssumeRole').length;
    assert.equal((await p.getCredentials()).accessKeyId, first.accessKeyId);
    assert.equal(cloud.sts.requests('AssumeRole').length, n);
    // After expiry: never the expired token; a typed error naming the cause.
    offset = exp + 1000;
    await assert.rejects(p.getCredentials(), (e: unknown) => {
      assert.ok(e instanceof CredentialsExpiredError);
      assert.ok(e.cause instanceof StsError && e.cause.code === 'ServiceUnavailable');
      assert.equal(statusTextFor(e), 'expired, STS: ServiceUnavailable');
      return true;
    });
    // STS back: the next call after the backoff gets fresh credentials.
    cloud.sts.clearFaults();
    offset = exp + 120_000;
    const fresh = await p.getCredentials();
    assert.notEqual(fresh.accessKeyId, first.accessKeyId);
  });

  it('no token and STS failing: callers get the STS error; during the backoff they get it without new requests', async () => {
    cloud.sts.setFaults({ throttle: {} });
    let offset = 0;
    const p = new AssumeRoleProvider(key, role, { now: () => Date.now() + offset });
    await assert.rejects(p.getCredentials(), (e: unknown) => e instanceof StsError && e.code === 'Throttling.User' && e.retryable && /throttling/.test(e.message));
    await assert.rejects(p.getCredentials(), (e: unknown) => e instanceof StsError && e.code === 'Throttling.User');
    assert.equal(cloud.sts.requests('AssumeRole').length, 1);
    cloud.sts.clearFaults();
    offset = 5_000;
    assert.match((await p.getCredentials()).accessKeyId, /^STS\./);
  });

  describe('every STS error becomes a typed StsError with code, request ID and a message that says what to fix', () => {
    const cases: [string, () => Partial<RoleOptions>, (c: LocalCloud) => void, string, RegExp, typeof DEMO_ACCESS_KEY?][] = [
      ['NoPermission (not trusted)', () => ({}), (c) => c.sts.setFaults({ refuseRoles: [DEMO_ROLE_ARN] }), 'NoPermission', /may not assume this role/],
      ['NoPermission (root key)', () => ({}), () => undefined, 'NoPermission', /root-account keys/, DEMO_ROOT_KEY],
      ['EntityNotExist.Role', () => ({ roleArn: 'acs:ram::1234567890123456:role/missing' }), () => undefined, 'EntityNotExist.Role', /no role with this ARN/],
      ['InvalidParameter.DurationSeconds (above the role maximum)', () => ({ durationSeconds: 7200 }), () => undefined, 'InvalidParameter.DurationSeconds', /maximum session duration/],
      ['SignatureDoesNotMatch (wrong secret)', () => ({}), () => undefined, 'SignatureDoesNotMatch', /the AccessKey secret does not match the AccessKey ID — check it/, { ...DEMO_ACCESS_KEY, accessKeySecret: 'definitely-wrong-secret' }],
      ['InvalidAccessKeyId.NotFound', () => ({}), () => undefined, 'InvalidAccessKeyId.NotFound', /does not know this AccessKey ID/, { ...DEMO_ACCESS_KEY, accessKeyId: 'LTAI5tUnknownKey99' }],
      ['Throttling.User', () => ({}), (c) => c.sts.setFaults({ throttle: {} }), 'Throttling.User', /throttling/],
      ['InternalError (500)', () => ({}), (c) => c.sts.setFaults({ fail: { status: 500 } }), 'InternalError', /internal error/],
      ['ServiceUnavailable (503 HTML body)', () => ({}), (c) => c.sts.setFaults({ fail: { status: 503, html: true } }), 'ServiceUnavailable', /without a JSON body/],
    ];
    for (const [name, opts, arrange, code, words, k] of cases) {
      it(name, async () => {
        arrange(cloud);
        const src = new StaticAccessKeyProvider((k ?? DEMO_ACCESS_KEY).accessKeyId, (k ?? DEMO_ACCESS_KEY).accessKeySecret);
        const p = new AssumeRoleProvider(src, { ...role, ...opts() });
        await assert.rejects(p.getCredentials(), (e: unknown) => {
          assert.ok(e instanceof StsError, String(e));
          assert.equal(e.code, code);
          assert.match(e.message, words);
          if (code !== 'ServiceUnavailable') {
            assert.match(String(e.requestId), /^[0-9A-F-]{36}$/);
            assert.ok(e.message.includes(String(e.requestId)));
          }
          assert.equal(statusTextFor(e), `STS: ${code}`);
          const text = JSON.stringify({ m: e.message, s: e.stsMessage, e }) + String(e.stack);
          for (const secret of [DEMO_ACCESS_KEY.accessKeySecret, DEMO_ROOT_KEY.accessKeySecret, 'definitely-wrong-secret']) assert.ok(!text.includes(secret), 'no secret in the error');
          assert.ok(!text.includes('server string to sign'), 'the server string to sign is not repeated');
          return true;
        });
      });
    }

    it('network failure and timeout are typed and retryable', async () => {
      const down = new AssumeRoleProvider(key, { ...role, stsEndpoint: 'http://127.0.0.1:1' });
      await assert.rejects(down.getCredentials(), (e: unknown) => e instanceof StsError && e.code === 'NetworkError' && e.retryable);
      cloud.sts.setFaults({ latencyMs: 2000 });
      const slow = new AssumeRoleProvider(key, { ...role, timeoutMs: 200 });
      await assert.rejects(slow.getCredentials(), (e: unknown) => e instanceof StsError && e.code === 'Timeout' && e.retryable);
    });

    it('a security token never appears in an error of a chained call', async () => {
      const c = await new AssumeRoleProvider(key, role).getCredentials();
      await assert.rejects(
        callRpc({ endpoint: cloud.sts.url, action: 'GetCallerIdentity', version: '2015-04-01', credentials: { ...c, accessKeySecret: 'wrong-one' } }),
        (e: unknown) => e instanceof PopError && e.code === 'SignatureDoesNotMatch' && e.secretMismatch === true && !JSON.stringify({ m: e.message, e }).includes(c.securityToken as string),
      );
    });
  });

  describe('validation before any request', () => {
    const bad: [string, Partial<RoleOptions>, string, RegExp][] = [
      ['role ARN of a user', { roleArn: 'acs:ram::123:user/bob' }, 'roleArn', /acs:ram::<account ID>:role\/<role name>/],
      ['empty role ARN', { roleArn: '' }, 'roleArn', /required/],
      ['session name too short', { roleSessionName: 'a' }, 'roleSessionName', /has 1 characters/],
      ['session name with a space', { roleSessionName: 'my session' }, 'roleSessionName', /A-Z a-z 0-9 \. @ _ -/],
      ['session name 65 chars', { roleSessionName: 'x'.repeat(65) }, 'roleSessionName', /2–64/],
      ['duration 899', { durationSeconds: 899 }, 'durationSeconds', /900/],
      ['duration not a number', { durationSeconds: 'soon' }, 'durationSeconds', /whole number/],
      ['policy not JSON', { policy: '{nope' }, 'policy', /not valid JSON/],
      ['policy too long', { policy: JSON.stringify({ a: 'x'.repeat(2100) }) }, 'policy', /at most 2048/],
      ['endpoint not http(s)', { stsEndpoint: 'ftp://x' }, 'stsEndpoint', /http:\/\/ or https:\/\//],
    ];
    for (const [name, o, field, words] of bad) {
      it(name, () => {
        assert.throws(() => new AssumeRoleProvider(key, { ...role, ...o }), (e: unknown) => e instanceof CredentialsConfigError && e.field === field && words.test(e.message));
      });
    }
    it('AccessKey: empty, malformed ID and empty secret say what to fix; the secret is never echoed', () => {
      assert.throws(() => new StaticAccessKeyProvider('', 's'), /AccessKey ID is empty/);
      assert.throws(() => new StaticAccessKeyProvider('LTAI 5t', 'secret-value-x'), (e: Error) => /unexpected characters/.test(e.message) && !e.message.includes('secret-value-x'));
      assert.throws(() => new StaticAccessKeyProvider('LTAI5tAbcdefgh', ''), /AccessKey secret is empty/);
    });
    it('default endpoint is https://sts.<region>.aliyuncs.com', () => {
      const p = new AssumeRoleProvider(key, { roleArn: DEMO_ROLE_ARN, roleSessionName: 'x1', region: 'cn-shanghai' });
      assert.equal(p.role.endpoint, 'https://sts.cn-shanghai.aliyuncs.com');
      assert.equal(p.role.durationSeconds, 3600);
    });
  });

  it('default chain (env vars through @alicloud/credentials), cached, single-flight, then AssumeRole', async () => {
    const saved = { id: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID, secret: process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET };
    process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = DEMO_ACCESS_KEY.accessKeyId;
    process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = DEMO_ACCESS_KEY.accessKeySecret;
    try {
      const chain = new DefaultChainProvider();
      const c = await chain.getCredentials();
      assert.equal(c.accessKeyId, DEMO_ACCESS_KEY.accessKeyId);
      assert.match(String(chain.providerName), /env/);
      const p = createCredentialProvider({ mode: 'defaultChain', role });
      assert.ok(p instanceof AssumeRoleProvider);
      const all = await Promise.all(Array.from({ length: 20 }, () => p.getCredentials()));
      assert.equal(new Set(all.map((x) => x.accessKeyId)).size, 1);
      assert.equal(cloud.sts.requests('AssumeRole').length, 1);
    } finally {
      if (saved.id === undefined) delete process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
      else process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
      else process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = saved.secret;
    }
  });

  it('default chain failure is a config error naming where it looked', async () => {
    const sdk = { getCredentials: async () => { throw new Error('unable to get credentials from any of the providers in the chain'); }, getProviderName: () => 'default' };
    await assert.rejects(new DefaultChainProvider({}, sdk).getCredentials(), (e: unknown) => e instanceof CredentialsConfigError && /ALIBABA_CLOUD_ACCESS_KEY_ID/.test(e.message));
  });
});
