// Device simulator: N devices that log in to an (Alibaba-style) MQTT broker through the real protocol, post Alink
// property posts with drifting Temperature / Humidity, answer property set and a custom down-link topic.
// Emulator-side code: it signs with the local platform's own implementation, never with lib/.
import { EventEmitter } from 'node:events';
import { connect, type MqttClient } from 'mqtt';
import { expectedPassword, type DeviceSignMethod } from '../iot/auth';
import type { DeviceRegistry } from '../iot/registry';

export interface SimulatedDeviceSpec {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

export interface SimulatorOptions {
  /** Broker URL, e.g. platform.mqttUrl or platform.wsUrl. */
  url: string;
  /** The devices to run. */
  devices?: SimulatedDeviceSpec[];
  /** Or: create `count` devices of `productKey` in this registry (names sim-0001, …), reusing existing ones. */
  registry?: DeviceRegistry;
  productKey?: string;
  count?: number;
  /** Milliseconds between property posts of each device (default 5000). 0 turns periodic posts off. */
  intervalMs?: number;
  /** Default hmacsha256. */
  signMethod?: DeviceSignMethod;
  /** MQTT keepalive in seconds (default 60; the platform accepts 30-1200). */
  keepalive?: number;
  /** Reconnect delay in ms after losing the connection (default 2000; 0 = do not reconnect). */
  reconnectPeriod?: number;
  /** Short name of the custom down-link topic /{pk}/{dn}/user/<name> (default "get"). */
  downTopic?: string;
  /** Short name of the custom reply topic /{pk}/{dn}/user/<name> (default "update"). */
  upTopic?: string;
  /** Seed of the pseudo-random drift, for repeatable runs (default: random). */
  seed?: number;
}

export interface SimulatorCounts {
  /** Everything the devices published. */
  sent: number;
  /** Everything the devices received. */
  received: number;
  propertyPosts: number;
  postReplies: number;
  propertySets: number;
  downlinks: number;
  errors: number;
}

export interface SimulatedDevice {
  productKey: string;
  deviceName: string;
  properties: Record<string, number | string | boolean>;
  client: MqttClient;
  /** Posts the current properties now; resolves when the broker has them (QoS 1). */
  post(): Promise<void>;
}

export interface Simulator {
  devices: SimulatedDevice[];
  events: EventEmitter;
  counts(): SimulatorCounts;
  stop(): Promise<void>;
}

interface DeviceState extends SimulatedDevice {
  timer?: NodeJS.Timeout;
  nextId: number;
}

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const specs = resolveDevices(options);
  const interval = options.intervalMs ?? 5000;
  const down = options.downTopic ?? 'get';
  const up = options.upTopic ?? 'update';
  const random = mulberry32(options.seed ?? Math.floor(Math.random() * 2 ** 31));
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const counts: SimulatorCounts = { sent: 0, received: 0, propertyPosts: 0, postReplies: 0, propertySets: 0, downlinks: 0, errors: 0 };
  const devices: DeviceState[] = [];
  let stopped = false;

  const publish = (d: DeviceState, topic: string, body: unknown): Promise<void> =>
    d.client.publishAsync(topic, JSON.stringify(body), { qos: 1 }).then(
      () => {
        counts.sent++;
      },
      (err: Error) => {
        counts.errors++;
        events.emit('error', err, d.deviceName);
      },
    );

  const post = async (d: DeviceState): Promise<void> => {
    drift(d.properties, random);
    const now = Date.now();
    const params: Record<string, { value: unknown; time: number }> = {};
    for (const [k, v] of Object.entries(d.properties)) params[k] = { value: v, time: now };
    const body = { id: String(d.nextId++ % 4294967296), version: '1.0', params, method: 'thing.event.property.post' };
    await publish(d, `/sys/${d.productKey}/${d.deviceName}/thing/event/property/post`, body);
    counts.propertyPosts++;
    events.emit('post', d.deviceName, body);
  };

