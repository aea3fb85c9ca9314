// Issue 10's proof, in a real `node-red` process with the packed package installed: messages published through
// MNS topic out reach a topic subscribed by queues in XML, JSON and SIMPLIFIED (read by MNS queue in) and by an HTTP
// push endpoint (MNS push in, served by that Node-RED). Every message arrives once at each, unwrapped, with its
// metadata; forged push requests are refused and never reach the flow.
import assert from 'node:assert/strict';
import http from 'node:http';
import { generateKeyPairSync, createSign } from 'node:crypto';
import { connectComms, debugValue, type Comms, type DebugMessage } from '../../demo/comms';
import { AK, startLocalMns, type LocalMns } from '../mns/support';
import { startNodeRed, type FlowNode, type RedProcess } from '../support/red-process';

const N = 5;
const PUSH_PATH = '/mns/push';
const FORMATS = ['XML', 'JSON', 'SIMPLIFIED'] as const;

interface Seen {
  payload: { seq?: number; text?: string; end?: boolean };
  topic: string;
  mns: { messageId: string; messageTag?: string; envelope: string; dequeueCount?: number; notification?: { topicName: string; subscriptionName: string; messageMD5: string; publishTime: number; messageTag?: string } };
}

function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function flows(local: LocalMns): FlowNode[] {
  const z = 'proof-tab';
  const queueIn = (f: string): FlowNode => ({
    id: `in-${f}`, type: 'aliyun-mns-queue-in', z, name: `queue ${f}`, aliyunCredentials: 'proof-creds', endpointType: 'custom', endpoint: local.mns.url,
    queue: `q-${f.toLowerCase()}`, waitSeconds: '1', batchSize: '16', concurrency: '16', payloadFormat: 'auto', ackMode: 'complete', ackTimeout: '20', wires: [[`dbg-${f}`], []],
  });
  const debug = (id: string): FlowNode => ({ id, type: 'debug', z, name: `shows ${id.slice(4)}`, active: true, tosidebar: true, console: false, complete: 'true', targetType: 'full', wires: [] });
  return [
    { id: z, type: 'tab', label: 'push proof' },
    { id: 'proof-creds', type: 'aliyun-credentials', name: 'proof', mode: 'accessKey' },
    { id: 'inj-go', type: 'inject', z, name: 'publish', props: [{ p: 'payload' }], payload: '', payloadType: 'str', repeat: '', once: false, wires: [['fan']] },
    { id: 'inj-end', type: 'inject', z, name: 'end marker', props: [{ p: 'payload' }], payload: 'end', payloadType: 'str', repeat: '', once: false, wires: [['fan']] },
    {
      id: 'fan', type: 'function', z, name: 'fan out', outputs: 1,
      func: `if (msg.payload === 'end') { node.send({ payload: { end: true } }); return null; }\nfor (let i = 1; i <= ${N}; i++) node.send({ payload: { seq: i, text: '<&> 消息 ' + i } });\nreturn null;`,
      wires: [['out']],
    },
    {
      id: 'out', type: 'aliyun-mns-topic-out', z, name: 'to topic', aliyunCredentials: 'proof-creds', endpointType: 'custom', endpoint: local.mns.url, topic: 'proof',
      bodyEncoding: 'json', tag: 'proof', retries: '3', retryDelays: '0.05, 0.1, 0.2', concurrency: '4', queueLimit: '100', timeout: '5', wires: [[], []],
    },
    ...FORMATS.map(queueIn),
    ...FORMATS.map((f) => debug(`dbg-${f}`)),
    { id: 'in-push', type: 'aliyun-mns-push-in', z, name: 'push', url: PUSH_PATH, payloadFormat: 'auto', ackTimeout: '10', concurrency: '16', wires: [['dbg-push']] },
    debug('dbg-push'),
  ];
}

