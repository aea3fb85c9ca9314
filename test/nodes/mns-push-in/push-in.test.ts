// The aliyun-mns-push-in node in a real Node-RED runtime (node-red-node-test-helper), with the local MNS pushing
// to it over HTTP for topic subscriptions in each format: unwrapping and metadata, 204 only after the flow
// finished, an error answer (and so an MNS retry) when the flow failed, and forged requests refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, createSign } from 'node:crypto';
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import pushInNode from '../../../nodes/aliyun-mns-push-in/aliyun-mns-push-in';
import pushInEn from '../../../nodes/aliyun-mns-push-in/locales/en-US/aliyun-mns-push-in.json';
import { startLocalMns, waitForEvent, type LocalMns } from '../../mns/support';
import { Collector, waitForStatus } from '../mns-topic-out/support';

helper.init(require.resolve('node-red'));

const PATH = '/mns/push';

function translate(key: string, subs?: Record<string, unknown>): string {
  let v: unknown = pushInEn;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string') return `MISSING-I18N:${key}`;
  return v.replace(/__(\w+)__/g, (_m, name: string) => (subs && name in subs ? String(subs[name]) : `__${name}__`));
}

/** The node module with real catalogs and hooks; captures RED.httpNode so that a test server can serve it. */
let httpNode: http.RequestListener | undefined;
function modules(RED: NodeAPI): void {
  (RED as unknown as { _: typeof translate })._ = translate;
  const api = RED as unknown as { hooks?: unknown; httpNode: http.RequestListener };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (!api.hooks) api.hooks = (require('@node-red/util') as { hooks: unknown }).hooks;
  httpNode = api.httpNode;
  pushInNode(RED);
}
/* eslint-disable @typescript-eslint/no-require-imports */
const nodes = [
  modules,
  require('@node-red/nodes/core/function/10-function.js'),
  require('@node-red/nodes/core/common/25-catch.js'),
  require('@node-red/nodes/core/common/90-comment.js'),
] as Array<(RED: NodeAPI) => void>;
/* eslint-enable @typescript-eslint/no-require-imports */

interface PushMsg {
  payload: unknown;
  topic: string;
  mns: { path: string; messageId: string; requestId: string; messageTag?: string; envelope: string; notification?: Record<string, unknown> };
}

interface Sent {
  status: number;
  text: string;
}

