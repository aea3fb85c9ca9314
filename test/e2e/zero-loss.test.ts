// Zero loss across crashes (issue 12), with real processes: simulated devices publish sequence-numbered QoS 1 messages
// at a steady rate to Mosquitto; a real `node-red` takes them with IoT device in (persistent session, MQTT 5) → SQL
// rule → MNS topic out (outbox on disk) → the local MNS, whose topic feeds a queue. Meanwhile: an MNS outage, a
// `kill -9` of Node-RED during it, a graceful restart during it, and a `kill -9` at full rate after it. Every
// sequence number must reach the MNS queue at least once, or leave through output 2 with a reason; duplicates are
// counted and printed.
//
// ZERO_LOSS_COUNT (default 6000) and ZERO_LOSS_RATE (messages/s, default 250) size the run; `npm run test:soak` runs
// the 20,000.
import assert from 'node:assert/strict';
import { connect, type MqttClient } from 'mqtt';
import { startLocalMns, AK, type LocalMns } from '../mns/support';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../iot-nodes/mosquitto';
import { startNodeRed, type FlowNode, type RedProcess } from '../support/red-process';

const COUNT = Number(process.env.ZERO_LOSS_COUNT ?? 6000);
const RATE = Number(process.env.ZERO_LOSS_RATE ?? 250);
const DEVICES = 4;
const PK = 'a1ZeroLoss01';
const TOPIC = `/${PK}/+/user/seq`;

function flows(mosq: Mosquitto, local: LocalMns): FlowNode[] {
  return [
    { id: 'zl-tab', type: 'tab', label: 'zero loss' },
    { id: 'zl-broker', type: 'aliyun-iot-broker', name: 'mosquitto', mode: 'mqtt', url: mosq.url, clientId: 'node-red-zero-loss', protocolVersion: '5', keepalive: 60, cleanSession: false },
    { id: 'zl-creds', type: 'aliyun-credentials', name: 'mns', mode: 'accessKey' },
    { id: 'zl-in', type: 'aliyun-iot-device-in', z: 'zl-tab', broker: 'zl-broker', topic: TOPIC, qos: '1', format: 'auto', ackMode: process.env.ZERO_LOSS_ACK ?? 'complete', ackTimeout: '60', x: 100, y: 100, wires: [['zl-rule']] },
    { id: 'zl-rule', type: 'aliyun-iot-sql-rule', z: 'zl-tab', name: 'seq', sql: `SELECT seq, deviceName() AS device FROM "${TOPIC}"`, dataType: 'JSON', timezone: 'UTC', strict: false, tags: [], nonMatching: 'drop', outputs: 1, x: 300, y: 100, wires: [['zl-out']] },
    {
      id: 'zl-out',
      type: 'aliyun-mns-topic-out',
      z: 'zl-tab',
      aliyunCredentials: 'zl-creds',
      endpointType: 'custom',
      endpoint: local.mns.url,
      topic: 'telemetry',
      bodyEncoding: 'json',
      retries: '60',
      retryDelays: '0.5, 1',
      concurrency: '16',
      timeout: '5',
      outbox: process.env.ZERO_LOSS_OUTBOX ?? 'disk',
      x: 500,
      y: 100,
      wires: [[], ['zl-failed']],
    },
    // Output 2 in the log, where the test reads it (across every run of the process).
    { id: 'zl-failed', type: 'debug', z: 'zl-tab', name: 'ZEROLOSS-OUTPUT2', active: true, tosidebar: false, console: true, complete: 'true', targetType: 'full', x: 700, y: 140, wires: [] },
  ];
}

