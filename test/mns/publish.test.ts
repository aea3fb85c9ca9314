// The own PublishMessage call against a scripted HTTP server on 127.0.0.1: answers the local MNS never gives
// (a 201 without MessageId, a wrong MessageBodyMD5, an answer cut off, an oversize answer) and aborting.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MnsClient, MnsError, bodyMd5 } from '../../lib/mns';
import { staticProvider } from './support';

type Script = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

describe('lib/mns own PublishMessage call against odd answers', function () {
  let server: http.Server;
  let script: Script;
  let client: MnsClient;
  const seen: Array<{ headers: http.IncomingHttpHeaders; url: string; body: string }> = [];

  beforeEach(async function () {
    seen.length = 0;
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ headers: req.headers, url: req.url ?? '', body });
        script(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new MnsClient({ endpoint: `http://127.0.0.1:${port}`, credentials: staticProvider(), timeoutMs: 2000 });
  });
  afterEach(async function () {
    client.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const xml = (res: http.ServerResponse, status: number, text: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml;charset=utf-8', 'x-mns-request-id': 'REQ-9' });
    res.end(text);
  };

  it('sends the signed request MNS expects and returns the answer', async function () {
    script = (_req, res) => xml(res, 201, `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageId>M-1</MessageId><MessageBodyMD5>${bodyMd5('a<b')}</MessageBodyMD5></Message>`);
    const r = await client.publishMessage('t1', 'a<b', 'tag');
    assert.deepEqual(r, { messageId: 'M-1', bodyMD5: bodyMd5('a<b'), requestId: 'REQ-9' });
    const [s] = seen;
    assert.equal(s.url, '/topics/t1/messages');
    assert.equal(s.body, '<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>a&lt;b</MessageBody><MessageTag>tag</MessageTag></Message>');
    assert.equal(s.headers['content-type'], 'text/xml');
    assert.equal(s.headers['x-mns-version'], '2015-06-06');
    assert.equal(s.headers['x-mns-date'], s.headers.date);
    assert.match(String(s.headers.authorization), /^MNS LTAImnstest01:[A-Za-z0-9+/]{27}=$/);
    assert.equal(s.headers['security-token'], undefined, 'no token for AccessKey credentials');
  });

  it('a 201 without MessageId is InvalidResponse', async function () {
    script = (_req, res) => xml(res, 201, '<Message><MessageBodyMD5>X</MessageBodyMD5></Message>');
    await assert.rejects(client.publishMessage('t1', 'm'), (e: MnsError) => e.code === 'InvalidResponse' && e.status === 201 && e.retryable && e.requestId === 'REQ-9');
  });

  it('a MessageBodyMD5 other than the body sent is BodyMD5Mismatch, retryable', async function () {
    script = (_req, res) => xml(res, 201, `<Message><MessageId>M-2</MessageId><MessageBodyMD5>${bodyMd5('other')}</MessageBodyMD5></Message>`);
    await assert.rejects(client.publishMessage('t1', 'm'), (e: MnsError) => e.code === 'BodyMD5Mismatch' && e.retryable && /M-2 is corrupt/.test(e.message));
  });

  it('nested XML in an answer is InvalidResponse, not guessed at', async function () {
    script = (_req, res) => xml(res, 201, '<Message><MessageId><Inner>M-3</Inner></MessageId></Message>');
    await assert.rejects(client.publishMessage('t1', 'm'), (e: MnsError) => e.code === 'InvalidResponse');
  });

  it('an answer cut off mid-body is a retryable NetworkError', async function () {
    script = (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/xml', 'content-length': '500' });
      res.write('<Message><MessageId>M-4</Mess', () => res.socket?.destroy());
    };
    await assert.rejects(client.publishMessage('t1', 'm'), (e: MnsError) => e.code === 'NetworkError' && e.status === 0 && e.retryable);
  });

  it('an oversize answer is InvalidResponse', async function () {
    script = (_req, res) => xml(res, 201, `<Message><MessageId>${'x'.repeat(100_000)}</MessageId></Message>`);
    await assert.rejects(client.publishMessage('t1', 'm'), (e: MnsError) => e.code === 'InvalidResponse' && /over 65536 bytes/.test(e.message));
  });

  it('abortInFlight ends a publish that has no answer yet, and the client keeps working', async function () {
    let answered = false;
    script = (_req, res) => {
      if (seen.length === 1) {
        queueMicrotask(() => client.abortInFlight());
        return; // never answers the first
      }
      answered = true;
      xml(res, 201, `<Message><MessageId>M-5</MessageId><MessageBodyMD5>${bodyMd5('m')}</MessageBodyMD5></Message>`);
    };
    await assert.rejects(client.publishMessage('t1', 'm'), (e: MnsError) => e.code === 'Aborted' && e.retryable);
    assert.equal((await client.publishMessage('t1', 'm')).messageId, 'M-5');
    assert.ok(answered);
  });
});