describe('proof (issue 10): topic out → queues in XML, JSON, SIMPLIFIED and an HTTP push endpoint, in a real node-red', function () {
  this.timeout(120_000);
  let local: LocalMns;
  let red: RedProcess;
  let comms: Comms;

  before(async function () {
    this.timeout(180_000);
    local = await startLocalMns({ topics: [{ name: 'proof' }], queues: FORMATS.map((f) => ({ name: `q-${f.toLowerCase()}` })), subscriptions: [] });
    for (const f of FORMATS) local.mns.subscribe('proof', `to-q-${f.toLowerCase()}`, { queue: `q-${f.toLowerCase()}`, notifyContentFormat: f });
    red = await startNodeRed({
      install: 'pack',
      flows: flows(local),
      credentials: { 'proof-creds': { ...AK } },
      settings: { aliyunMnsPush: { trustedCertHosts: [new URL(local.mns.certUrl).host] }, debugMaxLength: 10_000 },
      timeoutMs: 60_000,
    });
    comms = await connectComms(red.url);
    for (const f of FORMATS) local.mns.subscribe('proof', `to-push-${f}`, { endpoint: new URL(PUSH_PATH.slice(1), red.url).toString(), notifyContentFormat: f });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(red.log().split('\n').slice(-40).join('\n'), JSON.stringify(comms.debug).slice(0, 3000), JSON.stringify(local.mns.deliveries()).slice(0, 2000));
  });

  after(async function () {
    comms?.close();
    await red?.stop();
    await local?.mns.stop();
  });

  const pushUrl = (): string => new URL(PUSH_PATH.slice(1), red.url).toString();
  const seen = (id: string): Seen[] => comms.debug.filter((m: DebugMessage) => m.id === id).map((m) => debugValue(m) as Seen);

  it('refuses forged push requests with 403 before anything is published', async function () {
    const body = `<?xml version="1.0" encoding="utf-8"?>\n<Notification xmlns="http://mns.aliyuncs.com/doc/v1/"><TopicOwner>1</TopicOwner><TopicName>proof</TopicName><Subscriber>1</Subscriber><SubscriptionName>to-push</SubscriptionName><MessageId>FORGED</MessageId><Message>{"seq":99}</Message><MessageMD5>x</MessageMD5><PublishTime>1</PublishTime></Notification>`;
    const date = new Date().toUTCString();
    const base: Record<string, string> = { 'content-type': 'text/xml;charset=utf-8', date, 'x-mns-request-id': 'FORGED', 'x-mns-version': '2015-06-06' };
    const sign = (certUrl: string, when: string): Record<string, string> => {
      const cert = Buffer.from(certUrl).toString('base64');
      const toSign = `POST\n\n${base['content-type']}\n${when}\nx-mns-request-id:FORGED\nx-mns-signing-cert-url:${cert}\nx-mns-version:2015-06-06\n${PUSH_PATH}`;
      return { ...base, date: when, 'x-mns-signing-cert-url': cert, authorization: createSign('RSA-SHA1').update(toSign).sign(privateKey, 'base64') };
    };
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['no signature', base, /unsigned/],
      ['signed with another key, claiming the local MNS certificate', sign(local.mns.certUrl, date), /signature does not match/],
      ['certificate on a look-alike host', sign('https://mns-cert.oss-cn-hangzhou.aliyuncs.com.attacker.example/cert.pem', date), /not an Alibaba Cloud MNS certificate host/],
      ['a stale Date', sign(local.mns.certUrl, new Date(Date.now() - 16 * 60_000).toUTCString()), /15 minutes/],
    ];
    for (const [what, headers, reason] of cases) {
      const res = await post(pushUrl(), headers, body);
      assert.equal(res.status, 403, `${what}: ${res.status} ${res.text}`);
      assert.match(res.text, reason, what);
    }
  });

  it(`delivers each of ${N} messages once to every subscriber, unwrapped, with metadata; no forged one among them`, async function () {
    const ENVELOPE = { XML: 'xml-notification', JSON: 'json-notification', SIMPLIFIED: 'plain' } as const;
    // Seven subscriber streams: three queues read by MNS queue in, three push subscriptions (one per format) to MNS push in.
    const streams = [
      ...FORMATS.map((f) => ({ name: `queue ${f}`, dbg: `dbg-${f}`, sub: `to-q-${f.toLowerCase()}`, envelope: ENVELOPE[f], push: false })),
      ...FORMATS.map((f) => ({ name: `push ${f}`, dbg: 'dbg-push', sub: `to-push-${f}`, envelope: ENVELOPE[f], push: true })),
    ];
    const inStream = (st: (typeof streams)[number], m: Seen): boolean => m.mns.envelope === st.envelope;
    const res = await red.request('POST', 'inject/inj-go');
    assert.equal(res.status, 200, res.text);
    await Promise.all(streams.map((st) => Promise.all(Array.from({ length: N }, (_, i) => comms.waitForDebug(st.dbg, (m) => {
      const v = debugValue(m) as Seen;
      return v.payload?.seq === i + 1 && inStream(st, v);
    }, 30_000)))));
    // A last message flushes anything still on its way (a duplicate would come before it on each path).
    const pushSubs = streams.filter((st) => st.push).map((st) => st.sub);
    const pushed = new Promise<void>((resolve) => {
      const on = (): void => {
        const ds = local.mns.deliveries().filter((x) => pushSubs.includes(x.subscription));
        if (ds.length === 3 * (N + 1) && ds.every((x) => x.state === 'delivered')) {
          local.mns.events.off('delivery', on);
          resolve();
        }
      };
      local.mns.events.on('delivery', on);
    });
    assert.equal((await red.request('POST', 'inject/inj-end')).status, 200);
    await Promise.all(streams.map((st) => comms.waitForDebug(st.dbg, (m) => {
      const v = debugValue(m) as Seen;
      return v.payload?.end === true && inStream(st, v);
    }, 60_000)));
    await pushed;

    const published = local.mns.published('proof');
    assert.equal(published.length, N + 1, 'topic out published each message once');
    const byId = new Map(published.map((p) => [p.messageId, p]));
    for (const st of streams) {
      const got = seen(st.dbg).filter((m) => inStream(st, m) && m.payload.end !== true);
      assert.equal(got.length, N, `${st.name}: ${N} messages, none twice (got ${got.length})`);
      assert.deepEqual(got.map((m) => m.payload.seq).sort(), Array.from({ length: N }, (_, i) => i + 1), `${st.name}: each message once`);
      for (const m of got) {
        assert.equal(m.payload.text, `<&> 消息 ${m.payload.seq}`, `${st.name}: unwrapped to the published JSON`);
        if (st.envelope !== 'plain') {
          const n = m.mns.notification!;
          const p = byId.get((n as unknown as { messageId: string }).messageId);
          assert.ok(p, `${st.name}: the notification names the published message`);
          assert.equal(n.topicName, 'proof');
          assert.equal(n.messageMD5, p.bodyMd5);
          assert.equal(n.publishTime, p.publishTime);
          assert.equal(n.messageTag, 'proof');
          assert.equal(n.subscriptionName, st.sub);
        }
        if (st.push) {
          assert.ok(byId.has(m.mns.messageId), `${st.name}: msg.mns.messageId is the topic message ID`);
          assert.equal(m.mns.messageTag, 'proof', `${st.name}: the tag`);
          assert.equal(m.topic, st.envelope === 'plain' ? '' : 'proof');
        } else {
          assert.equal(m.mns.dequeueCount, 1, `${st.name}: delivered once`);
        }
      }
    }
    for (const d of local.mns.deliveries().filter((x) => pushSubs.includes(x.subscription))) {
      assert.equal(d.attempts, 1, `${d.subscription}: each push answered 2xx at the first attempt`);
      assert.equal(d.lastStatus, 204);
    }
    for (const f of FORMATS) assert.equal(local.mns.messages(`q-${f.toLowerCase()}`).length, 0, `q-${f.toLowerCase()}: every message deleted after the flow`);
    assert.equal(comms.debug.filter((m) => m.id === 'dbg-push' && (debugValue(m) as Seen).payload?.seq === 99).length, 0, 'no forged push reached the flow');
  });
});
