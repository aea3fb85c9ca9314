// Config file, programmatic and HTTP inspection API, the signed management API, and a prompt, complete stop().
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountBook } from '../../../emulators/accounts';
import { startMns } from '../../../emulators/mns';
import type { MnsEmulator } from '../../../emulators/mns';
import { ACCOUNT_ID, AK, NS, SK, signedRequest, waitForEvent, xmlField, xmlFields } from './helpers';

function getJson(url: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    }).on('error', reject);
  });
}

describe('local MNS: configuration, inspection and lifecycle', () => {
  let dir: string;
  let mns: MnsEmulator | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mns-emulator-'));
  });
  afterEach(async () => {
    await mns?.stop();
    mns = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts from a JSON config file: keys, topics, queues and subscriptions', async () => {
    const file = join(dir, 'mns.json');
    writeFileSync(file, JSON.stringify({
      accountId: '5555555555555555',
      region: 'cn-beijing',
      accessKeys: [{ accessKeyId: 'LTAI-file', accessKeySecret: 'file-secret' }],
      topics: [{ name: 'iot-telemetry' }],
      queues: [{ name: 'app', VisibilityTimeout: 45 }],
      subscriptions: [{ topic: 'iot-telemetry', name: 'to-app', queue: 'app', notifyContentFormat: 'SIMPLIFIED' }],
    }));
    mns = await startMns({ configFile: file });
    assert.equal(mns.accountId, '5555555555555555');
    assert.equal(mns.region, 'cn-beijing');
    assert.deepEqual(mns.subscriptions('iot-telemetry').map((s) => s.endpoint), ['acs:mns:cn-beijing:5555555555555555:queues/app']);

    const body = `<Message xmlns="${NS}"><MessageBody>from file</MessageBody></Message>`;
    const res = await signedRequest(mns.url, 'POST', '/topics/iot-telemetry/messages', body, { accessKeyId: 'LTAI-file', accessKeySecret: 'file-secret' });
    assert.equal(res.status, 201, res.body);
    assert.deepEqual(mns.messages('app').map((m) => m.body), ['from file']);
    const attrs = await signedRequest(mns.url, 'GET', '/queues/app', undefined, { accessKeyId: 'LTAI-file', accessKeySecret: 'file-secret' });
    assert.equal(xmlField(attrs.body, 'VisibilityTimeout'), '45');
  });

  it('loads the shipped example config (port overridden)', async () => {
    mns = await startMns({ configFile: join(__dirname, '../../../emulators/mns/example-config.json'), port: 0 });
    assert.deepEqual(mns.subscriptions('iot-telemetry').map((s) => s.endpoint), [mns.queueEndpoint('app-server')]);
    assert.ok(mns.accounts.resolve('LTAI-local-demo'));
  });

  it('names the problem in a bad config', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ subscriptions: [{ topic: 'missing', name: 's', queue: 'q' }] }));
    await assert.rejects(startMns({ configFile: file }), /configuration is invalid: The topic missing does not exist/);
    writeFileSync(file, '{ not json');
    await assert.rejects(startMns({ configFile: file }), /cannot read the MNS config file/);
    await assert.rejects(startMns({ queues: [{ name: 'q', VisibilityTimeout: 0 }] }), /VisibilityTimeout should between 1 and 43200/);
  });

  it('shows what arrived over unsigned /__emulator endpoints and creates resources there', async () => {
    const accounts = new AccountBook();
    accounts.addAccessKey({ accessKeyId: AK, accessKeySecret: SK, accountId: ACCOUNT_ID });
    mns = await startMns({ accounts, accountId: ACCOUNT_ID });
    const put = (path: string, body: unknown): Promise<number> => new Promise((resolve, reject) => {
      const req = http.request(new URL(path, mns!.url), { method: 'PUT', agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
    assert.equal(await put('/__emulator/topics/t', {}), 200);
    assert.equal(await put('/__emulator/queues/q', { DelaySeconds: 0 }), 200);
    assert.equal(await put('/__emulator/topics/t/subscriptions/s', { queue: 'q' }), 200);
    mns.publish('t', 'seen', 'tag1');

    const published = await getJson(`${mns.url}/__emulator/topics/t/published`);
    assert.equal(published.status, 200);
    assert.deepEqual((published.json as Array<{ body: string; tag: string }>).map((m) => [m.body, m.tag]), [['seen', 'tag1']]);
    const queue = await getJson(`${mns.url}/__emulator/queues/q`);
    const info = queue.json as { counts: { active: number }; messages: Array<{ body: string; state: string }> };
    assert.equal(info.counts.active, 1);
    assert.match(info.messages[0].body, /<Message>seen<\/Message>/);
    const overview = await getJson(`${mns.url}/__emulator`);
    assert.deepEqual((overview.json as { topics: string[]; queues: string[] }).queues, ['q']);
    const deliveries = await getJson(`${mns.url}/__emulator/deliveries`);
    assert.equal((deliveries.json as Array<{ state: string }>)[0].state, 'delivered');
    assert.equal((await getJson(`${mns.url}/__emulator/queues/nope`)).status, 404);

    const pem = await new Promise<string>((resolve) => http.get(mns!.certUrl, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => (t += c.toString()));
      res.on('end', () => resolve(t));
    }));
    assert.equal(pem, mns.certificatePem);
  });

  it('lists, reads, changes and deletes topics and queues over the signed API', async () => {
    const accounts = new AccountBook();
    accounts.addAccessKey({ accessKeyId: AK, accessKeySecret: SK, accountId: ACCOUNT_ID });
    mns = await startMns({ accounts, accountId: ACCOUNT_ID, queues: [{ name: 'a1' }, { name: 'a2' }, { name: 'b1' }], topics: [{ name: 't1' }] });
    const list = await signedRequest(mns.url, 'GET', '/queues', undefined, { headers: { 'x-mns-prefix': 'a', 'x-mns-ret-number': '1' } });
    assert.deepEqual(xmlFields(list.body, 'QueueURL'), [`http://${ACCOUNT_ID}.mns.cn-hangzhou.aliyuncs.com/queues/a1`]);
    assert.equal(xmlField(list.body, 'NextMarker'), 'a2');
    const next = await signedRequest(mns.url, 'GET', '/queues', undefined, { headers: { 'x-mns-prefix': 'a', 'x-mns-marker': 'a2' } });
    assert.deepEqual(xmlFields(next.body, 'QueueURL').map((u) => u.split('/').pop()), ['a2']);

    const set = await signedRequest(mns.url, 'PUT', '/queues/a1?metaoverride=true', `<Queue xmlns="${NS}"><VisibilityTimeout>90</VisibilityTimeout></Queue>`);
    assert.equal(set.status, 204, set.body);
    assert.equal(xmlField((await signedRequest(mns.url, 'GET', '/queues/a1')).body, 'VisibilityTimeout'), '90');

    const topic = await signedRequest(mns.url, 'GET', '/topics/t1');
    assert.equal(xmlField(topic.body, 'MaximumMessageSize'), '65536');
    assert.equal(xmlField(topic.body, 'MessageRetentionPeriod'), '86400');
    const topics = await signedRequest(mns.url, 'GET', '/topics');
    assert.deepEqual(xmlFields(topics.body, 'TopicURL').map((u) => u.split('/').pop()), ['t1']);
    assert.equal((await signedRequest(mns.url, 'DELETE', '/topics/t1')).status, 204);
    assert.equal(xmlField((await signedRequest(mns.url, 'GET', '/topics/t1')).body, 'Code'), 'TopicNotExist');
    const long = await signedRequest(mns.url, 'PUT', `/topics/${'x'.repeat(121)}`);
    assert.equal(xmlField(long.body, 'Code'), 'TopicNameLengthError');
    assert.equal((await signedRequest(mns.url, 'DELETE', '/queues/b1')).status, 204);
    assert.equal(xmlField((await signedRequest(mns.url, 'GET', '/queues/b1')).body, 'Code'), 'QueueNotExist');
  });

  it('stop() ends parked long polls, pending push retries and keep-alive sockets promptly', async () => {
    const accounts = new AccountBook();
    accounts.addAccessKey({ accessKeyId: AK, accessKeySecret: SK, accountId: ACCOUNT_ID });
    mns = await startMns({ accounts, accountId: ACCOUNT_ID, queues: [{ name: 'q' }], topics: [{ name: 't' }] });
    // A push that will retry for a long time (real BACKOFF_RETRY intervals of 10–20 s).
    mns.subscribe('t', 'dead', { endpoint: 'http://127.0.0.1:9/unreachable' });
    const failedOnce = waitForEvent(mns.events, 'delivery');
    mns.publish('t', 'x');
    await failedOnce;

    const parked = waitForEvent(mns.events, 'long-poll');
    const polling = signedRequest(mns.url, 'GET', '/queues/q/messages?waitseconds=30').then(() => 'answered', (e: NodeJS.ErrnoException) => e.code);
    await parked;
    const started = Date.now();
    await mns.stop();
    assert.ok(Date.now() - started < 1000, `stop took ${Date.now() - started} ms`);
    assert.equal(await polling, 'ECONNRESET');
    mns = undefined;
  });
});
