// Shared helpers for the local IoT platform tests: real mqtt.js clients, waiting on events only.
import { EventEmitter, once as onceEvent } from 'node:events';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';

/** events.once for any emitter, including mqtt.js clients whose typed events do not fit its overloads. */
export function once(emitter: object, event: string): Promise<unknown[]> {
  return onceEvent(emitter as EventEmitter, event);
}

export interface Login {
  clientId: string;
  username: string;
  password: string;
}

/** Connects and resolves with the client, or rejects with the CONNACK refusal (err.code = return code). */
export async function connectClient(
  url: string,
  login: Login,
  extra: IClientOptions = {},
  beforeConnect?: (client: MqttClient) => void,
): Promise<MqttClient> {
  const client = connect(url, {
    clientId: login.clientId,
    username: login.username,
    password: login.password,
    reconnectPeriod: 0,
    keepalive: 60,
    protocolVersion: 4,
    connectTimeout: 5000,
    ...extra,
  });
  beforeConnect?.(client);
  try {
    await Promise.race([
      once(client, 'connect'),
      once(client, 'error').then(([err]) => Promise.reject(err as Error)),
      once(client, 'close').then(() => Promise.reject(new Error('closed before CONNACK'))),
    ]);
    return client;
  } catch (err) {
    await client.endAsync(true).catch(() => undefined);
    throw err;
  }
}

export async function refusalCode(url: string, login: Login, extra: IClientOptions = {}): Promise<number> {
  try {
    const client = await connectClient(url, login, extra);
    await client.endAsync(true);
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error('expected the CONNACK to refuse the login');
}

/** Resolves with the next message whose topic satisfies the test. */
export function nextMessage(client: MqttClient, topic: string | ((t: string) => boolean)): Promise<{ topic: string; payload: Buffer }> {
  const wanted = typeof topic === 'string' ? (t: string) => t === topic : topic;
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer): void => {
      if (!wanted(t)) return;
      client.off('message', onMessage);
      resolve({ topic: t, payload });
    };
    client.on('message', onMessage);
  });
}

export async function endAll(clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => c?.endAsync(true).catch(() => undefined)));
}

/** SUBACK return codes for the filters (mqtt.js rejects when one is 0x80; the codes are still in the packet). */
export async function subackCodes(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters);
    return granted.map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: Array<number | { qos: number }> } }).packet;
    if (!packet?.granted) throw err;
    return packet.granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}
