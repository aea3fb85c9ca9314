// The local MNS verifies Signature V2 exactly as spec §4 says: vectors M1–M8 at the unit level and on the wire
// (the server clock is moved to each vector's Date with the clock-offset fault), then the validation order of §4.4.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AccountBook } from '../../../emulators/accounts';
import { startMns, stringToSign, signV2 } from '../../../emulators/mns';
import type { MnsEmulator } from '../../../emulators/mns';
import { ACCOUNT_ID, AK, SK, NS, rawRequest, signedHeaders, signedRequest, waitForEvent, xmlField } from './helpers';

const D2015 = 'Thu, 09 Jul 2015 03:01:34 GMT';
const D2025 = 'Tue, 03 Jun 2025 11:23:48 GMT';
const DDEC = 'Wed, 03 Dec 2025 11:23:48 GMT';
const M7_BODY = `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="${NS}"><MessageBody>eyJ0ZW1wIjoyMS41fQ==</MessageBody><MessageTag>telemetry</MessageTag></Message>`;

interface Vector {
  id: string;
  secret: string;
  method: string;
  headers: Record<string, string>;
  resource: string;
  toSign: string;
  signature: string;
}

const VECTORS: Vector[] = [
  { id: 'M1', secret: 'TestAccessSecret', method: 'GET', headers: { Date: D2015, 'x-mns-version': '2015-06-06' }, resource: '/MyQueue',
    toSign: `GET\n\n\n${D2015}\nx-mns-version:2015-06-06\n/MyQueue`, signature: 'uwx3yeWoILzgmvesW0BQSgfM7b8=' },
  { id: 'M2', secret: 'accessKeySecret111', method: 'PUT', headers: { 'Content-Type': 'text/xml;charset=UTF-8', Date: D2025, 'x-mns-version': '2015-06-06' },
    resource: '/queues/TestQueue', toSign: `PUT\n\ntext/xml;charset=UTF-8\n${D2025}\nx-mns-version:2015-06-06\n/queues/TestQueue`, signature: 'HCSlBi5KuXGNf06tZKFiQlNDt4c=' },
  { id: 'M3', secret: 'skkkkkkk1111111111', method: 'PUT', headers: { 'Content-Type': 'text/xml;charset=UTF-8', Date: D2025, 'x-mns-version': '2015-06-06' },
    resource: '/queues/TestQueue', toSign: `PUT\n\ntext/xml;charset=UTF-8\n${D2025}\nx-mns-version:2015-06-06\n/queues/TestQueue`, signature: 'KvUgeFIzq+V37Fw7Nb8BKQEncZU=' },
  { id: 'M4', secret: 'sk1', method: 'POST', headers: { Date: D2025, 'x-mns-abcDEF': 'abcDEF', 'User-Agent': 'not-signed' }, resource: '/queues/TestQueue',
    toSign: `POST\n\n\n${D2025}\nx-mns-abcdef:abcDEF\n/queues/TestQueue`, signature: 'cAThPWnbphg3hDe3ZHDADTgkgyE=' },
  { id: 'M5', secret: 'sk-kkkkkk1111111111', method: 'GET', headers: { Date: DDEC, 'X-MNS-abcDEF': 'KKKkkk' }, resource: '/queues/TestQueue123456',
    toSign: `GET\n\n\n${DDEC}\nx-mns-abcdef:KKKkkk\n/queues/TestQueue123456`, signature: 'lPxnfNA+Qo/aj18MYJUnRMqa84I=' },
  { id: 'M6', secret: 'testSk', method: 'GET', headers: { Date: D2025 }, resource: '/queues/TestQueue',
    toSign: `GET\n\n\n${D2025}\n/queues/TestQueue`, signature: 'uDJQXbk2xOhH95MDXmgbAGdtyE4=' },
  { id: 'M7', secret: 'TestAccessSecret', method: 'POST',
    headers: { 'Content-MD5': 'N2M0OTVhZjk1NzM4NzNmNDRhMTIzN2U2NzA0MDFlYjQ=', 'Content-Type': 'text/xml', Date: D2015, 'x-mns-date': D2015, 'x-mns-version': '2015-06-06', 'security-token': 'CAIS-demo-token' },
    resource: '/topics/iot-telemetry/messages',
    toSign: `POST\nN2M0OTVhZjk1NzM4NzNmNDRhMTIzN2U2NzA0MDFlYjQ=\ntext/xml\n${D2015}\nx-mns-date:${D2015}\nx-mns-version:2015-06-06\n/topics/iot-telemetry/messages`,
    signature: 'sBuksy9Fi/+EMoUSvH85fm1LLwI=' },
  { id: 'M8', secret: 'TestAccessSecret', method: 'GET', headers: { Date: D2015, 'x-mns-version': '2015-06-06' }, resource: '/queues/q1/messages?waitseconds=10',
    toSign: `GET\n\n\n${D2015}\nx-mns-version:2015-06-06\n/queues/q1/messages?waitseconds=10`, signature: '8bEjWiZC3zrNuZhr06x9kU7089Q=' },
];

