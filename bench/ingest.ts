// Ingest: messages per second delivered by an IoT device in node (through a real Node-RED runtime, to the next node)
// against a bare mqtt.js subscriber that parses the same JSON, on the same broker, in the same run. The broker is a
// real Mosquitto when installed, else the local IoT platform (aedes) with its application account.
import { helper, loadUninstrumented } from './runtime';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import brokerModule from '../nodes/aliyun-iot-broker/aliyun-iot-broker';
import deviceInModule from '../nodes/aliyun-iot-device-in/aliyun-iot-device-in';
import { startIotPlatform } from '../emulators/iot';
import { mosquittoAvailable, startMosquitto } from '../test/iot-nodes/mosquitto';
import { compare, report, type Side, type Verdict } from './measure';

const PK = 'a1B2c3D4e5F';
export const PAYLOAD = Buffer.from(
  JSON.stringify({ id: '123', version: '1.0', params: { temperature: { value: 23.5, time: 1700000000000 }, humidity: { value: 61, time: 1700000000000 } }, method: 'thing.event.property.post' }),
);
const ROUND_TIMEOUT_MS = 60_000;

interface Broker {
  url: string;
  login: IClientOptions;
  credentials: Record<string, string>;
  username?: string;
  name: string;
  stop(): Promise<void>;
}

export async function startBroker(): Promise<Broker> {
  if (mosquittoAvailable()) {
    const m = await startMosquitto();
    return { url: m.url, login: {}, credentials: {}, name: 'mosquitto', stop: () => m.stop() };
  }
  const app = { username: 'bench-app', password: 'bench-app-password' };
  const p = await startIotPlatform({ application: app, openApiPort: false, wsPort: false });
  return { url: p.mqttUrl, login: app, credentials: { password: app.password }, username: app.username, name: 'local IoT platform (aedes; install mosquitto for a separate broker process)', stop: () => p.stop() };
}

export async function client(url: string, login: IClientOptions): Promise<MqttClient> {
  const c = connect(url, { reconnectPeriod: 0, ...login });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** Publishes n messages to `topic` and resolves when `counter()` says n more arrived. */
export function side(name: string, publisher: MqttClient, topic: string, arrivals: { count: number; waiter?: () => void }, qos: 0 | 1 = 0, payload: Buffer = PAYLOAD): Side {
  return {
    name,
    run(n: number): Promise<number> {
      return new Promise((resolve, reject) => {
        const target = arrivals.count + n;
        const timer = setTimeout(() => {
          arrivals.waiter = undefined;
          reject(new Error(`${name}: ${target - arrivals.count} of ${n} messages did not arrive within ${ROUND_TIMEOUT_MS} ms`));
        }, ROUND_TIMEOUT_MS);
        arrivals.waiter = () => {
          if (arrivals.count >= target) {
            clearTimeout(timer);
            arrivals.waiter = undefined;
            resolve(n);
          }
        };
        for (let i = 0; i < n; i++) publisher.publish(topic, payload, { qos });
      });
    },
  };
}

export async function benchIngest(): Promise<Verdict[]> {
  const broker = await startBroker();
  console.log(`\nIngest — IoT device in node ÷ bare mqtt.js subscriber (JSON.parse), same broker: ${broker.name} (target ≥ 0.8×)`);
  const clients: MqttClient[] = [];
  try {
    await loadUninstrumented(
      [brokerModule, deviceInModule],
      [
        { id: 'b', type: 'aliyun-iot-broker', mode: 'mqtt', url: broker.url, username: broker.username ?? '', keepalive: 60, cleanSession: true, protocolVersion: '4' },
        { id: 'in', type: 'aliyun-iot-device-in', broker: 'b', topic: `/${PK}/+/user/ours`, qos: 0, format: 'auto', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ],
      { b: broker.credentials },
    );

    const ours = { count: 0, waiter: undefined as undefined | (() => void) };
    (helper.getNode('out') as unknown as { on(ev: string, fn: () => void): void }).on('input', () => {
      ours.count++;
      ours.waiter?.();
    });
    const base = { count: 0, waiter: undefined as undefined | (() => void) };
    const subscriber = await client(broker.url, broker.login);
    clients.push(subscriber);
    let sink = 0;
    subscriber.on('message', (_topic, payload) => {
      sink += (JSON.parse(payload.toString('utf8')) as { id: string }).id.length;
      base.count++;
      base.waiter?.();
    });
    await subscriber.subscribeAsync(`/${PK}/+/user/base`, { qos: 0 });
    const publisher = await client(broker.url, broker.login);
    clients.push(publisher);

    // Wait until the device in node's subscription is active: one message must arrive.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => publisher.publish(`/${PK}/dev01/user/ours`, PAYLOAD, { qos: 0 }), 50);
      const give = setTimeout(() => {
        clearInterval(timer);
        reject(new Error('the device in node received nothing within 20 s'));
      }, 20_000);
      ours.waiter = () => {
        clearInterval(timer);
        clearTimeout(give);
        ours.waiter = undefined;
        resolve();
      };
    });
    // Let stray warm-up messages land before counting.
    await publisher.publishAsync(`/${PK}/dev01/user/base`, PAYLOAD, { qos: 1 });

    const c = await compare('device in vs bare mqtt.js subscriber', side('device-in', publisher, `/${PK}/dev01/user/ours`, ours), side('mqtt.js', publisher, `/${PK}/dev01/user/base`, base), 10_000, 7);
    if (Number.isNaN(sink)) console.log('(checksum NaN)');
    return [report(c, 0.8, 'device-in', 'mqtt.js')];
  } finally {
    await helper.unload();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
  }
}

