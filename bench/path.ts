// The whole path, flooded: Mosquitto → our flow (IoT device in → SQL rule → MNS topic out, in a Node-RED runtime) →
// the local MNS in its own process, against a bare pipeline in the same process (mqtt.js subscriber + JSON.parse +
// the same filter + a keep-alive V2-signed PublishMessage POST), same broker, same MNS, same run. QoS 1, a new
// device (topic) per message, 30 % pass the rule; both sides have up to 16 publishes in flight.
import http from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import { helper, loadUninstrumented } from './runtime';
import brokerModule from '../nodes/aliyun-iot-broker/aliyun-iot-broker';
import deviceInModule from '../nodes/aliyun-iot-device-in/aliyun-iot-device-in';
import sqlRuleModule from '../nodes/aliyun-iot-sql-rule/aliyun-iot-sql-rule';
import credentialsModule from '../nodes/aliyun-credentials/aliyun-credentials';
import topicOutModule from '../nodes/aliyun-mns-topic-out/aliyun-mns-topic-out';
import type { MqttClient } from 'mqtt';
import { client, startBroker } from './ingest';
import { AK, startMnsProcess } from './mns';
import { compare, report, type Side, type Verdict } from './measure';

const PK = 'a1B2c3D4e5F';
const ROUND_TIMEOUT_MS = 120_000;
const payloadOf = (i: number): string => JSON.stringify({ temperature: 20 + (i % 10), humidity: 40 + (i % 30), seq: i });
const passes = (i: number): boolean => 20 + (i % 10) > 26;

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** The bare pipeline's publish: what a careful hand-written client does, nothing more. */
function barePublisher(url: string, topic: string): (body: string) => Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const target = new URL(url);
  const resource = `/topics/${topic}/messages`;
  return (text) => new Promise((resolve, reject) => {
    const body = `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>${escapeXml(text)}</MessageBody></Message>`;
    const date = new Date().toUTCString();
    const md5 = Buffer.from(createHash('md5').update(body, 'utf8').digest('hex'), 'utf8').toString('base64');
    const toSign = `POST\n${md5}\ntext/xml\n${date}\nx-mns-date:${date}\nx-mns-version:2015-06-06\n${resource}`;
    const signature = createHmac('sha1', AK.accessKeySecret).update(toSign, 'utf8').digest('base64');
    const req = http.request({
      host: target.hostname, port: target.port, method: 'POST', path: resource, agent,
      headers: {
        date, 'x-mns-date': date, 'x-mns-version': '2015-06-06', 'content-type': 'text/xml', 'content-md5': md5,
        'content-length': Buffer.byteLength(body), authorization: `MNS ${AK.accessKeyId}:${signature}`,
      },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`bare pipeline: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function floodSide(name: string, publisher: MqttClient, level: string, done: { count: number; waiter?: () => void }): Side {
  let base = 0;
  return {
    name,
    run(n: number): Promise<number> {
      return new Promise((resolve, reject) => {
        let want = 0;
        for (let i = base; i < base + n; i++) if (passes(i)) want++;
        const target = done.count + want;
        const timer = setTimeout(() => reject(new Error(`${name}: ${target - done.count} of ${want} publishes missing after ${ROUND_TIMEOUT_MS} ms`)), ROUND_TIMEOUT_MS);
        done.waiter = () => {
          if (done.count < target) return;
          clearTimeout(timer);
          done.waiter = undefined;
          resolve(n);
        };
        for (let i = base; i < base + n; i++) publisher.publish(`/${PK}/dev${i % 100_000}/user/${level}`, payloadOf(i), { qos: 1 });
        base += n;
      });
    },
  };
}

export async function benchPath(): Promise<Verdict[]> {
  const broker = await startBroker();
  const mns = await startMnsProcess();
  console.log(`\nWhole path, flood — device in → SQL rule → MNS topic out ÷ bare mqtt.js + JSON.parse + filter + signed POST, ` +
    `QoS 1, same ${broker.name}, same local MNS (own process), 30 % published (target ≥ 0.8×)`);
  const clients: MqttClient[] = [];
  try {
    await loadUninstrumented(
      [brokerModule, deviceInModule, sqlRuleModule, credentialsModule, topicOutModule],
      [
        { id: 'tab', type: 'tab' },
        { id: 'b', z: 'tab', type: 'aliyun-iot-broker', mode: 'mqtt', url: broker.url, username: broker.username ?? '', keepalive: 60, cleanSession: true, protocolVersion: '4' },
        { id: 'in', z: 'tab', type: 'aliyun-iot-device-in', broker: 'b', topic: `/${PK}/+/user/ours`, qos: Number(process.env.PATH_QOS ?? 1), format: 'auto', wires: [['rule']] },
        {
          id: 'rule', z: 'tab', type: 'aliyun-iot-sql-rule', name: '', dataType: 'JSON', timezone: 'Asia/Shanghai', tags: [], nonMatching: 'drop', outputs: 1,
          sql: `SELECT deviceName() AS dn, temperature AS t, humidity AS h FROM "/${PK}/+/user/ours" WHERE temperature > 26`,
          wires: [['out']],
        },
        { id: 'creds', z: 'tab', type: 'aliyun-credentials', mode: 'accessKey' },
        {
          id: 'out', z: 'tab', type: 'aliyun-mns-topic-out', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: mns.url,
          topic: 'bench', bodyEncoding: 'json', retries: '0', concurrency: '16', queueLimit: '100000', timeout: '10', wires: [['ok'], ['failed']],
        },
        { id: 'ok', z: 'tab', type: 'helper' },
        { id: 'failed', z: 'tab', type: 'helper' },
      ],
      { b: broker.credentials, creds: { ...AK } },
    );
    const ours = { count: 0, waiter: undefined as undefined | (() => void) };
    helper.getNode('ok').on('input', () => { ours.count++; ours.waiter?.(); });
    helper.getNode('failed').on('input', (msg: unknown) => { throw new Error(`topic out failed: ${JSON.stringify((msg as { error?: unknown }).error)}`); });

    const bare = { count: 0, waiter: undefined as undefined | (() => void) };
    const post = barePublisher(mns.url, 'bench');
    const subscriber = await client(broker.url, broker.login);
    clients.push(subscriber);
    subscriber.on('message', (topic, payload) => {
      const p = JSON.parse(payload.toString('utf8')) as { temperature?: number; humidity?: number };
      if (!(typeof p.temperature === 'number' && p.temperature > 26)) return;
      const dn = topic.split('/')[2];
      post(JSON.stringify({ dn, t: p.temperature, h: p.humidity })).then(() => { bare.count++; bare.waiter?.(); }, (err: Error) => console.log(`  ${err.message}`));
    });
    await subscriber.subscribeAsync(`/${PK}/+/user/bare`, { qos: 1 });
    const publisher = await client(broker.url, broker.login);
    clients.push(publisher);
    // Both sides ready: one passing message through each.
    for (const [level, c] of [['ours', ours], ['bare', bare]] as const) {
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => publisher.publish(`/${PK}/warm/user/${level}`, payloadOf(9), { qos: 1 }), 100);
        const give = setTimeout(() => { clearInterval(t); reject(new Error(`${level}: nothing reached the MNS within 60 s`)); }, 60_000);
        c.waiter = () => { clearInterval(t); clearTimeout(give); c.waiter = undefined; resolve(); };
      });
    }
    await new Promise((r) => setTimeout(r, 500)); // stragglers of the warm-up
    // Rounds of 800: Mosquitto queues at most 1,000 QoS 1 messages per subscriber (max_queued_messages) and drops
    // the rest, so a flood larger than that would measure the broker's drops, not the pipelines.
    const cpu0 = process.cpuUsage();
    const cmp = await compare('whole path: our flow vs bare pipeline', floodSide('our flow', publisher, 'ours', ours), floodSide('bare', publisher, 'bare', bare), 800, 9);
    const cpu = process.cpuUsage(cpu0);
    console.log(`  (process CPU for both sides and the publisher: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)`);
    return [report(cmp, 0.8, 'our flow', 'bare')];
  } finally {
    await helper.unload();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
    await new Promise<void>((resolve) => { mns.child.once('exit', () => resolve()); mns.child.kill('SIGTERM'); });
  }
}
