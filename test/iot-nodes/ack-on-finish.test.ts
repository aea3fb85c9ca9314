// IoT device in acknowledges a QoS 1 message (PUBACK) when the flow has finished with it, not when it enters the
// flow: against a real Mosquitto, with a node that holds each message until the test finishes it, as a slow flow
// (an MNS outage behind MNS topic out) would.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Node, NodeAPI } from 'node-red';
import helper from 'node-red-node-test-helper';
import { connect, type MqttClient, type Packet } from 'mqtt';
import type { IotConnection } from '../../lib/iot/connection';
import { requireMosquitto, startMosquitto, type Mosquitto } from './mosquitto';
import { iotNodes, waitStatus, type StatusArg } from './support';

helper.init(require.resolve('node-red'));

interface Held {
  msg: { topic: string; payload: string };
  done: (err?: Error) => void;
}

/** A node that keeps every message until the test calls its done. */
const held: Held[] = [];
const arrivals = new EventEmitter();
function holdModule(RED: NodeAPI): void {
  function Hold(this: Node, def: Record<string, unknown>): void {
    RED.nodes.createNode(this, def as never);
    this.on('input', (msg: unknown, _send: unknown, done: (err?: Error) => void) => {
      held.push({ msg: msg as Held['msg'], done });
      arrivals.emit('held', held.length);
    });
  }
  RED.nodes.registerType('hold', Hold as never);
}

function heldCount(n: number, timeoutMs = 10_000): Promise<void> {
  if (held.length >= n) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const on = (): void => {
      if (held.length < n) return;
      clearTimeout(timer);
      arrivals.off('held', on);
      resolve();
    };
    const timer = setTimeout(() => {
      arrivals.off('held', on);
      reject(new Error(`expected ${n} held messages, have ${held.length}`));
    }, timeoutMs);
    arrivals.on('held', on);
  });
}

const connected = (s: StatusArg): boolean => s.text === 'node-red:common.status.connected';

function clientOf(): MqttClient {
  const conn = (helper.getNode('b1') as unknown as { connection: IotConnection }).connection;
  return (conn as unknown as { client: MqttClient }).client;
}

