import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import OpenApiCoreUtils from '@alicloud/openapi-core/dist/utils';
import { start, DEMO_ACCESS_KEY, DEMO_ROLE_ARN, DEMO_PRODUCT_KEY, DEMO_DEVICES, type LocalCloud } from '../../emulators';
import { canonicalRequest, checkV3, stringToSignV3, signV3 } from '../../emulators/pop-v3';
import { signDevice } from '../../lib/iot/signing';
import { connectClient, endAll, nextMessage } from './iot/helpers';

// Signature V3 (ACS3-HMAC-SHA256, mns-sts §15.4) on the local STS and the local IoT OpenAPI. The caller side here is
// written for this test from the documented algorithm, so the emulators' verifier is exercised by code it does not share.

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface V3Call {
  base: string;
  action: string;
  version: string;
  query?: Record<string, string>;
  form?: Record<string, string>;
  key: { accessKeyId: string; accessKeySecret: string };
  token?: string;
  date?: string;
  nonce?: string;
  /** Changes the request after it was signed. */
  after?: (r: { path: string; headers: Record<string, string>; body: string }) => void;
  /** Changes the Authorization header. */
  auth?: (a: string) => string;
}
interface Answer {
  status: number;
  json: Record<string, unknown>;
}

function acsDate(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function callV3(c: V3Call): Promise<Answer> {
  const u = new URL(c.base);
  const query = c.query ?? {};
  const body = c.form ? new URLSearchParams(c.form).toString().replace(/\+/g, '%20') : '';
  const headers: Record<string, string> = {
    host: u.host,
    'x-acs-action': c.action,
    'x-acs-version': c.version,
    'x-acs-date': c.date ?? acsDate(),
    'x-acs-signature-nonce': c.nonce ?? randomUUID(),
    'x-acs-content-sha256': createHash('sha256').update(body).digest('hex'),
    accept: 'application/json',
  };
  if (c.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (c.token) headers['x-acs-security-token'] = c.token;
  const signedNames = Object.keys(headers)
    .filter((h) => h === 'host' || h === 'content-type' || h.startsWith('x-acs-'))
    .sort();
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${rfc3986(k)}=${rfc3986(query[k])}`)
    .join('&');
  const canonical = ['POST', '/', canonicalQuery, signedNames.map((h) => `${h}:${headers[h]}\n`).join(''), signedNames.join(';'), headers['x-acs-content-sha256']].join('\n');
  const toSign = `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonical).digest('hex')}`;
  const signature = createHmac('sha256', c.key.accessKeySecret).update(toSign).digest('hex');
  const authorization = `ACS3-HMAC-SHA256 Credential=${c.key.accessKeyId},SignedHeaders=${signedNames.join(';')},Signature=${signature}`;
  const req = { path: '/' + (canonicalQuery ? `?${canonicalQuery}` : ''), headers: { ...headers, authorization: c.auth ? c.auth(authorization) : authorization }, body };
  c.after?.(req);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname, port: u.port, method: 'POST', path: req.path, headers: req.headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

describe('signature V3 (ACS3-HMAC-SHA256) on the local STS and IoT OpenAPI', () => {
  describe('test vector', () => {
    // Fixed inputs; the expected Authorization is what the official client code (@alicloud/openapi-core, used by
    // @alicloud/sts20150401) computes for them, asserted below so the pinned value is not ours alone.
    const query = {
      RoleArn: 'acs:ram::1234567890123456:role/iot-mns-writer',
      RoleSessionName: 'vector',
      DurationSeconds: '900',
      Policy: '{"Statement": [{"Action": ["mns:*"], "Effect": "Allow", "Resource": ["acs:mns:*:*:*/topics/iot~hot"]}], "Version": "1"}',
    };
    const headers = {
      host: 'sts.aliyuncs.com',
      'x-acs-action': 'AssumeRole',
      'x-acs-version': '2015-04-01',
      'x-acs-date': '2024-01-01T00:00:00Z',
      'x-acs-signature-nonce': '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
      'x-acs-content-sha256': EMPTY_SHA256,
      accept: 'application/json',
    };
    const SIGNED = ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'];
    const CANONICAL =
      'POST\n/\n' +
      'DurationSeconds=900&Policy=%7B%22Statement%22%3A%20%5B%7B%22Action%22%3A%20%5B%22mns%3A%2A%22%5D%2C%20%22Effect%22%3A%20%22Allow%22%2C%20%22Resource%22%3A%20%5B%22acs%3Amns%3A%2A%3A%2A%3A%2A%2Ftopics%2Fiot~hot%22%5D%7D%5D%2C%20%22Version%22%3A%20%221%22%7D&RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fiot-mns-writer&RoleSessionName=vector\n' +
      'host:sts.aliyuncs.com\nx-acs-action:AssumeRole\nx-acs-content-sha256:' + EMPTY_SHA256 + '\nx-acs-date:2024-01-01T00:00:00Z\n' +
      'x-acs-signature-nonce:3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\nx-acs-version:2015-04-01\n\n' +
      SIGNED.join(';') + '\n' + EMPTY_SHA256;
    const STRING_TO_SIGN = 'ACS3-HMAC-SHA256\nb3f944cec6fc408083077a5b583d5a867e996493fc3d6112dfc8b69ab7999a0c';
    const SIGNATURE = '5e297affb8fa7a2876f121b973cf1b1a9f3cedcf95aacd2af3320db9be58f56c';
    const AUTHORIZATION = `ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=${SIGNED.join(';')},Signature=${SIGNATURE}`;
    // The wire form encodes the query its own way (URLSearchParams: space as "+"); the server must re-canonicalize.
    const url = '/?' + new URLSearchParams(query).toString();

    it('the official client code signs the fixed request with the pinned Authorization', () => {
      const official = (OpenApiCoreUtils as unknown as { getAuthorization(...a: unknown[]): string }).getAuthorization(
        { method: 'POST', pathname: '/', query, headers },
        'ACS3-HMAC-SHA256',
        EMPTY_SHA256,
        'testid',
        'testsecret',
      );
      assert.equal(official, AUTHORIZATION);
    });

    it("the emulators' verifier builds the same canonical request, string to sign and signature from the wire form", () => {
      const input = { method: 'POST', url, headers: { ...headers, authorization: AUTHORIZATION }, body: Buffer.alloc(0) };
      const canonical = canonicalRequest(input, SIGNED, EMPTY_SHA256);
      assert.equal(canonical, CANONICAL);
      assert.equal(stringToSignV3(canonical), STRING_TO_SIGN);
      assert.equal(signV3('testsecret', STRING_TO_SIGN), SIGNATURE);
      const checked = checkV3(input, 60_000, Date.parse('2024-01-01T00:00:30Z'));
      assert.equal(checked.accessKeyId, 'testid');
      assert.equal(checked.action, 'AssumeRole');
      assert.equal(checked.params.get('Policy'), query.Policy);
      checked.verify('testsecret');
      assert.throws(() => checked.verify('testsecreT'), { code: 'SignatureDoesNotMatch' });
    });
  });

  describe('against the local cloud', () => {
    let cloud: LocalCloud;
    let sts: string;
    beforeEach(async () => {
      cloud = await start({ mns: false });
      sts = cloud.sts.url;
    });
    afterEach(async () => {
      await cloud.stop();
    });

    const assume = (over: Partial<V3Call> = {}) =>
      callV3({ base: sts, action: 'AssumeRole', version: '2015-04-01', query: { RoleArn: DEMO_ROLE_ARN, RoleSessionName: 'v3-test', DurationSeconds: '900' }, key: DEMO_ACCESS_KEY, ...over });

    it('STS: AssumeRole signed with V3 issues credentials, with parameters in the query or in a form body', async () => {
      const a = await assume();
      assert.equal(a.status, 200, JSON.stringify(a.json));
      assert.match(String((a.json.Credentials as Record<string, string>).AccessKeyId), /^STS\./);
      const b = await assume({ query: {}, form: { RoleArn: DEMO_ROLE_ARN, RoleSessionName: 'v3-in-body', Policy: '{"Version": "1", "Statement": []}' } });
      assert.equal(b.status, 200, JSON.stringify(b.json));
      assert.deepEqual(
        cloud.sts.requests('AssumeRole').map((e) => [e.accessKeyId, e.roleSessionName, e.status]),
        [
          [DEMO_ACCESS_KEY.accessKeyId, 'v3-test', 200],
          [DEMO_ACCESS_KEY.accessKeyId, 'v3-in-body', 200],
        ],
      );
    });

    it('STS: STS credentials sign with x-acs-security-token; without it or with another token they are refused', async () => {
      const c = (await assume()).json.Credentials as Record<string, string>;
      const key = { accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret };
      const me = await callV3({ base: sts, action: 'GetCallerIdentity', version: '2015-04-01', key, token: c.SecurityToken });
      assert.equal(me.status, 200, JSON.stringify(me.json));
      assert.equal(me.json.IdentityType, 'AssumedRoleUser');
      const none = await callV3({ base: sts, action: 'GetCallerIdentity', version: '2015-04-01', key });
      assert.deepEqual([none.status, none.json.Code], [400, 'MissingSecurityToken']);
      const other = await callV3({ base: sts, action: 'GetCallerIdentity', version: '2015-04-01', key, token: c.SecurityToken + 'x' });
      assert.deepEqual([other.status, other.json.Code], [403, 'InvalidSecurityToken.Mismatch']);
    });

    const refusals: Array<[string, Partial<V3Call>, number, string]> = [
      ['a wrong secret', { key: { ...DEMO_ACCESS_KEY, accessKeySecret: 'not-the-secret' } }, 400, 'SignatureDoesNotMatch'],
      ['a query parameter changed after signing', { after: (r) => (r.path = r.path.replace('v3-test', 'v3-evil')) }, 400, 'SignatureDoesNotMatch'],
      ['a body changed after signing (hash header kept)', { query: {}, form: { RoleArn: DEMO_ROLE_ARN, RoleSessionName: 'v3-body' }, after: (r) => (r.body = r.body.replace('v3-body', 'v3-evil')) }, 400, 'SignatureDoesNotMatch'],
      ['a body and its hash changed after signing', { query: {}, form: { RoleArn: DEMO_ROLE_ARN, RoleSessionName: 'v3-body' }, after: (r) => {
        r.body = r.body.replace('v3-body', 'v3-evil');
        r.headers['x-acs-content-sha256'] = createHash('sha256').update(r.body).digest('hex');
      } }, 400, 'SignatureDoesNotMatch'],
      ['the action header changed after signing', { after: (r) => (r.headers['x-acs-action'] = 'GetCallerIdentity') }, 400, 'SignatureDoesNotMatch'],
      ['an x-acs- header that is not signed', { after: (r) => (r.headers['x-acs-extra'] = '1') }, 400, 'IncompleteSignature'],
      ['host left out of SignedHeaders', { auth: (a) => a.replace('SignedHeaders=host;', 'SignedHeaders=') }, 400, 'IncompleteSignature'],
      ['no Signature in the Authorization header', { auth: (a) => a.replace(/,Signature=[0-9a-f]+/, '') }, 400, 'IncompleteSignature'],
      ['another algorithm name', { auth: (a) => a.replace('ACS3-HMAC-SHA256', 'ACS3-HMAC-SM3') }, 400, 'IncompleteSignature'],
      ['no x-acs-signature-nonce', { after: (r) => delete r.headers['x-acs-signature-nonce'] }, 400, 'MissingParameter'],
      ['x-acs-date 20 minutes old', { date: acsDate(Date.now() - 20 * 60_000) }, 400, 'InvalidTimeStamp.Expired'],
      ['x-acs-date not in ISO 8601 UTC', { date: 'Mon, 01 Jan 2024 00:00:00 GMT' }, 400, 'InvalidTimeStamp.Format'],
      ['an unknown AccessKey', { key: { accessKeyId: 'LTAI5tNoSuchKey', accessKeySecret: 'x' } }, 404, 'InvalidAccessKeyId.NotFound'],
    ];
    for (const [name, over, status, code] of refusals) {
      it(`STS refuses ${name}: ${status} ${code}`, async () => {
        const a = await assume(over);
        assert.deepEqual([a.status, a.json.Code], [status, code], JSON.stringify(a.json));
        assert.equal(cloud.accounts.issuedSts().length, 0, 'no credentials issued');
      });
    }

    it('STS: SignatureDoesNotMatch quotes the server string to sign, and a replayed nonce is refused', async () => {
      const bad = await assume({ key: { ...DEMO_ACCESS_KEY, accessKeySecret: 'wrong' } });
      assert.match(String(bad.json.Message), /^Specified signature is not matched with our calculation\. server string to sign is:ACS3-HMAC-SHA256\n[0-9a-f]{64}/);
      const nonce = randomUUID();
      assert.equal((await assume({ nonce })).status, 200);
      const again = await assume({ nonce });
      assert.deepEqual([again.status, again.json.Code], [400, 'SignatureNonceUsed']);
    });

    describe('IoT OpenAPI Pub', () => {
      let device: MqttClient | undefined;
      const d = DEMO_DEVICES[0];
      const topic = `/${DEMO_PRODUCT_KEY}/${d.deviceName}/user/get`;
      beforeEach(async () => {
        device = await connectClient(cloud.iot!.mqttUrl, signDevice(d));
        await device.subscribeAsync(topic, { qos: 1 });
      });
      afterEach(async () => {
        await endAll([device]);
      });
      const pub = (over: Partial<V3Call> = {}, text = 'v3 down') =>
        callV3({
          base: cloud.iot!.openApiUrl,
          action: 'Pub',
          version: '2018-01-20',
          query: { ProductKey: DEMO_PRODUCT_KEY, TopicFullName: topic, Qos: '1' },
          form: { MessageContent: Buffer.from(text).toString('base64') },
          key: DEMO_ACCESS_KEY,
          ...over,
        });

      it('publishes a V3-signed Pub (MessageContent in the form body) to the subscribed device', async () => {
        const got = nextMessage(device!, topic);
        const a = await pub();
        assert.equal(a.status, 200, JSON.stringify(a.json));
        assert.equal(a.json.Success, true);
        assert.equal((await got).payload.toString(), 'v3 down');
      });

      it('refuses a wrong secret, a tampered MessageContent and a replayed nonce, and delivers nothing for them', async () => {
        const bad = await pub({ key: { ...DEMO_ACCESS_KEY, accessKeySecret: 'wrong' } });
        assert.deepEqual([bad.status, bad.json.Code], [400, 'SignatureDoesNotMatch']);
        const tampered = await pub({
          after: (r) => {
            r.body = `MessageContent=${encodeURIComponent(Buffer.from('evil').toString('base64'))}`;
            r.headers['x-acs-content-sha256'] = createHash('sha256').update(r.body).digest('hex');
          },
        });
        assert.deepEqual([tampered.status, tampered.json.Code], [400, 'SignatureDoesNotMatch']);
        const nonce = randomUUID();
        assert.equal((await pub({ nonce }, 'first')).json.Success, true);
        const again = await pub({ nonce }, 'first');
        assert.deepEqual([again.status, again.json.Code], [400, 'SignatureNonceUsed']);
        assert.deepEqual(
          cloud.iot!.openApi!.pubCalls().map((c) => c.payload.toString()),
          ['first'],
        );
      });

      it('STS credentials from the local STS may Pub with x-acs-security-token', async () => {
        const c = (await assume()).json.Credentials as Record<string, string>;
        const key = { accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret };
        const none = await pub({ key });
        assert.deepEqual([none.status, none.json.Code], [400, 'MissingSecurityToken']);
        const got = nextMessage(device!, topic);
        const ok = await pub({ key, token: c.SecurityToken }, 'via sts');
        assert.equal(ok.json.Success, true, JSON.stringify(ok.json));
        assert.equal((await got).payload.toString(), 'via sts');
      });
    });
  });
});
