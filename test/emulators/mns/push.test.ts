// Topic → HTTP endpoint push (spec §3.4): the subscriber verifies the RSA-SHA1 signature with the certificate the
// emulator serves, built here from the spec's string to sign; NotifyStrategy retries; subscriptions over the signed API.
import assert from 'node:assert/strict';
import http from 'node:http';
import { X509Certificate, verify } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AccountBook } from '../../../emulators/accounts';
import { startMns } from '../../../emulators/mns';
import type { Delivery, MnsEmulator } from '../../../emulators/mns';
import { ACCOUNT_ID, AK, NS, SK, escapeXml, signedRequest, waitForEvent, xmlField, xmlFields } from './helpers';

interface Received { url: string; headers: http.IncomingHttpHeaders; body: string }

/** A subscriber endpoint that records each push and answers with the next scripted status (204 when the script is used up). */
async function startSubscriber(script: Array<number | 'hang'> = []): Promise<{ url: string; received: Received[]; next: () => Promise<Received>; close: () => Promise<void> }> {
  const received: Received[] = [];
  const waiters: Array<(r: Received) => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      waiters.shift()?.(r);
      const step = script.shift() ?? 204;
      if (step === 'hang') return;
      res.writeHead(step);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

/** What a subscriber does (spec §3.4): fetch the cert named by x-mns-signing-cert-url, rebuild the string, verify SHA1withRSA. */
async function verifyPush(push: Received): Promise<boolean> {
  const h = push.headers;
  const certUrl = Buffer.from(String(h['x-mns-signing-cert-url']), 'base64').toString('utf8');
  const cert = new X509Certificate(await fetchText(certUrl));
  const mnsHeaders = Object.keys(h).filter((k) => k.startsWith('x-mns-')).sort().map((k) => `${k}:${String(h[k])}\n`).join('');
  const toSign = `POST\n${h['content-md5'] ?? ''}\n${h['content-type'] ?? ''}\n${h.date}\n${mnsHeaders}${push.url}`;
  return verify('sha1', Buffer.from(toSign, 'utf8'), cert.publicKey, Buffer.from(String(h.authorization), 'base64'));
}

const TRICKY = 'a<b & "c" 杭州 🚀';

describe('local MNS: topic → HTTP endpoint push', () => {
  let mns: MnsEmulator;
  let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
  const startWith = async (script: Array<number | 'hang'> = [], push = {}): Promise<void> => {
    subscriber = await startSubscriber(script);
    const accounts = new AccountBook();
    accounts.addAccessKey({ accessKeyId: AK, accessKeySecret: SK, accountId: ACCOUNT_ID });
    mns = await startMns({ accounts, accountId: ACCOUNT_ID, topics: [{ name: 'alerts' }], push: { timeScale: 0.001, ...push } });
  };
  afterEach(async () => {
    await mns.stop();
    await subscriber.close();
  });

  it('signs an XML notification so that the subscriber can verify it with the served certificate', async () => {
    await startWith();
    mns.subscribe('alerts', 'hook', { endpoint: `${subscriber.url}/mns/notify?src=emulator` });
    const arriving = subscriber.next();
    const delivered = waitForEvent<Delivery>(mns.events, 'delivery', (d) => d.state === 'delivered');
    const published = mns.publish('alerts', TRICKY, 'hot');
    const push = await arriving;

    assert.equal(push.url, '/mns/notify?src=emulator');
    assert.doesNotMatch(String(push.headers.authorization), /^MNS /);
    assert.equal(Buffer.from(String(push.headers['x-mns-signing-cert-url']), 'base64').toString(), mns.certUrl);
    assert.equal(await verifyPush(push), true);
    assert.equal(await verifyPush({ ...push, body: push.body, url: '/mns/other' }), false, 'a changed path fails verification');
    assert.equal(await verifyPush({ ...push, headers: { ...push.headers, date: new Date(0).toUTCString() } }), false, 'a changed Date fails');

    assert.match(push.body, new RegExp(`<Notification xmlns="${NS.replace(/[./]/g, '\\$&')}">`));
    assert.equal(xmlField(push.body, 'Message'), TRICKY);
    assert.equal(xmlField(push.body, 'MessageId'), published.messageId);
    assert.equal(xmlField(push.body, 'MessageTag'), 'hot');
    assert.equal(xmlField(push.body, 'TopicName'), 'alerts');
    assert.equal(xmlField(push.body, 'PublishTime'), String(published.publishTime));
    assert.equal((await delivered).attempts, 1);
  });

  it('posts SIMPLIFIED bodies raw with signed x-mns-message-id / x-mns-message-tag, to /notifications by default', async () => {
    await startWith();
    mns.subscribe('alerts', 'plain', { endpoint: subscriber.url, notifyContentFormat: 'SIMPLIFIED' });
    const arriving = subscriber.next();
    const published = mns.publish('alerts', TRICKY, 'cold');
    const push = await arriving;
    assert.equal(push.url, '/notifications');
    assert.equal(push.body, TRICKY);
    assert.equal(push.headers['x-mns-message-id'], published.messageId);
    assert.equal(push.headers['x-mns-message-tag'], 'cold');
    assert.equal(await verifyPush(push), true);
    assert.equal(await verifyPush({ ...push, headers: { ...push.headers, 'x-mns-message-tag': 'warm' } }), false);
  });

  it('retries a failing endpoint per BACKOFF_RETRY (scaled) until it answers 2xx', async () => {
    await startWith([500, 503]);
    mns.subscribe('alerts', 'flaky', { endpoint: `${subscriber.url}/n` });
    const delivered = waitForEvent<Delivery>(mns.events, 'delivery', (d) => d.state === 'delivered');
    mns.publish('alerts', 'eventually');
    const d = await delivered;
    assert.equal(d.attempts, 3);
    assert.equal(subscriber.received.length, 3);
    assert.ok(subscriber.received.every((r) => r.body.includes('<Message>eventually</Message>')));
    assert.equal(mns.deliveries()[0].state, 'delivered');
  });

  it('discards after the strategy runs out of retries (BACKOFF_RETRY: 3, EXPONENTIAL_DECAY_RETRY capped here at 5) and after timeouts', async () => {
    await startWith(Array(20).fill(500), { maxRetries: undefined });
    mns.subscribe('alerts', 'down', { endpoint: `${subscriber.url}/down` });
    let discarded = waitForEvent<Delivery>(mns.events, 'delivery', (d) => d.state === 'discarded');
    mns.publish('alerts', 'lost');
    let d = await discarded;
    assert.equal(d.attempts, 4);
    assert.equal(d.lastStatus, 500);
    await mns.stop();
    await subscriber.close();

    await startWith(Array(20).fill(500), { maxRetries: 5 });
    mns.subscribe('alerts', 'decay', { endpoint: `${subscriber.url}/down`, notifyStrategy: 'EXPONENTIAL_DECAY_RETRY' });
    discarded = waitForEvent<Delivery>(mns.events, 'delivery', (d) => d.state === 'discarded');
    mns.publish('alerts', 'lost too');
    d = await discarded;
    assert.equal(d.attempts, 6);
    await mns.stop();
    await subscriber.close();

    await startWith(['hang'], { maxRetries: 0, timeoutMs: 100 });
    mns.subscribe('alerts', 'slow', { endpoint: `${subscriber.url}/slow` });
    discarded = waitForEvent<Delivery>(mns.events, 'delivery', (d) => d.state === 'discarded');
    mns.publish('alerts', 'too slow');
    d = await discarded;
    assert.match(d.lastError ?? '', /no answer within 100 ms/);
  });

  it('retries a queue subscription whose queue is missing and delivers once it exists', async () => {
    await startWith();
    mns.subscribe('alerts', 'to-later', { queue: 'later' });
    mns.events.once('delivery', (d: Delivery) => {
      assert.equal(d.state, 'pending');
      assert.match(d.lastError ?? '', /queue later does not exist/);
      mns.createQueue('later');
    });
    const delivered = waitForEvent<Delivery>(mns.events, 'delivery', (d) => d.state === 'delivered');
    mns.publish('alerts', 'patience');
    const d = await delivered;
    assert.equal(d.attempts, 2);
    assert.equal(mns.messages('later')[0].messageId, d.queueMessageId);
  });

  it('manages subscriptions over the signed API (Subscribe, Get, List, conflict, invalid endpoints, Unsubscribe)', async () => {
    await startWith();
    const base = '/topics/alerts/subscriptions';
    const body = (endpoint: string, extra = ''): string =>
      `<?xml version="1.0" encoding="UTF-8"?><Subscription xmlns="${NS}"><Endpoint>${escapeXml(endpoint)}</Endpoint>${extra}</Subscription>`;
    const created = await signedRequest(mns.url, 'PUT', `${base}/hook`, body(`${subscriber.url}/n`, '<NotifyContentFormat>JSON</NotifyContentFormat><FilterTag>hot</FilterTag>'));
    assert.equal(created.status, 201, created.body);
    assert.equal(created.headers.location, `http://${ACCOUNT_ID}.mns.cn-hangzhou.aliyuncs.com${base}/hook`);
    const same = await signedRequest(mns.url, 'PUT', `${base}/hook`, body(`${subscriber.url}/n`, '<NotifyContentFormat>JSON</NotifyContentFormat><FilterTag>hot</FilterTag>'));
    assert.equal(same.status, 204);
    const conflict = await signedRequest(mns.url, 'PUT', `${base}/hook`, body(`${subscriber.url}/other`));
    assert.equal(conflict.status, 409);
    assert.equal(xmlField(conflict.body, 'Code'), 'SubscriptionAlreadyExist');

    const got = await signedRequest(mns.url, 'GET', `${base}/hook`);
    assert.equal(xmlField(got.body, 'NotifyContentFormat'), 'JSON');
    assert.equal(xmlField(got.body, 'NotifyStrategy'), 'BACKOFF_RETRY');
    assert.equal(xmlField(got.body, 'FilterTag'), 'hot');

    const otherAccount = await signedRequest(mns.url, 'PUT', `${base}/x`, body('acs:mns:cn-hangzhou:999:queues/q'));
    assert.equal(xmlField(otherAccount.body, 'Code'), 'EndpointInvalid');
    const reserved = await signedRequest(mns.url, 'PUT', `${base}/y`, body(`${subscriber.url}/mns-reserved-x`));
    assert.equal(xmlField(reserved.body, 'Code'), 'EndpointInvalid');
    const badFormat = await signedRequest(mns.url, 'PUT', `${base}/z`, body(`${subscriber.url}/n`, '<NotifyContentFormat>YAML</NotifyContentFormat>'));
    assert.equal(xmlField(badFormat.body, 'Code'), 'InvalidArgument');
    const badName = await signedRequest(mns.url, 'PUT', `${base}/bad_name`, body(`${subscriber.url}/n`));
    assert.equal(xmlField(badName.body, 'Code'), 'SubscriptionNameInvalid');
    const toQueue = await signedRequest(mns.url, 'PUT', `${base}/q`, body(`acs:mns:cn-hangzhou:${ACCOUNT_ID}:queues/app`));
    assert.equal(toQueue.status, 201, toQueue.body);

    const list = await signedRequest(mns.url, 'GET', base);
    assert.deepEqual(xmlFields(list.body, 'SubscriptionURL').map((u) => u.split('/').pop()), ['hook', 'q']);
    const page = await signedRequest(mns.url, 'GET', base, undefined, { headers: { 'x-mns-ret-number': '1' } });
    assert.equal(xmlFields(page.body, 'SubscriptionURL').length, 1);
    assert.equal(xmlField(page.body, 'NextMarker'), 'q');

    assert.equal((await signedRequest(mns.url, 'DELETE', `${base}/hook`)).status, 204);
    const gone = await signedRequest(mns.url, 'GET', `${base}/hook`);
    assert.equal(gone.status, 404);
    assert.equal(xmlField(gone.body, 'Code'), 'SubscriptionNotExist');
  });
});