/** The message IDs of the PUBACKs the connection sends from now on, and of the PUBLISHes it receives. */
function watch(client: MqttClient): { acks: number[]; received: Map<string, number>; ack(id: number, timeoutMs?: number): Promise<void> } {
  const acks: number[] = [];
  const received = new Map<string, number>();
  const waiters: Array<{ id: number; resolve: () => void }> = [];
  client.on('packetsend', (p: Packet) => {
    if (p.cmd !== 'puback') return;
    acks.push(p.messageId as number);
    for (const w of waiters.filter((x) => x.id === p.messageId)) w.resolve();
  });
  client.on('packetreceive', (p: Packet) => {
    if (p.cmd === 'publish') received.set(String(p.payload), p.messageId as number);
  });
  return {
    acks,
    received,
    ack(id, timeoutMs = 10_000) {
      if (acks.includes(id)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no PUBACK for ${id}; sent: ${acks.join(',')}`)), timeoutMs);
        waiters.push({ id, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

/** Waits until the broker and client have exchanged everything sent so far (a round trip on the connection). */
async function roundTrip(client: MqttClient): Promise<void> {
  await client.publishAsync('/roundtrip', 'x', { qos: 1 });
}

describe('IoT device in: acknowledges QoS 1 when the flow has finished (Mosquitto)', function () {
  this.timeout(30_000);
  let mosq: Mosquitto;
  let pubr: MqttClient;
  let clientId: string;
  let n = 0;

  const flow = (extra: Record<string, unknown> = {}, protocolVersion = '4'): Array<Record<string, unknown>> => [
    { id: 'f1', type: 'tab', label: 'ack' },
    { id: 'b1', type: 'aliyun-iot-broker', mode: 'mqtt', url: mosq.url, clientId, cleanSession: false, keepalive: 60, protocolVersion },
    { id: 'in1', z: 'f1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/ack/#', qos: 1, format: 'string', wires: [['h1']], ...extra },
    { id: 'h1', z: 'f1', type: 'hold', x: 300, y: 100, wires: [] },
  ];
  const load = (f: Array<Record<string, unknown>>): Promise<void> => helper.load([...iotNodes, holdModule] as never, f as never) as unknown as Promise<void>;

  /** Connected and subscribed: publishes probes until one reaches the hold node, then finishes and forgets them. */
  async function ready(): Promise<void> {
    await waitStatus(helper.getNode('in1'), connected);
    const send = (): void => void pubr.publish('/ack/probe', 'probe', { qos: 1 });
    const timer = setInterval(send, 100);
    send();
    try {
      await heldCount(1);
    } finally {
      clearInterval(timer);
    }
    await roundTrip(clientOf());
    for (const h of held.splice(0)) h.done();
    await roundTrip(pubr);
  }

  before(async function () {
    requireMosquitto(this);
    mosq = await startMosquitto();
    pubr = connect(mosq.url, { reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      pubr.once('connect', () => resolve());
      pubr.once('error', reject);
    });
  });
  after(async function () {
    await pubr?.endAsync(true);
    await mosq?.stop();
  });
  beforeEach(function () {
    clientId = `nr-ack-${process.pid}-${n++}`;
    held.length = 0;
  });
  afterEach(async function () {
    for (const h of held.splice(0)) h.done();
    await helper.unload();
  });

  it('no PUBACK while the message is in the flow; PUBACK once it is finished', async function () {
    await load(flow());
    await ready();
    const w = watch(clientOf());
    await pubr.publishAsync('/ack/1', 'one', { qos: 1 });
    await heldCount(1);
    await roundTrip(clientOf());
    const id = w.received.get('one') as number;
    assert.ok(id !== undefined);
    assert.equal(w.acks.includes(id), false, 'not acknowledged while the flow holds it');
    held[0].done();
    await w.ack(id);
  });

  it('many messages in flight at once; PUBACKs go out in the order the messages arrived', async function () {
    await load(flow());
    await ready();
    const w = watch(clientOf());
    // Mosquitto's default max_inflight_messages (20) bounds MQTT 3.1.1: stay under it.
    for (let i = 0; i < 10; i++) await pubr.publishAsync(`/ack/${i}`, `m${i}`, { qos: 1 });
    await heldCount(10); // all ten are in the flow at once: none waits for an earlier one to finish
    const ids = Array.from({ length: 10 }, (_, i) => w.received.get(`m${i}`) as number);
    // Finish them last to first: nothing may be acknowledged before m0 is.
    for (let i = 9; i >= 1; i--) held[i].done();
    await roundTrip(clientOf());
    assert.deepEqual(w.acks.filter((a) => ids.includes(a)), [], 'later messages wait for the first');
    held[0].done();
    await w.ack(ids[9]);
    assert.deepEqual(w.acks.filter((a) => ids.includes(a)), ids, 'in arrival order');
  });

  it('done(err) (an error the flow reported) finishes the message: acknowledged', async function () {
    await load(flow());
    await ready();
    const w = watch(clientOf());
    await pubr.publishAsync('/ack/e', 'erred', { qos: 1 });
    await heldCount(1);
    held[0].done(new Error('handled by the error path'));
    await w.ack(w.received.get('erred') as number);
  });

  it('not finished within the processing timeout: not acknowledged, status says so, the broker redelivers it after a restart', async function () {
    await load(flow({ ackTimeout: 1 }));
    const in1 = helper.getNode('in1');
    await ready();
    const w = watch(clientOf());
    await pubr.publishAsync('/ack/slow', 'slow', { qos: 1 });
    await heldCount(1);
    await waitStatus(in1, (s) => s.fill === 'yellow' && /1 not acknowledged/.test(String(s.text)));
    // A later message is acknowledged as usual: the timed-out one no longer holds the order back.
    await pubr.publishAsync('/ack/next', 'next', { qos: 1 });
    await heldCount(2);
    held[1].done();
    await w.ack(w.received.get('next') as number);
    assert.equal(w.acks.includes(w.received.get('slow') as number), false, 'the timed-out message is not acknowledged');
    held[0].done(); // finishing after the timeout changes nothing
    await roundTrip(clientOf());
    assert.equal(w.acks.includes(w.received.get('slow') as number), false);

    await helper.unload();
    held.length = 0;
    await load(flow({ ackTimeout: 1 }));
    await heldCount(1);
    assert.equal(held[0].msg.payload, 'slow', 'redelivered on the next connection');
  });

  it('Node-RED stops while messages are in the flow: they are redelivered after the start', async function () {
    await load(flow());
    await ready();
    for (let i = 0; i < 5; i++) await pubr.publishAsync(`/ack/s${i}`, `s${i}`, { qos: 1 });
    await heldCount(5);
    held[0].done(); // the first one was finished
    await roundTrip(clientOf());
    held.length = 0; // the rest are still in the flow when it stops
    await helper.unload();
    await load(flow());
    await heldCount(4);
    assert.deepEqual(held.map((h) => h.msg.payload), ['s1', 's2', 's3', 's4']);
  });

  it('ack mode "on arrival": acknowledged while the flow still holds it', async function () {
    await load(flow({ ackMode: 'arrival' }));
    await ready();
    const w = watch(clientOf());
    await pubr.publishAsync('/ack/a', 'arrival', { qos: 1 });
    await heldCount(1);
    await w.ack(w.received.get('arrival') as number);
  });

  it('MQTT 5: announces a Receive Maximum, and more messages than Mosquitto lets a 3.1.1 client have in flight are in the flow at once', async function () {
    await load(flow({}, '5'));
    await ready();
    const client = clientOf();
    assert.equal((client.options.properties as { receiveMaximum?: number }).receiveMaximum, 1000);
    const w = watch(client);
    for (let i = 0; i < 30; i++) await pubr.publishAsync(`/ack/v5/${i}`, `v${i}`, { qos: 1 });
    await heldCount(30);
    for (const h of held) h.done();
    await w.ack(w.received.get('v29') as number);
    assert.equal(w.acks.length >= 30, true);
  });
});
