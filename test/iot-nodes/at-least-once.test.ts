// At-least-once through the IoT device in node with a persistent session (clean session off + fixed client ID),
// against a real Mosquitto. The nodes sit in a tab as in a real flow, so Node-RED closes device in before the broker
// config node (the order in which a stray UNSUBSCRIBE would reach the broker).
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import { connect, type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import type { IotConnection } from '../../lib/iot/connection';
import { requireMosquitto, startMosquitto, type Mosquitto } from './mosquitto';
import { collect, load, waitStatus, type StatusArg } from './support';

helper.init(require.resolve('node-red'));

const connected = (s: StatusArg): boolean => s.text === 'node-red:common.status.connected';
type Flow = Array<Record<string, unknown>>;

async function bareClient(url: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const c = connect(url, { reconnectPeriod: 0, ...extra });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

function connectionOf(): IotConnection {
  return (helper.getNode('b1') as unknown as { connection: IotConnection }).connection;
}

function clientOf(conn: IotConnection): MqttClient {
  return (conn as unknown as { client: MqttClient }).client;
}

/** Resolves with the first packet the connection's client receives or sends that satisfies the test. */
function nextPacket(client: MqttClient, event: 'packetreceive' | 'packetsend', test: (p: Packet) => boolean, timeoutMs = 10_000): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const on = (p: Packet): void => {
      if (!test(p)) return;
      clearTimeout(timer);
      client.off(event, on);
      resolve(p);
    };
    const timer = setTimeout(() => {
      client.off(event, on);
      reject(new Error(`no matching ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on(event, on);
  });
}

const isPublish = (topic: string) => (p: Packet) => p.cmd === 'publish' && p.topic === topic;

describe('IoT device in: at-least-once with a persistent session (Mosquitto)', function () {
  let mosq: Mosquitto;
  let pubr: MqttClient;
  let clientId: string;
  let seq = 0;

  const flowWith = (topic: string | null): Flow => [
    { id: 'f1', type: 'tab', label: 'at-least-once' },
    { id: 'b1', type: 'aliyun-iot-broker', mode: 'mqtt', url: mosq.url, clientId, cleanSession: false, keepalive: 60, protocolVersion: '4' },
    ...(topic === null ? [] : [{ id: 'in1', z: 'f1', type: 'aliyun-iot-device-in', broker: 'b1', topic, qos: 1, format: 'string', wires: [['h']] }]),
    // A second user keeps the connection up when in1 is removed.
    { id: 'in2', z: 'f1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/probe/#', qos: 1, format: 'string', wires: [['h']] },
    { id: 'h', z: 'f1', type: 'helper' },
  ];

  /** Publishes to /probe/… until one arrives at h: the subscriptions of this deploy are in place. */
  async function probe(got: ReturnType<typeof collect<{ topic: string; payload: string }>>): Promise<void> {
    const topic = `/probe/${seq++}`;
    const send = (): void => void pubr.publish(topic, 'probe', { qos: 1 });
    const timer = setInterval(send, 100);
    send();
    try {
      while (!got.messages.some((m) => m.topic === topic)) await got.next(got.messages.length + 1, 10_000);
    } finally {
      clearInterval(timer);
    }
  }

  before(async function () {
    requireMosquitto(this);
    mosq = await startMosquitto();
    pubr = await bareClient(mosq.url);
  });
  after(async function () {
    await pubr?.endAsync(true);
    await mosq?.stop();
  });
  beforeEach(function () {
    clientId = `nr-alo-${process.pid}-${seq++}`;
  });
  afterEach(async function () {
    await helper.unload();
  });

  it('Node-RED stopped (close with removed=false): QoS 1 messages published meanwhile all arrive after the start', async function () {
    const flow = flowWith('/data/#');
    await load(flow);
    await waitStatus(helper.getNode('in1'), connected);
    let got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(got);
    const sent: string[] = [];
    const client = clientOf(connectionOf());
    client.on('packetsend', (p) => sent.push(p.cmd));
    await helper.unload(); // stopFlows: every node closes with removed === false
    assert.deepEqual(sent, ['disconnect'], 'a plain DISCONNECT, no UNSUBSCRIBE');

    for (let i = 0; i < 10; i++) await pubr.publishAsync(`/data/${i}`, `while-stopped-${i}`, { qos: 1 });

    await load(flow);
    got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    const msgs = await got.next(10);
    assert.deepEqual(
      msgs.filter((m) => m.topic.startsWith('/data/')).map((m) => m.payload),
      Array.from({ length: 10 }, (_, i) => `while-stopped-${i}`),
    );
  });

  it('node removed (removed=true) or its filter changed: the old subscription is gone from the session', async function () {
    await load(flowWith('/old/#'));
    await waitStatus(helper.getNode('in1'), connected);
    let got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(got);

    // Filter changed by a "modified nodes" deploy: same node id, new filter.
    await helper.setFlows(flowWith('/new/#') as never, 'nodes');
    got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(got);
    // Removed by a deploy: in1 closes with removed === true; in2 keeps the connection (and session) up.
    await helper.setFlows(flowWith(null) as never, 'nodes');
    got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(got);
    const conn = connectionOf();
    await helper.unload();

    // Published while Node-RED is stopped: kept by the session only for subscriptions the session still has.
    await pubr.publishAsync('/old/x', 'for the old filter', { qos: 1 });
    await pubr.publishAsync('/new/x', 'for the removed node', { qos: 1 });

    await load(flowWith('/other/#'));
    got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(got);
    const after = connectionOf();
    assert.notEqual(after, conn);
    assert.deepEqual(got.messages.filter((m) => !m.topic.startsWith('/probe/')), [], 'nothing queued for the removed or changed subscriptions');
    assert.equal(after.unrouted, 0, 'the session delivered nothing that no node wanted');
  });

  it('a message that arrives while device in is detached is not acknowledged and comes again after the restart', async function () {
    const flow = flowWith('/late/#');
    await load(flow);
    await waitStatus(helper.getNode('in1'), connected);
    let got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(got);
    const conn = connectionOf();
    const client = clientOf(conn);
    const acks: Packet[] = [];
    client.on('packetsend', (p) => {
      if (p.cmd === 'puback') acks.push(p);
    });
    // What the device in close handler does when Node-RED stops: the handler goes, the subscription stays.
    conn.detach('in1');
    const received = nextPacket(client, 'packetreceive', isPublish('/late/1'));
    await pubr.publishAsync('/late/1', 'arrived while detached', { qos: 1 });
    const packet = (await received) as Packet & { messageId: number };
    assert.equal(got.messages.some((m) => m.topic === '/late/1'), false, 'not handed to a closed node');
    await helper.unload();
    assert.equal(acks.some((a) => (a as { messageId?: number }).messageId === packet.messageId), false, 'no PUBACK for it');
    assert.ok(conn.unacknowledged >= 1);

    await load(flow);
    got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    const msgs = await got.next(1);
    assert.deepEqual(msgs.map((m) => [m.topic, m.payload]), [['/late/1', 'arrived while detached']]);
  });

  it('a redeploy of device in: a message waiting for the restarted node reaches the new one and is acknowledged then', async function () {
    await load(flowWith('/redeploy/#'));
    await waitStatus(helper.getNode('in1'), connected);
    const got = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(got);
    const conn = connectionOf();
    const client = clientOf(conn);
    conn.detach('in1'); // as the close of a "modified nodes" redeploy does, just before the new node subscribes
    const received = nextPacket(client, 'packetreceive', isPublish('/redeploy/1'));
    await pubr.publishAsync('/redeploy/1', 'during the redeploy', { qos: 1 });
    const packet = (await received) as Packet & { messageId: number };
    const acked = nextPacket(client, 'packetsend', (p) => p.cmd === 'puback' && (p as { messageId?: number }).messageId === packet.messageId);
    // Redeploy in1 (changed name): the new node with the same id takes the subscription and the waiting message.
    const changed = flowWith('/redeploy/#').map((n) => (n.id === 'in1' ? { ...n, name: 'renamed' } : n));
    await helper.setFlows(changed as never, 'nodes');
    await acked;
    const h = collect<{ topic: string; payload: string }>(helper.getNode('h'));
    await probe(h);
    assert.ok([...got.messages, ...h.messages].some((m) => m.topic === '/redeploy/1' && m.payload === 'during the redeploy'));
    assert.equal(conn.unrouted, 0);
  });
});