/**
 * Device in, QoS 1: acknowledging when the flow has finished (the default; the completion tracker on Node-RED's
 * message hooks) ÷ acknowledging on arrival, two nodes on two connections to the same Mosquitto, MQTT 5 (Receive
 * Maximum 1000), in the same run.
 */
export async function benchAck(): Promise<Verdict[]> {
  if (!mosquittoAvailable()) {
    console.log('\nDevice in acknowledgement: skipped (needs mosquitto)');
    return [];
  }
  const m = await startMosquitto({ config: ['max_inflight_messages 1000', 'max_queued_messages 0'] });
  console.log('\nDevice in, QoS 1 — acknowledge when the flow has finished ÷ on arrival, same Mosquitto, MQTT 5 (target ≥ 0.8×)');
  const clients: MqttClient[] = [];
  // The test helper's RED has no message hooks; the real runtime's RED.hooks is @node-red/util's registry.
  const withHooks = (RED: { hooks?: unknown }): void => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (!RED.hooks) RED.hooks = (require('@node-red/util') as { hooks: unknown }).hooks;
    (deviceInModule as unknown as (r: unknown) => void)(RED);
  };
  try {
    const broker = (id: string) => ({ id, type: 'aliyun-iot-broker', mode: 'mqtt', url: m.url, keepalive: 60, cleanSession: true, protocolVersion: '5' });
    await loadUninstrumented(
      [brokerModule, withHooks],
      [
        broker('b1'),
        broker('b2'),
        { id: 'fin', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/+/user/finish`, qos: 1, format: 'auto', ackMode: 'complete', wires: [['outFin']] },
        { id: 'arr', type: 'aliyun-iot-device-in', broker: 'b2', topic: `/${PK}/+/user/arrival`, qos: 1, format: 'auto', ackMode: 'arrival', wires: [['outArr']] },
        { id: 'outFin', type: 'helper' },
        { id: 'outArr', type: 'helper' },
      ],
    );
    const counter = (id: string) => {
      const c = { count: 0, waiter: undefined as undefined | (() => void) };
      (helper.getNode(id) as unknown as { on(ev: string, fn: () => void): void }).on('input', () => {
        c.count++;
        c.waiter?.();
      });
      return c;
    };
    const fin = counter('outFin');
    const arr = counter('outArr');
    const publisher = await client(m.url, {});
    clients.push(publisher);
    for (const [topic, c] of [[`/${PK}/dev01/user/finish`, fin], [`/${PK}/dev01/user/arrival`, arr]] as const) {
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => publisher.publish(topic, PAYLOAD, { qos: 1 }), 50);
        const give = setTimeout(() => reject(new Error(`${topic}: nothing within 20 s`)), 20_000);
        c.waiter = () => {
          clearInterval(timer);
          clearTimeout(give);
          c.waiter = undefined;
          resolve();
        };
      });
    }
    await publisher.publishAsync(`/${PK}/dev01/user/none`, PAYLOAD, { qos: 1 });
    const c = await compare(
      'device in QoS 1: ack on finish vs on arrival',
      side('ack on finish', publisher, `/${PK}/dev01/user/finish`, fin, 1),
      side('ack on arrival', publisher, `/${PK}/dev01/user/arrival`, arr, 1),
      5000,
      5,
    );
    return [report(c, 0.8, 'ack on finish', 'ack on arrival')];
  } finally {
    await helper.unload();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await m.stop();
  }
}