describe(`end to end: zero loss across crashes (${COUNT} messages at ${RATE}/s)`, function () {
  this.timeout(Math.max(240_000, (COUNT / RATE) * 1000 * 3 + 120_000));
  let mosq: Mosquitto;
  let local: LocalMns;
  let red: RedProcess;
  const devices: MqttClient[] = [];

  before(async function () {
    requireMosquitto(this);
    // Keep everything for the persistent session while Node-RED is away, and let many messages be in flight.
    mosq = await startMosquitto({ config: ['max_queued_messages 0', 'max_inflight_messages 1000'] });
    local = await startLocalMns();
    red = await startNodeRed({ install: 'link', flows: flows(mosq, local), credentials: { 'zl-creds': { ...AK } }, logLevel: 'info' });
    for (let d = 0; d < DEVICES; d++) {
      const c = connect(mosq.url, { clientId: `zl-device-${d}`, reconnectPeriod: 0 });
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      devices.push(c);
    }
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all(devices.splice(0).map((c) => c.endAsync(true)));
    await red?.stop();
    await local?.mns.stop();
    await mosq?.stop();
  });

  it('every sequence number reaches the MNS queue at least once (or output 2 with a reason), none missing', async function () {
    const arrived = new Map<number, number>();
    local.mns.events.on('enqueued', (e: { queue: string; message: { body: string } }) => {
      if (e.queue !== 'app') return;
      const seq = (JSON.parse(e.message.body) as { seq: number }).seq;
      arrived.set(seq, (arrived.get(seq) ?? 0) + 1);
    });

    // Devices publish at a steady rate; each publish resolves when Mosquitto has it (QoS 1).
    let sent = 0;
    const publishes: Array<Promise<unknown>> = [];
    const tickMs = 20;
    const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
    const sending = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (let i = 0; i < perTick && sent < COUNT; i++) {
          const seq = sent++;
          const d = seq % DEVICES;
          publishes.push(devices[d].publishAsync(`/${PK}/dev${d}/user/seq`, JSON.stringify({ seq }), { qos: 1 }));
        }
        if (sent >= COUNT) {
          clearInterval(timer);
          resolve();
        }
      }, tickMs);
    });
    const reached = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = setInterval(() => {
          if (sent >= n) {
            clearInterval(check);
            resolve();
          }
        }, 5);
      });

    // 1. An MNS outage long enough for a crash and a graceful restart inside it.
    await reached(Math.floor(COUNT * 0.1));
    const outage = local.mns.faults.outage(12_000);
    await reached(Math.floor(COUNT * 0.1) + RATE); // about a second into the outage
    if (process.env.ZERO_LOSS_TRACE) console.log('before the first crash', sent, arrived.size);
    await red.crash(); // kill -9 during the outage
    const events: string[] = [`kill -9 during the outage at ${sent}`];
    if (process.env.ZERO_LOSS_TRACE) console.log(events[0], arrived.size);
    await red.restart(); // graceful stop and start, still during the outage
    events.push(`graceful restart during the outage at ${sent}`);
    if (process.env.ZERO_LOSS_TRACE) console.log('restarted', sent, arrived.size);
    await outage;
    events.push(`outage over at ${sent}`);
    if (process.env.ZERO_LOSS_TRACE) console.log('outage over', sent, arrived.size);
    // 2. kill -9 at full rate, MNS healthy.
    await reached(Math.min(COUNT - 1, Math.max(sent + RATE, Math.floor(COUNT * 0.8))));
    await red.crash();
    events.push(`kill -9 at full rate at ${sent}`);
    if (process.env.ZERO_LOSS_TRACE) console.log('crashed again', sent, arrived.size);
    await sending;
    await Promise.all(publishes);
    if (process.env.ZERO_LOSS_TRACE) console.log('all sent', sent, arrived.size);

    // Wait (event-driven, with a deadline) until every sequence number is in the queue or on output 2.
    // Output 2 records as the debug node prints them (util.inspect: single quotes); the device's bytes are in the
    // record's base64OriginalPayload. (The JSON error records of a "lost at stop" log line do not count.)
    const onOutput2 = (): Set<number> => {
      const s = new Set<number>();
      for (const m of red.log().matchAll(/base64OriginalPayload: '([A-Za-z0-9+/=]+)'/g)) {
        const seq = (JSON.parse(Buffer.from(m[1], 'base64').toString('utf8')) as { seq?: unknown }).seq;
        if (typeof seq === 'number') s.add(seq);
      }
      return s;
    };
    const missing = (): number[] => {
      const out2 = onOutput2();
      const m: number[] = [];
      for (let i = 0; i < COUNT; i++) if (!arrived.has(i) && !out2.has(i)) m.push(i);
      return m;
    };
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => {
        local.mns.events.off('enqueued', on);
        const m = missing();
        reject(new Error(`${m.length} sequence numbers missing after the deadline, e.g. ${m.slice(0, 20).join(', ')}\n--- Node-RED log (end) ---\n${red.log().slice(-4000)}`));
      }, 120_000);
      const on = (): void => {
        if (arrived.size < COUNT && missing().length > 0) return;
        clearTimeout(deadline);
        local.mns.events.off('enqueued', on);
        resolve();
      };
      local.mns.events.on('enqueued', on);
      on();
    });

    const dupes = [...arrived.values()].filter((c) => c > 1).length;
    const extra = [...arrived.values()].reduce((a, c) => a + c - 1, 0);
    const out2 = onOutput2();
    console.log(
      `      ${COUNT} sent; ${arrived.size} distinct in the MNS queue, ${dupes} of them more than once (${extra} extra copies); ` +
        `${out2.size} on output 2. ${events.join('; ')}`,
    );
    assert.deepEqual(missing(), [], 'no sequence number missing');
  });
});