describe('local MNS: signature V2 (spec §4)', () => {
  describe('vectors M1–M8 through the verifier', () => {
    for (const v of VECTORS) {
      it(`${v.id}: string to sign and signature match the spec`, () => {
        assert.equal(stringToSign(v.method, v.headers, v.resource), v.toSign);
        assert.equal(signV2(v.secret, v.toSign), v.signature);
      });
    }
  });

  describe('vectors on the wire', () => {
    let mns: MnsEmulator;
    let accounts: AccountBook;
    const at = (date: string): void => {
      mns.faults.clockOffsetMs = Date.parse(date) - Date.now();
    };
    const send = (v: Vector, accessKeyId: string, signature = v.signature, body?: string): ReturnType<typeof rawRequest> =>
      rawRequest(mns.url, v.method, v.resource, { ...v.headers, Authorization: `MNS ${accessKeyId}:${signature}` }, body);
    const vector = (id: string): Vector => VECTORS.find((v) => v.id === id)!;

    beforeEach(async () => {
      accounts = new AccountBook();
      accounts.addAccessKey({ accessKeyId: 'TestAccessID', accessKeySecret: 'TestAccessSecret', accountId: ACCOUNT_ID });
      accounts.addAccessKey({ accessKeyId: 'ak-m2', accessKeySecret: 'accessKeySecret111', accountId: ACCOUNT_ID });
      accounts.addAccessKey({ accessKeyId: 'ak-m3', accessKeySecret: 'skkkkkkk1111111111', accountId: ACCOUNT_ID });
      accounts.addAccessKey({ accessKeyId: 'ak1', accessKeySecret: 'sk1', accountId: ACCOUNT_ID });
      mns = await startMns({ accounts, accountId: ACCOUNT_ID });
    });
    afterEach(async () => {
      await mns.stop();
    });

    it('M1 is accepted (the signature passes; /MyQueue itself is no MNS operation) and a changed signature is refused', async () => {
      at(D2015);
      const ok = await send(vector('M1'), 'TestAccessID');
      assert.equal(xmlField(ok.body, 'Code'), 'InvalidRequestURL');
      assert.equal(ok.status, 400);
      const bad = await send(vector('M1'), 'TestAccessID', 'uwx3yeWoILzgmvesW0BQSgfM7b9=');
      assert.equal(bad.status, 403);
      assert.equal(xmlField(bad.body, 'Code'), 'SignatureDoesNotMatch');
    });

    it('M2 creates the queue, M3 (same request, another key) finds it identical, and M3 signed for the wrong key is refused', async () => {
      at(D2025);
      const created = await send(vector('M2'), 'ak-m2');
      assert.equal(created.status, 201, created.body);
      assert.equal(created.headers.location, `http://${ACCOUNT_ID}.mns.cn-hangzhou.aliyuncs.com/queues/TestQueue`);
      const again = await send(vector('M3'), 'ak-m3');
      assert.equal(again.status, 204, again.body);
      const crossed = await send(vector('M3'), 'ak-m2');
      assert.equal(crossed.status, 403);
      assert.equal(xmlField(crossed.body, 'Code'), 'SignatureDoesNotMatch');
    });

    it('M4–M6 carry no x-mns-version, so the server stops at MissingVersionHeader before looking at keys (order of §4.4)', async () => {
      for (const id of ['M4', 'M5', 'M6']) {
        const v = vector(id);
        at(v.headers.Date);
        const res = await send(v, 'no-such-key');
        assert.equal(res.status, 400, id);
        assert.equal(xmlField(res.body, 'Code'), 'MissingVersionHeader', id);
      }
    });

    it('M7 (the SDK publish with an STS token) is accepted and stores the body with its MD5', async () => {
      at(D2015);
      accounts.recordSts({
        accessKeyId: 'TestAccessID', accessKeySecret: 'TestAccessSecret', accountId: ACCOUNT_ID, securityToken: 'CAIS-demo-token',
        expiresAt: Date.parse(D2015) + 3600_000, roleArn: `acs:ram::${ACCOUNT_ID}:role/mns-writer`, roleSessionName: 'node-red',
      });
      mns.createTopic('iot-telemetry');
      assert.equal(Buffer.byteLength(M7_BODY), 178);
      const res = await send(vector('M7'), 'TestAccessID', undefined, M7_BODY);
      assert.equal(res.status, 201, res.body);
      assert.equal(xmlField(res.body, 'MessageBodyMD5'), '27EF0414E8CF59298D03BF961BD3ACE5');
      assert.match(xmlField(res.body, 'MessageId') ?? '', /^[0-9A-F]{16}-1-[0-9A-F]+-\d{9}$/);
      const [published] = mns.published('iot-telemetry');
      assert.equal(published.body, 'eyJ0ZW1wIjoyMS41fQ==');
      assert.equal(published.tag, 'telemetry');

      const noToken = { ...vector('M7'), headers: { ...vector('M7').headers } };
      delete noToken.headers['security-token'];
      const refused = await send(noToken, 'TestAccessID', undefined, M7_BODY);
      assert.equal(refused.status, 403);
      assert.equal(xmlField(refused.body, 'Code'), 'AccessDenied');
    });

    it('M8 (query in the resource) receives the waiting message', async () => {
      at(D2015);
      mns.createQueue('q1');
      mns.send('q1', 'hello');
      const res = await send(vector('M8'), 'TestAccessID');
      assert.equal(res.status, 200, res.body);
      assert.equal(xmlField(res.body, 'MessageBody'), 'hello');
      assert.equal(xmlField(res.body, 'MessageBodyMD5'), createHash('md5').update('hello').digest('hex').toUpperCase());
    });
  });

  describe('validation order and errors (spec §4.4, §7)', () => {
    let mns: MnsEmulator;
    let accounts: AccountBook;
    beforeEach(async () => {
      accounts = new AccountBook();
      accounts.addAccessKey({ accessKeyId: AK, accessKeySecret: SK, accountId: ACCOUNT_ID });
      mns = await startMns({ accounts, accountId: ACCOUNT_ID, queues: [{ name: 'orders' }] });
    });
    afterEach(async () => {
      await mns.stop();
    });

    const expectError = async (res: Promise<{ status: number; body: string; headers: Record<string, unknown> }>, status: number, code: string): Promise<void> => {
      const r = await res;
      assert.equal(r.status, status, r.body);
      assert.equal(xmlField(r.body, 'Code'), code, r.body);
      assert.match(r.body, /<Error xmlns="http:\/\/mns\.aliyuncs\.com\/doc\/v1\/">/);
      assert.ok(xmlField(r.body, 'Message'));
      assert.equal(xmlField(r.body, 'RequestId'), r.headers['x-mns-request-id']);
      assert.match(String(r.headers['x-mns-request-id']), /^[0-9A-F]{24}$/);
      assert.equal(xmlField(r.body, 'HostId'), `http://${ACCOUNT_ID}.mns.cn-hangzhou.aliyuncs.com`);
    };
    const target = '/queues/orders/messages';
    const sendBody = `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="${NS}"><MessageBody>hi</MessageBody></Message>`;
    const headersWithout = (name: string): Record<string, string> => {
      const h = signedHeaders('GET', target, undefined);
      delete h[name];
      return h;
    };

    it('answers each missing or broken header with its own code', async () => {
      await expectError(rawRequest(mns.url, 'GET', target, headersWithout('Authorization')), 400, 'MissingAuthorizationHeader');
      await expectError(rawRequest(mns.url, 'GET', target, { ...signedHeaders('GET', target, undefined), Authorization: 'Basic abc' }), 400, 'InvalidAuthorizationHeader');
      await expectError(rawRequest(mns.url, 'GET', target, headersWithout('Date')), 400, 'MissingDateHeader');
      await expectError(rawRequest(mns.url, 'GET', target, { ...signedHeaders('GET', target, undefined), Date: 'yesterday' }), 400, 'InvalidDateHeader');
      const old = new Date(Date.now() - 16 * 60_000).toUTCString();
      await expectError(signedRequest(mns.url, 'GET', target, undefined, { date: old }), 408, 'TimeExpired');
      await expectError(rawRequest(mns.url, 'GET', target, headersWithout('x-mns-version')), 400, 'MissingVersionHeader');
      await expectError(signedRequest(mns.url, 'GET', target, undefined, { accessKeyId: 'LTAI-unknown' }), 403, 'InvalidAccessKeyId');
      const mismatch = waitForEvent<{ stringToSign: string }>(mns.events, 'signature-mismatch');
      await expectError(signedRequest(mns.url, 'GET', target, undefined, { accessKeySecret: 'wrong' }), 403, 'SignatureDoesNotMatch');
      assert.match((await mismatch).stringToSign, /^GET\n\n\n.+ GMT\nx-mns-version:2015-06-06\n\/queues\/orders\/messages$/);
    });

    it('accepts a Date 14 minutes off and x-mns-date alone, and signs the raw request-target (query case kept)', async () => {
      const near = new Date(Date.now() - 14 * 60_000).toUTCString();
      mns.send('orders', 'one');
      const ok = await signedRequest(mns.url, 'GET', '/queues/orders/messages?peekOnly=true', undefined, { date: near });
      assert.equal(ok.status, 200, ok.body);
      const h = signedHeaders('GET', target, undefined, { headers: { 'x-mns-date': new Date().toUTCString() } });
      // Re-sign without Date: the DATE line is then x-mns-date.
      const date = h['x-mns-date'];
      delete h.Date;
      const toSign = `GET\n\n\n${date}\nx-mns-date:${date}\nx-mns-version:2015-06-06\n${target}`;
      h.Authorization = `MNS ${AK}:${signV2(SK, toSign)}`;
      const viaMnsDate = await rawRequest(mns.url, 'GET', target, h);
      assert.equal(viaMnsDate.status, 200, viaMnsDate.body);
    });

    it('checks Content-MD5 in both encodings (or none) and refuses a wrong one with InvalidDegist', async () => {
      const withMd5 = (md5: string): Record<string, string> => {
        const h = signedHeaders('POST', target, sendBody, { contentMd5: false });
        h['Content-MD5'] = md5;
        h.Authorization = `MNS ${AK}:${signV2(SK, `POST\n${md5}\ntext/xml\n${h.Date}\nx-mns-version:2015-06-06\n${target}`)}`;
        return h;
      };
      const hexForm = await signedRequest(mns.url, 'POST', target, sendBody);
      assert.equal(hexForm.status, 201, hexForm.body);
      const none = await signedRequest(mns.url, 'POST', target, sendBody, { contentMd5: false });
      assert.equal(none.status, 201, none.body);
      const rfc = await rawRequest(mns.url, 'POST', target, withMd5(createHash('md5').update(sendBody).digest('base64')), sendBody);
      assert.equal(rfc.status, 201, rfc.body);
      const wrong = Buffer.from(createHash('md5').update('other').digest('hex')).toString('base64');
      await expectError(rawRequest(mns.url, 'POST', target, withMd5(wrong), sendBody), 400, 'InvalidDegist');
      assert.equal(mns.messages('orders').length, 3);
    });

    it('refuses malformed XML and foreign namespaces, accepts the namespace without the trailing slash', async () => {
      const unescaped = `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="${NS}"><MessageBody>a<b & "c"</MessageBody></Message>`;
      await expectError(signedRequest(mns.url, 'POST', target, unescaped), 400, 'MalformedXML');
      await expectError(signedRequest(mns.url, 'POST', target, '<Message><MessageBody>x</MessageBody></Message>'), 400, 'MalformedXML');
      await expectError(signedRequest(mns.url, 'POST', target, '<Message xmlns="urn:other"><MessageBody>x</MessageBody></Message>'), 400, 'MalformedXML');
      const javaStyle = await signedRequest(mns.url, 'POST', target, '<Message xmlns="http://mns.aliyuncs.com/doc/v1"><MessageBody>x</MessageBody><Unknown>ignored</Unknown></Message>');
      assert.equal(javaStyle.status, 201, javaStyle.body);
      await expectError(signedRequest(mns.url, 'POST', target, `<Message xmlns="${NS}"><MessageBody></MessageBody></Message>`), 400, 'InvalidArgument');
      await expectError(signedRequest(mns.url, 'POST', target, `<Message xmlns="${NS}"><MessageBody>x</MessageBody><Priority>17</Priority></Message>`), 400, 'InvalidArgument');
    });

    it('refuses a key of another account with AccessDenied', async () => {
      accounts.addAccessKey({ accessKeyId: 'LTAI-other', accessKeySecret: 'other-secret', accountId: '9999999999999999' });
      await expectError(signedRequest(mns.url, 'GET', target, undefined, { accessKeyId: 'LTAI-other', accessKeySecret: 'other-secret' }), 403, 'AccessDenied');
    });
  });
});
