// Our MNS data-plane client against the official @alicloud/mns (a devDependency kept as the oracle, spec §15.3):
// the same operations go through both to one capturing HTTP server, with the clock pinned, and the requests must
// be the same — method, path and query, every signed header and the Authorization, security-token, body — and
// both must read the same answers alike.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MnsClient, bodyMd5, escapeXml } from '../../lib/mns';

interface Captured {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

interface SdkResponse<B> { code: number; body: B }
interface SdkClient {
  publishMessage(topic: string, params: Record<string, unknown>): Promise<SdkResponse<{ MessageId: string }>>;
  receiveMessage(queue: string, waitSeconds?: number): Promise<SdkResponse<Record<string, string>>>;
  batchReceiveMessage(queue: string, n: number, waitSeconds?: number): Promise<SdkResponse<Array<Record<string, string>>>>;
  deleteMessage(queue: string, handle: string): Promise<SdkResponse<unknown>>;
  batchDeleteMessage(queue: string, handles: string[]): Promise<SdkResponse<Array<Record<string, string>> | undefined>>;
  changeMessageVisibility(queue: string, handle: string, seconds: number): Promise<SdkResponse<Record<string, string>>>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MNSClient = require('@alicloud/mns') as new (accountId: string, opts: Record<string, unknown>) => SdkClient;

const NS = 'http://mns.aliyuncs.com/doc/v1/';
const PUBLISHED = '{"a":"x < y & \'z\'"}';
const PINNED = 'Thu, 09 Jul 2015 03:01:34 GMT';
const CREDS = { accessKeyId: 'STS.parity', accessKeySecret: 'parity-secret', securityToken: 'CAIS-parity-token' };
/** Headers that are not part of the request's meaning (transport details of each HTTP stack). */
const TRANSPORT = new Set(['host', 'connection', 'user-agent', 'accept', 'accept-encoding', 'transfer-encoding']);

function message(id: string, handle: string, body: string): string {
  return `<Message><MessageId>${id}</MessageId><ReceiptHandle>${handle}</ReceiptHandle><MessageBodyMD5>0</MessageBodyMD5><MessageBody>${body}</MessageBody><EnqueueTime>1</EnqueueTime><NextVisibleTime>2</NextVisibleTime><FirstDequeueTime>1</FirstDequeueTime><DequeueCount>3</DequeueCount><Priority>8</Priority></Message>`;
}

/** A canned MNS answer for each request the test sends. */
function answer(req: Captured, res: http.ServerResponse): void {
  const xml = (status: number, text: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml;charset=utf-8', 'x-mns-request-id': 'REQ1' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>${text}`);
  };
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST') return xml(201, `<Message xmlns="${NS}"><MessageId>PUB1</MessageId><MessageBodyMD5>${bodyMd5(PUBLISHED)}</MessageBodyMD5></Message>`);
  if (req.method === 'GET' && url.searchParams.has('numOfMessages')) {
    return xml(200, `<Messages xmlns="${NS}">${message('M1', 'h-1', 'a &lt; b')}${message('M2', 'h-2', '{"n":1}')}</Messages>`);
  }
  if (req.method === 'GET') return xml(200, message('M0', 'h-0', 'one').replace('<Message>', `<Message xmlns="${NS}">`));
  if (req.method === 'PUT') return xml(200, `<ChangeVisibility xmlns="${NS}"><ReceiptHandle>h-new</ReceiptHandle><NextVisibleTime>99</NextVisibleTime></ChangeVisibility>`);
  if (req.method === 'DELETE' && req.body.includes('h-stale')) {
    return xml(404, `<Errors xmlns="${NS}"><Error><ErrorCode>ReceiptHandleError</ErrorCode><ErrorMessage>stale</ErrorMessage><ReceiptHandle>h-stale</ReceiptHandle></Error></Errors>`);
  }
  res.writeHead(204, { 'x-mns-request-id': 'REQ1' });
  res.end();
}

describe('lib/mns client sends what @alicloud/mns sends (capturing server, pinned clock)', function () {
  let server: http.Server;
  let captured: Captured[] = [];
  let endpoint: string;
  let ours: MnsClient;
  let sdk: SdkClient;
  const realToUTCString = Date.prototype.toUTCString;
  const realToGMTString = (Date.prototype as unknown as { toGMTString: () => string }).toGMTString;

  before(async function () {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const c: Captured = { method: req.method ?? '', url: req.url ?? '', headers: {}, body: Buffer.concat(chunks).toString('utf8') };
        for (const [k, v] of Object.entries(req.headers)) if (!TRANSPORT.has(k) && typeof v === 'string') c.headers[k] = v;
        captured.push(c);
        answer(c, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ours = new MnsClient({ endpoint, credentials: { getCredentials: async () => CREDS } });
    sdk = new MNSClient('1234567890123456', { endpoint, ...CREDS });
    // Both sign the Date: pin what both read it from, so the signatures must be equal, not merely valid.
    Date.prototype.toUTCString = () => PINNED;
    (Date.prototype as unknown as { toGMTString: () => string }).toGMTString = () => PINNED;
  });
  after(async function () {
    Date.prototype.toUTCString = realToUTCString;
    (Date.prototype as unknown as { toGMTString: () => string }).toGMTString = realToGMTString;
    ours.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(function () {
    captured = [];
  });

  /** Runs one operation through each client; returns both results after checking the requests are the same. */
  async function same<A, B>(viaSdk: () => Promise<A>, viaOurs: () => Promise<B>): Promise<[A, B, Captured]> {
    const a = await viaSdk();
    const b = await viaOurs();
    assert.equal(captured.length, 2, 'each client sends exactly one request');
    const [fromSdk, fromOurs] = captured;
    assert.equal(fromOurs.method, fromSdk.method);
    assert.equal(fromOurs.url, fromSdk.url);
    assert.equal(fromOurs.body, fromSdk.body);
    assert.deepEqual(fromOurs.headers, fromSdk.headers);
    assert.match(fromOurs.headers.authorization, /^MNS STS\.parity:[A-Za-z0-9+/]{27}=$/);
    assert.equal(fromOurs.headers['security-token'], CREDS.securityToken);
    return [a, b, fromOurs];
  }

  it('PublishMessage (body already escaped for the SDK, which escapes nothing)', async function () {
    const [a, b, req] = await same(
      () => sdk.publishMessage('t1', { MessageBody: escapeXml(PUBLISHED), MessageTag: 'tag1' }),
      () => ours.publishMessage('t1', PUBLISHED, 'tag1'),
    );
    assert.equal(req.method, 'POST');
    assert.equal(a.body.MessageId, 'PUB1');
    assert.equal(b.messageId, 'PUB1');
  });

  it('ReceiveMessage with and without waitseconds', async function () {
    const [a, b, req] = await same(() => sdk.receiveMessage('q1', 7), () => ours.receiveMessage('q1', 7));
    assert.equal(req.url, '/queues/q1/messages?waitseconds=7');
    assert.equal(b?.body, a.body.MessageBody);
    assert.equal(b?.receiptHandle, 'h-0');
    captured = [];
    await same(() => sdk.receiveMessage('q1'), () => ours.receiveMessage('q1'));
  });

  it('BatchReceiveMessage with long polling', async function () {
    const [a, b, req] = await same(() => sdk.batchReceiveMessage('q1', 16, 30), () => ours.receiveMessages('q1', 30, 16));
    assert.equal(req.url, '/queues/q1/messages?numOfMessages=16&waitseconds=30');
    assert.deepEqual(b.map((m) => [m.messageId, m.receiptHandle, m.body, m.dequeueCount]), a.body.map((m) => [m.MessageId, m.ReceiptHandle, m.MessageBody, Number(m.DequeueCount)]));
    assert.equal(b[0].body, 'a < b');
  });

  it('DeleteMessage', async function () {
    const [, b, req] = await same(() => sdk.deleteMessage('q1', 'h-1'), () => ours.deleteMessages('q1', ['h-1']));
    assert.equal(req.url, '/queues/q1/messages?ReceiptHandle=h-1');
    assert.deepEqual(b, []);
  });

  it('BatchDeleteMessage, and its per-item error list read alike', async function () {
    const [, ok] = await same(() => sdk.batchDeleteMessage('q1', ['h-1', 'h-2']), () => ours.deleteMessages('q1', ['h-1', 'h-2']));
    assert.deepEqual(ok, []);
    captured = [];
    const [a, b] = await same(() => sdk.batchDeleteMessage('q1', ['h-1', 'h-stale']), () => ours.deleteMessages('q1', ['h-1', 'h-stale']));
    assert.deepEqual(b, [{ receiptHandle: 'h-stale', code: 'ReceiptHandleError', message: 'stale' }]);
    assert.deepEqual(a.body?.map((e) => [e.ReceiptHandle, e.ErrorCode]), [['h-stale', 'ReceiptHandleError']]);
  });

  it('ChangeMessageVisibility', async function () {
    const [a, b, req] = await same(() => sdk.changeMessageVisibility('q1', 'h-1', 45), () => ours.changeVisibility('q1', 'h-1', 45));
    assert.equal(req.url, '/queues/q1/messages?receiptHandle=h-1&visibilityTimeout=45');
    assert.deepEqual(b, { receiptHandle: a.body.ReceiptHandle, nextVisibleTime: Number(a.body.NextVisibleTime) });
  });
});
