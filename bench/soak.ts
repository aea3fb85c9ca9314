// Soak: the whole path (Mosquitto → IoT device in → SQL rule → MNS topic out → the local MNS in its own process)
// at a fixed rate for SOAK_MINUTES (default 10). Prints the process's RSS every 30 s after a one-minute warm-up
// and the growth rate fitted over those samples; target ≤ 1 MiB/min. `npm run bench -- soak` (not in the default run).
import { helper, loadUninstrumented } from './runtime';
import brokerModule from '../nodes/aliyun-iot-broker/aliyun-iot-broker';
import deviceInModule from '../nodes/aliyun-iot-device-in/aliyun-iot-device-in';
import sqlRuleModule from '../nodes/aliyun-iot-sql-rule/aliyun-iot-sql-rule';
import credentialsModule from '../nodes/aliyun-credentials/aliyun-credentials';
import topicOutModule from '../nodes/aliyun-mns-topic-out/aliyun-mns-topic-out';
import type { MqttClient } from 'mqtt';
import { client, startBroker } from './ingest';
import { AK, startMnsProcess } from './mns';
import type { Verdict } from './measure';

const PK = 'a1B2c3D4e5F';
const MiB = 1024 * 1024;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) ** 2; }
  return den === 0 ? 0 : num / den;
}

export async function benchSoak(): Promise<Verdict[]> {
  const minutes = Number(process.env.SOAK_MINUTES ?? 10);
  const rate = Number(process.env.SOAK_RATE ?? 500);
  const warmupS = Math.min(60, minutes * 10);
  const broker = await startBroker();
  const mns = await startMnsProcess();
  console.log(`\nSoak — device in → SQL rule → MNS topic out at ${rate} msg/s for ${minutes} min (QoS 1, a new device per message, ` +
    `30 % pass the rule), broker: ${broker.name}; RSS every 30 s after ${warmupS} s warm-up (target growth ≤ 1 MiB/min)`);
  const clients: MqttClient[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await loadUninstrumented(
      [brokerModule, deviceInModule, sqlRuleModule, credentialsModule, topicOutModule],
      [
        { id: 'tab', type: 'tab' },
        { id: 'b', z: 'tab', type: 'aliyun-iot-broker', mode: 'mqtt', url: broker.url, username: broker.username ?? '', keepalive: 60, cleanSession: true, protocolVersion: '4' },
        { id: 'in', z: 'tab', type: 'aliyun-iot-device-in', broker: 'b', topic: `/${PK}/+/user/soak`, qos: 1, format: 'auto', wires: [['rule']] },
        {
          id: 'rule', z: 'tab', type: 'aliyun-iot-sql-rule', name: '', dataType: 'JSON', timezone: 'Asia/Shanghai', tags: [], nonMatching: 'drop', outputs: 1,
          sql: `SELECT deviceName() AS dn, temperature AS t, humidity AS h FROM "/${PK}/+/user/soak" WHERE temperature > 26`,
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
    let published = 0;
    let failed = 0;
    helper.getNode('ok').on('input', () => { published++; });
    helper.getNode('failed').on('input', () => { failed++; });
    const publisher = await client(broker.url, broker.login);
    clients.push(publisher);
    // Wait for the subscription: one passing message must come out of the MNS node.
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => publisher.publish(`/${PK}/warm/user/soak`, JSON.stringify({ temperature: 40, humidity: 1 }), { qos: 1 }), 100);
      const give = setTimeout(() => { clearInterval(t); reject(new Error('nothing reached the MNS within 60 s')); }, 60_000);
      const check = setInterval(() => { if (published > 0) { clearInterval(t); clearInterval(check); clearTimeout(give); resolve(); } }, 20);
    });
    // Fixed rate: every 10 ms, as many messages as the clock says are due (no drift, no bursts beyond one tick).
    let sent = 0;
    const t0 = performance.now();
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      for (; sent < due; sent++) {
        const i = sent;
        publisher.publish(`/${PK}/dev${i % 100_000}/user/soak`, JSON.stringify({ temperature: 20 + (i % 10), humidity: 40 + (i % 30), seq: i }), { qos: 1 });
      }
    }, 10);
    const xs: number[] = [];
    const ys: number[] = [];
    const end = t0 + minutes * 60_000;
    let next = t0 + warmupS * 1000;
    while (next <= end) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      const s = (performance.now() - t0) / 1000;
      const rss = process.memoryUsage().rss;
      xs.push(s / 60);
      ys.push(rss / MiB);
      console.log(`  t=${s.toFixed(0).padStart(4)} s  RSS ${(rss / MiB).toFixed(1)} MiB  heap ${(process.memoryUsage().heapUsed / MiB).toFixed(1)} MiB  ` +
        `sent ${sent}  published to MNS ${published}  failed ${failed}`);
      next += 30_000;
    }
    clearInterval(timer);
    timer = undefined;
    const growth = xs.length >= 2 ? slope(xs, ys) : 0;
    const ok = growth <= 1 && failed === 0;
    console.log(`  RSS growth after warm-up: ${growth.toFixed(2)} MiB/min over ${xs.length} samples (target ≤ 1 MiB/min), ` +
      `${failed} failed publishes ${ok ? 'ok' : 'BELOW TARGET'}`);
    // As a Verdict: the allowed growth over the measured one (≥ 1 passes).
    return [{ label: 'soak RSS growth', ratio: growth <= 0 ? Infinity : 1 / growth, target: 1, ok }];
  } finally {
    if (timer) clearInterval(timer);
    await helper.unload();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
    await new Promise<void>((resolve) => { mns.child.once('exit', () => resolve()); mns.child.kill('SIGTERM'); });
  }
}