  const onMessage = (d: DeviceState, topic: string, payload: Buffer): void => {
    counts.received++;
    const sys = `/sys/${d.productKey}/${d.deviceName}/thing/`;
    if (topic === `${sys}event/property/post_reply`) {
      counts.postReplies++;
      events.emit('post_reply', d.deviceName, parseJson(payload));
      return;
    }
    if (topic === `${sys}service/property/set`) {
      counts.propertySets++;
      const request = parseJson(payload) as { id?: unknown; params?: unknown } | undefined;
      const id = typeof request?.id === 'string' || typeof request?.id === 'number' ? String(request.id) : '0';
      const params = request?.params;
      if (!params || typeof params !== 'object' || Array.isArray(params)) {
        void publish(d, `${topic}_reply`, { id, code: 460, data: {}, message: 'request parameter error', version: '1.0' });
        return;
      }
      for (const [k, v] of Object.entries(params as Record<string, unknown>)) {
        if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') d.properties[k] = v;
      }
      void publish(d, `${topic}_reply`, { id, code: 200, data: {}, message: 'success', version: '1.0' }).then(() =>
        events.emit('property_set', d.deviceName, params),
      );
      return;
    }
    if (topic === `/${d.productKey}/${d.deviceName}/user/${down}`) {
      counts.downlinks++;
      const text = payload.toString('utf8');
      const parsed = parseJson(payload);
      const body = {
        request: parsed === undefined ? text : parsed,
        deviceName: d.deviceName,
        receivedAt: Date.now(),
        properties: { ...d.properties },
      };
      void publish(d, `/${d.productKey}/${d.deviceName}/user/${up}`, body).then(() => events.emit('downlink', d.deviceName, body));
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= shutdown();
    return stopping;
  };
  const shutdown = async (): Promise<void> => {
    stopped = true;
    for (const d of devices) clearInterval(d.timer);
    await Promise.all(devices.map((d) => d.client.endAsync().catch(() => d.client.endAsync(true))));
    events.removeAllListeners();
  };

  try {
    await Promise.all(
      specs.map(async (spec, index) => {
        const client = await login(spec, options);
        const d: DeviceState = {
          productKey: spec.productKey,
          deviceName: spec.deviceName,
          client,
          properties: { Temperature: round(20 + random() * 8), Humidity: round(40 + random() * 25) },
          nextId: 1,
          post: () => post(d),
        };
        devices.push(d);
        client.on('message', (topic, payload) => onMessage(d, topic, payload));
        client.on('error', (err) => {
          counts.errors++;
          if (!stopped) events.emit('error', err, d.deviceName);
        });
        await client.subscribeAsync(
          [
            `/sys/${spec.productKey}/${spec.deviceName}/thing/event/property/post_reply`,
            `/sys/${spec.productKey}/${spec.deviceName}/thing/service/property/set`,
            `/${spec.productKey}/${spec.deviceName}/user/${down}`,
          ],
          { qos: 1 },
        );
        if (interval > 0) {
          // Spread the devices over one interval so that N devices do not post in bursts.
          const startAfter = Math.floor((interval * index) / specs.length);
          d.timer = setTimeout(() => {
            if (stopped) return;
            void post(d);
            d.timer = setInterval(() => void post(d), interval);
          }, startAfter);
        }
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return { devices, events, counts: () => ({ ...counts }), stop };
}

function resolveDevices(options: SimulatorOptions): SimulatedDeviceSpec[] {
  const list = [...(options.devices ?? [])];
  if (options.count !== undefined) {
    if (!options.registry || !options.productKey) throw new Error('count needs registry and productKey to create the devices');
    for (let i = 1; i <= options.count; i++) {
      const deviceName = `sim-${String(i).padStart(4, '0')}`;
      const record = options.registry.getDevice(options.productKey, deviceName) ?? options.registry.addDevice({ productKey: options.productKey, deviceName });
      list.push({ productKey: record.productKey, deviceName: record.deviceName, deviceSecret: record.deviceSecret });
    }
  }
  if (list.length === 0) throw new Error('no devices to simulate: give devices, or registry + productKey + count');
  return list;
}

async function login(spec: SimulatedDeviceSpec, options: SimulatorOptions): Promise<MqttClient> {
  const method = options.signMethod ?? 'hmacsha256';
  const timestamp = String(Date.now());
  const clientId = `${spec.productKey}.${spec.deviceName}`;
  const secure = /^(mqtts|wss):/.test(options.url) ? 2 : 3;
  const client = connect(options.url, {
    clientId: `${clientId}|securemode=${secure},signmethod=${method},timestamp=${timestamp}|`,
    username: `${spec.deviceName}&${spec.productKey}`,
    password: expectedPassword(method, spec.deviceSecret, clientId, spec.productKey, spec.deviceName, timestamp),
    keepalive: options.keepalive ?? 60,
    reconnectPeriod: options.reconnectPeriod ?? 2000,
    protocolVersion: 4,
    connectTimeout: 10_000,
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      cleanup();
      client.end(true);
      reject(new Error(`device ${spec.productKey}/${spec.deviceName} could not log in: ${err.message}`));
    };
    const ok = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      client.off('connect', ok);
      client.off('error', fail);
    };
    client.on('connect', ok);
    client.on('error', fail);
  });
  return client;
}

/** Random walk with a pull back to a comfortable middle, kept within physical bounds. */
function drift(props: Record<string, number | string | boolean>, random: () => number): void {
  if (typeof props.Temperature === 'number') {
    props.Temperature = round(clamp(props.Temperature + (random() - 0.5) * 0.6 + (24 - props.Temperature) * 0.02, -20, 60));
  }
  if (typeof props.Humidity === 'number') {
    props.Humidity = round(clamp(props.Humidity + (random() - 0.5) * 1.5 + (50 - props.Humidity) * 0.02, 0, 100));
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Small seeded PRNG (mulberry32) for repeatable drift. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