function post(base: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('aliyun-mns-push-in node', function () {
  let local: LocalMns;
  let server: http.Server;
  let base: string;

  beforeEach(async function () {
    local = await startLocalMns({ push: { timeScale: 0.001, timeoutMs: 10_000 } });
    helper.settings({ aliyunMnsPush: { trustedCertHosts: [new URL(local.mns.certUrl).host] } } as Record<string, unknown>);
  });
  afterEach(async function () {
    await helper.unload();
    helper.settings({});
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections?.();
    await local.mns.stop();
  });

  async function load(func = 'return msg;', extra: Record<string, unknown> = {}): Promise<Collector<PushMsg>> {
    await helper.load(nodes, [
      { id: 'tab', type: 'tab', label: 'test' },
      { id: 'in', type: 'aliyun-mns-push-in', z: 'tab', url: PATH, payloadFormat: 'auto', ackTimeout: '5', concurrency: '16', wires: [['fn']], ...extra },
      { id: 'fn', type: 'function', z: 'tab', func, outputs: 1, wires: [['out']] },
      { id: 'out', type: 'helper', z: 'tab' },
    ] as unknown as helper.TestFlows);
    server = http.createServer(httpNode);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new Collector<PushMsg>(helper.getNode('out'));
  }

  /** Resolves once `n` deliveries of this subscription were answered 2xx. */
  function delivered(subscription: string, n: number): Promise<void> {
    let count = 0;
    return waitForEvent<{ subscription: string; state: string }>(local.mns.events, 'delivery', (d) => d.subscription === subscription && d.state === 'delivered' && ++count === n).then(() => undefined);
  }

  it('receives pushes in XML, JSON and SIMPLIFIED once each, unwrapped, with metadata, and answers 204', async function () {
    const out = await load();
    for (const format of ['XML', 'JSON', 'SIMPLIFIED'] as const) {
      local.mns.subscribe('telemetry', `push-${format}`, { endpoint: `${base}${PATH}`, notifyContentFormat: format });
    }
    const done = Promise.all(['XML', 'JSON', 'SIMPLIFIED'].map((f) => delivered(`push-${f}`, 2)));
    const a = local.mns.publish('telemetry', '{"temp":21,"msg":"<&>"}', 'hot');
    const b = local.mns.publish('telemetry', 'plain text');
    await done;
    // Every delivery was answered 2xx only after the flow: all 6 are in the collector, none twice.
    assert.equal(out.got.length, 6);
    for (const format of ['XML', 'JSON', 'SIMPLIFIED']) {
      const mine = out.got.filter((m) => (format === 'SIMPLIFIED' ? m.mns.envelope === 'plain' : m.mns.notification?.subscriptionName === `push-${format}`));
      assert.equal(mine.length, 2, `${format}: two messages`);
      const hot = mine.find((m) => m.mns.messageId === a.messageId);
      const plain = mine.find((m) => m.mns.messageId === b.messageId);
      assert.ok(hot && plain, `${format}: each message once, with its MNS message ID`);
      assert.deepEqual(hot.payload, { temp: 21, msg: '<&>' });
      assert.equal(plain.payload, 'plain text');
      assert.equal(hot.mns.messageTag, 'hot');
      assert.equal(hot.mns.path, PATH);
      assert.ok(hot.mns.requestId);
      if (format === 'SIMPLIFIED') {
        assert.equal(hot.topic, '');
        assert.equal(hot.mns.notification, undefined);
      } else {
        assert.equal(hot.mns.envelope, format === 'XML' ? 'xml-notification' : 'json-notification');
        assert.equal(hot.topic, 'telemetry');
        assert.equal(hot.mns.notification?.topicName, 'telemetry');
        assert.equal(hot.mns.notification?.messageMD5, a.bodyMd5);
        assert.equal(hot.mns.notification?.publishTime, a.publishTime);
      }
    }
    for (const d of local.mns.deliveries().filter((x) => x.subscription.startsWith('push-'))) {
      assert.equal(d.attempts, 1);
      assert.equal(d.lastStatus, 204);
    }
    // The status is throttled: it reaches the final counts a moment later.
    await waitForStatus(helper.getNode('in'), (st) => st.text === 'received 6 · answered 6 · refused 0');
  });

  it('answers 500 when the flow fails (done(err)); MNS pushes again and the message comes back', async function () {
    const out = await load('const n = (context.get("n") || 0) + 1; context.set("n", n); if (n === 1) { throw new Error("first try fails"); } return msg;');
    local.mns.subscribe('telemetry', 'push', { endpoint: `${base}${PATH}`, notifyContentFormat: 'XML' });
    const failed = waitForEvent<{ subscription: string; lastStatus?: number; state: string }>(local.mns.events, 'delivery', (d) => d.subscription === 'push');
    const ok = delivered('push', 1);
    const m = local.mns.publish('telemetry', 'fragile');
    const first = await failed;
    assert.equal(first.lastStatus, 500);
    assert.equal(first.state, 'pending');
    await ok;
    const [got] = await out.until(1);
    assert.equal(out.got.length, 1, 'only the second, successful try reached the end of the flow');
    assert.equal(got.payload, 'fragile');
    assert.equal(got.mns.messageId, m.messageId);
    const d = local.mns.deliveries().find((x) => x.subscription === 'push');
    assert.equal(d?.attempts, 2);
    assert.equal(d?.lastStatus, 204);
  });

  it('answers 503 when the flow does not finish within the processing timeout', async function () {
    // Referencing node.done turns off the function node's automatic done(): the first push is never completed.
    const out = await load('const n = (context.get("n") || 0) + 1; context.set("n", n); if (n === 1) { node.send(msg); return null; } node.send(msg); node.done(); return null;', { ackTimeout: '1' });
    local.mns.subscribe('telemetry', 'push', { endpoint: `${base}${PATH}`, notifyContentFormat: 'SIMPLIFIED' });
    const first = waitForEvent<{ subscription: string; lastStatus?: number }>(local.mns.events, 'delivery', (d) => d.subscription === 'push');
    const ok = delivered('push', 1);
    local.mns.publish('telemetry', 'slow');
    assert.equal((await first).lastStatus, 503);
    await ok;
    assert.equal(out.got.length, 2, 'sent on twice: the timed-out try and the retry');
  });

  it('refuses forged, late and unsigned requests with 403 and bodies that are no notification with 400; none enters the flow', async function () {
    // A genuine push, captured at the same path on another server, to forge from.
    const captured = await new Promise<{ headers: http.IncomingHttpHeaders; body: string }>((resolve) => {
      const cap = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(204).end();
          cap.close();
          resolve({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      cap.listen(0, '127.0.0.1', () => {
        local.mns.subscribe('telemetry', 'capture', { endpoint: `http://127.0.0.1:${(cap.address() as AddressInfo).port}${PATH}`, notifyContentFormat: 'XML' });
        local.mns.publish('telemetry', 'genuine');
      });
    });
    local.mns.unsubscribe('telemetry', 'capture');
    const out = await load();
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(captured.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) h[k] = v;

    // The genuine request itself is accepted: the checks below fail for what was forged, nothing else.
    assert.equal((await post(base, PATH, h, captured.body)).status, 204);
    assert.equal(out.got.length, 1);

    const refusals: Array<[string, Sent, number, RegExp]> = [];
    const tamperedSig = Buffer.from(h.authorization, 'base64');
    tamperedSig[10] ^= 0xff;
    refusals.push(['bad signature', await post(base, PATH, { ...h, authorization: tamperedSig.toString('base64') }, captured.body), 403, /signature/]);
    // Signed with our own key, certificate on a host the node does not trust.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const evilCert = Buffer.from('https://mns-cert.oss-cn-hangzhou.aliyuncs.com.evil.example/x509_public_certificate.pem').toString('base64');
    const forged: Record<string, string> = { ...h, 'x-mns-signing-cert-url': evilCert };
    const toSign = `POST\n\n${forged['content-type']}\n${forged.date}\nx-mns-request-id:${forged['x-mns-request-id']}\nx-mns-signing-cert-url:${evilCert}\nx-mns-version:${forged['x-mns-version']}\n${PATH}`;
    forged.authorization = createSign('RSA-SHA1').update(toSign).sign(privateKey, 'base64');
    refusals.push(['untrusted certificate host', await post(base, PATH, forged, captured.body), 403, /aliyuncs\.com\.evil\.example is not an Alibaba Cloud MNS certificate host/]);
    refusals.push(['stale Date', await post(base, PATH, { ...h, date: new Date(Date.now() - 20 * 60_000).toUTCString() }, captured.body), 403, /15 minutes/]);
    const unsigned = { ...h };
    delete unsigned.authorization;
    refusals.push(['no Authorization', await post(base, PATH, unsigned, captured.body), 403, /unsigned/]);
    // The XML push's signature does not cover the body (MNS sends no Content-MD5): a genuine header set with a
    // body that is no notification, or one over the limit, is refused with 400.
    refusals.push(['not a notification', await post(base, PATH, h, 'hello'), 400, /not an MNS notification/]);
    refusals.push(['over the limit', await post(base, PATH, h, Buffer.alloc(500 * 1024, 'a')), 400, /over the MNS limit/]);
    for (const [what, res, status, reason] of refusals) {
      assert.equal(res.status, status, `${what}: HTTP ${res.status} ${res.text}`);
      assert.match(res.text, reason, `${what}: ${res.text}`);
    }
    assert.equal(out.got.length, 1, 'no refused request entered the flow');
    await waitForStatus(helper.getNode('in'), (st) => st.text === 'received 1 · answered 1 · refused 6');
  });

  it('answers 503 at once beyond its concurrency limit, and removes its route on close', async function () {
    const out = await load('if (msg.never) { node.done(); } node.send(msg); return null;', { concurrency: '1', ackTimeout: '30' });
    local.mns.subscribe('telemetry', 'push', { endpoint: `${base}${PATH}`, notifyContentFormat: 'SIMPLIFIED' });
    const statuses: number[] = [];
    const both = new Promise<void>((resolve) => {
      local.mns.events.on('delivery', (d: { subscription: string; lastStatus?: number }) => {
        if (d.subscription === 'push' && d.lastStatus !== undefined) statuses.push(d.lastStatus);
        if (statuses.length === 1) resolve();
      });
    });
    local.mns.publish('telemetry', 'one');
    await out.until(1);
    local.mns.publish('telemetry', 'two');
    await both;
    assert.deepEqual(statuses, [503], 'the second push is refused at once while the first is still in the flow');
    await helper.unload();
    const after = await post(base, PATH, {}, 'x');
    assert.equal(after.status, 404, 'the route is gone after close');
  });
});

describe('example "MNS push in - HTTP endpoint"', function () {
  let local: LocalMns;
  let server: http.Server | undefined;
  beforeEach(async function () {
    local = await startLocalMns({ push: { timeScale: 0.001, maxRetries: 1 } });
    helper.settings({ aliyunMnsPush: { trustedCertHosts: [new URL(local.mns.certUrl).host] } } as Record<string, unknown>);
  });
  afterEach(async function () {
    await helper.unload();
    helper.settings({});
    if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
    server?.closeAllConnections?.();
    await local.mns.stop();
  });

  it('runs as shipped: a good push is handled and answered 204, a failing one is answered 500 for MNS to retry', async function () {
    type FlowNode = Record<string, unknown> & { id: string; type: string; name?: string; url?: string };
    const file = path.resolve(__dirname, '../../../examples/MNS push in - HTTP endpoint.json');
    const flow = (JSON.parse(fs.readFileSync(file, 'utf8')) as FlowNode[]).map((n) => (n.type === 'debug' ? { id: n.id, z: n.z, type: 'helper', name: n.name } : n));
    const byName = (name: string): string => flow.find((n) => n.name === name)!.id;
    const pushPath = flow.find((n) => n.type === 'aliyun-mns-push-in')!.url!;
    await helper.load(nodes, flow as never);
    server = http.createServer(httpNode);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    local.mns.subscribe('telemetry', 'push', { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}${pushPath}`, notifyContentFormat: 'JSON' });
    const handled = new Collector<{ payload: { device: string; celsius: number; topic: string } }>(helper.getNode(byName('handled')));
    const failed = new Collector<{ error: { message: string } }>(helper.getNode(byName('failed (MNS will push again)')));
    const good = waitForEvent<{ subscription: string; messageId: string; lastStatus?: number; state: string }>(local.mns.events, 'delivery', (d) => d.subscription === 'push' && d.state === 'delivered');
    const badPush = local.mns.publish('telemetry', JSON.stringify({ deviceName: 'bad', temperature: 99 }));
    const goodPush = local.mns.publish('telemetry', JSON.stringify({ deviceName: 'dev01', temperature: 21 }));
    const bad = waitForEvent<{ subscription: string; messageId: string; lastStatus?: number }>(local.mns.events, 'delivery', (d) => d.subscription === 'push' && d.messageId === badPush.messageId);
    const [h] = await handled.until(1);
    // (built in the function node's sandbox: compare its fields)
    assert.deepEqual({ ...h.payload }, { device: 'dev01', celsius: 21, topic: 'telemetry' });
    assert.equal((await good).messageId, goodPush.messageId);
    assert.equal((await bad).lastStatus, 500);
    const [f] = await failed.until(1);
    assert.match(f.error.message, /cannot handle device bad/);
  });
});
