// The IoT nodes in "MQTT broker" mode against a real Mosquitto: receive, publish, overlapping filters, TLS with a
// test CA, a persistent session across a Node-RED restart, and a close that leaves nothing running.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { IotConnection } from '../../lib/iot/connection';
import { makeTestCa, requireMosquitto, startMosquitto, type Mosquitto, type TestCa } from './mosquitto';
import { collect, errorsOf, load, liveHandles, trackTimers, waitStatus, type StatusArg } from './support';

helper.init(require.resolve('node-red'));

const PK = 'a1B2c3D4e5F';
const PROPERTY_TOPIC = `/sys/${PK}/dev01/thing/event/property/post`;
const connected = (s: StatusArg): boolean => s.text === 'node-red:common.status.connected';

async function bareClient(url: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const c = connect(url, { reconnectPeriod: 0, ...extra });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

function brokerDef(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'b1', type: 'aliyun-iot-broker', mode: 'mqtt', url, keepalive: 60, cleanSession: true, protocolVersion: '4', ...extra };
}

describe('IoT nodes against Mosquitto (MQTT broker mode)', function () {
  let mosq: Mosquitto;
  let ca: TestCa;
  const clients: MqttClient[] = [];

  before(async function () {
    requireMosquitto(this);
    ca = makeTestCa();
    mosq = await startMosquitto({ tls: ca });
  });
  after(async function () {
    await mosq?.stop();
  });
  afterEach(async function () {
    await helper.unload();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  it('device in sends topic, parsed payload and msg.iot for an Alink property post', async function () {
    await load([
      brokerDef(mosq.url),
      { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/sys/${PK}/+/thing/event/property/post`, qos: 1, format: 'auto', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const got = collect(helper.getNode('out'));
    const inNode = helper.getNode('in1');
    await waitStatus(inNode, connected);
    const pubr = await bareClient(mosq.url);
    clients.push(pubr);
    const body = { id: '4711', version: '1.0', params: { temperature: 21.5 }, method: 'thing.event.property.post' };
    // The subscription may not be active yet right after CONNACK: publish until the first copy arrives.
    const first = got.next(1);
    const timer = setInterval(() => pubr.publish(PROPERTY_TOPIC, JSON.stringify(body), { qos: 1 }), 100);
    const [msg] = await first.finally(() => clearInterval(timer));
    assert.equal(msg.topic, PROPERTY_TOPIC);
    assert.deepEqual(msg.payload, body);
    const iot = msg.iot as Record<string, unknown>;
    assert.equal(iot.productKey, PK);
    assert.equal(iot.deviceName, 'dev01');
    assert.equal(iot.topicClass, 'system');
    assert.equal(iot.messageId, '4711');
    assert.equal(iot.topic, PROPERTY_TOPIC);
    assert.equal(iot.qos, 1);
    assert.ok(Buffer.isBuffer(iot.raw));
    assert.equal((iot.raw as Buffer).toString(), JSON.stringify(body));
    assert.ok(typeof iot.receivedAt === 'number' && Math.abs((iot.receivedAt as number) - Date.now()) < 10_000);
  });

  it('payload formats: auto keeps non-JSON text as a string and generates a messageId; string; buffer', async function () {
    await load([
      brokerDef(mosq.url),
      { id: 'inAuto', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/+/user/#`, qos: 1, format: 'auto', wires: [['oa']] },
      { id: 'inStr', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/+/user/#`, qos: 1, format: 'string', wires: [['os']] },
      { id: 'inBuf', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/+/user/#`, qos: 1, format: 'buffer', wires: [['ob']] },
      { id: 'oa', type: 'helper' },
      { id: 'os', type: 'helper' },
      { id: 'ob', type: 'helper' },
    ]);
    const [a, s, b] = ['oa', 'os', 'ob'].map((id) => collect(helper.getNode(id)));
    await waitStatus(helper.getNode('inAuto'), connected);
    const pubr = await bareClient(mosq.url);
    clients.push(pubr);
    const ready = a.next(1);
    const timer = setInterval(() => pubr.publish(`/${PK}/dev02/user/probe`, 'probe', { qos: 1 }), 100);
    await ready.finally(() => clearInterval(timer));
    // Probes still in flight arrive before this marker (one publisher, one order).
    await pubr.publishAsync(`/${PK}/dev02/user/probe`, 'sync', { qos: 1 });
    await Promise.all([a, s, b].map((g) => waitFor(g, (m) => String((m as Record<string, unknown>).payload) === 'sync')));
    const base = { a: a.messages.length, s: s.messages.length, b: b.messages.length };
    await pubr.publishAsync(`/${PK}/dev02/user/update`, '{"x":1}', { qos: 1 });
    await pubr.publishAsync(`/${PK}/dev02/user/update`, 'hello', { qos: 1 });
    await pubr.publishAsync(`/${PK}/dev02/user/update`, Buffer.from([0xff, 0x00, 0xfe]), { qos: 1 });
    const [am, sm, bm] = await Promise.all([a.next(base.a + 3), s.next(base.s + 3), b.next(base.b + 3)]);
    const tail = <T>(list: T[]): T[] => list.slice(-3);
    const ap = tail(am).map((m) => (m as Record<string, unknown>).payload);
    assert.deepEqual(ap[0], { x: 1 });
    assert.equal(ap[1], 'hello');
    assert.ok(Buffer.isBuffer(ap[2]), 'bytes that are not UTF-8 stay a Buffer in auto mode');
    assert.deepEqual(tail(sm).map((m) => (m as Record<string, unknown>).payload), ['{"x":1}', 'hello', Buffer.from([0xff, 0x00, 0xfe]).toString('utf8')]);
    for (const m of tail(bm)) assert.ok(Buffer.isBuffer((m as Record<string, unknown>).payload));
    const iot = (tail(am)[1] as Record<string, Record<string, unknown>>).iot;
    assert.equal(iot.topicClass, 'custom');
    assert.equal(iot.deviceName, 'dev02');
    assert.match(String(iot.messageId), /^\d{16,20}$/, 'a generated numeric messageId when the payload has no Alink id');
    const ids = new Set(am.map((m) => (m as Record<string, Record<string, unknown>>).iot.messageId));
    assert.equal(ids.size, am.length, 'generated messageIds are unique');
  });

  for (const protocolVersion of ['4', '5']) {
    it(`overlapping filters on one connection: each device in gets each message exactly once (MQTT ${protocolVersion === '4' ? '3.1.1' : '5'})`, async function () {
      const filters = protocolVersion === '5' ? [`/${PK}/#`, `/${PK}/+/user/update`, `/${PK}/dev01/user/+`] : [`/${PK}/#`, `/${PK}/+/user/update`, `/${PK}/+/user/update`];
      await load([
        brokerDef(mosq.url, { protocolVersion }),
        ...filters.map((topic, i) => ({ id: `in${i}`, type: 'aliyun-iot-device-in', broker: 'b1', topic, qos: 1, wires: [[`h${i}`]] })),
        ...filters.map((_t, i) => ({ id: `h${i}`, type: 'helper' })),
      ]);
      const got = filters.map((_t, i) => collect<{ topic: string; payload: unknown }>(helper.getNode(`h${i}`)));
      await waitStatus(helper.getNode('in0'), connected);
      const pubr = await bareClient(mosq.url);
      clients.push(pubr);
      // Wait until every subscription is active: a probe that all filters match reaches all nodes.
      const probeTopic = `/${PK}/dev01/user/update`;
      const ready = Promise.all(got.map((g) => g.next(1)));
      const timer = setInterval(() => pubr.publish(probeTopic, 'probe', { qos: 1 }), 100);
      await ready.finally(() => clearInterval(timer));
      // Let stray probe copies drain: one more marker, seen by all, ends the warm-up.
      await pubr.publishAsync(probeTopic, 'warmup-end', { qos: 1 });
      await Promise.all(got.map((g) => waitFor(g, (m) => m.payload === 'warmup-end')));
      const start = got.map((g) => g.messages.length);
      await pubr.publishAsync(`/${PK}/dev01/user/update`, 'both', { qos: 1 });
      await pubr.publishAsync(`/${PK}/dev09/user/other`, 'only-hash', { qos: 1 });
      await pubr.publishAsync(`/${PK}/dev01/user/update`, 'end', { qos: 1 });
      await Promise.all(got.map((g) => waitFor(g, (m) => m.payload === 'end')));
      const payloads = got.map((g, i) => g.messages.slice(start[i]).map((m) => m.payload));
      assert.deepEqual(payloads[0], ['both', 'only-hash', 'end']);
      assert.deepEqual(payloads[1], ['both', 'end']);
      assert.deepEqual(payloads[2], ['both', 'end']);
    });
  }

  it('device out publishes with the configured topic or msg.topic, QoS 1 and retain, and passes msg on', async function () {
    await load([
      brokerDef(mosq.url),
      { id: 'o1', type: 'aliyun-iot-device-out', mode: 'mqtt', broker: 'b1', topic: '', qos: 1, retain: true, wires: [['h']] },
      { id: 'o2', type: 'aliyun-iot-device-out', mode: 'mqtt', broker: 'b1', topic: `/${PK}/dev01/user/fixed`, qos: 0, retain: false, wires: [] },
      { id: 'h', type: 'helper' },
    ]);
    const sub = await bareClient(mosq.url);
    clients.push(sub);
    await sub.subscribeAsync(`/${PK}/dev01/user/#`, { qos: 1 });
    const passed = collect(helper.getNode('h'));
    const fixed = nextOn(sub, `/${PK}/dev01/user/fixed`);
    helper.getNode('o2').receive({ topic: '/ignored/by/config', payload: { set: 1 } });
    assert.equal((await fixed).payload.toString(), '{"set":1}');
    const retainedTopic = `/${PK}/dev01/user/retained-${Date.now()}`;
    const live = nextOn(sub, retainedTopic);
    helper.getNode('o1').receive({ topic: retainedTopic, payload: 'keep me' });
    assert.equal((await live).payload.toString(), 'keep me');
    const [out] = await passed.next(1);
    assert.equal(out.topic, retainedTopic);
    // A subscriber that arrives later gets the retained message.
    const late = await bareClient(mosq.url);
    clients.push(late);
    const retained = nextOn(late, retainedTopic);
    await late.subscribeAsync(retainedTopic, { qos: 1 });
    const r = await retained;
    assert.equal(r.payload.toString(), 'keep me');
    assert.equal(r.retain, true);
    await late.publishAsync(retainedTopic, '', { retain: true, qos: 1 });
  });

  it('device out without a topic anywhere ends with a Catch-able error; nothing is published', async function () {
    await load([
      { id: 'tab', type: 'tab' },
      { ...brokerDef(mosq.url), z: 'tab' },
      { id: 'o1', z: 'tab', type: 'aliyun-iot-device-out', mode: 'mqtt', broker: 'b1', topic: '', qos: 1, wires: [] },
      { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['h']] },
      { id: 'h', z: 'tab', type: 'helper' },
    ]);
    const caught = collect<{ error: { message: string } }>(helper.getNode('h'));
    helper.getNode('o1').receive({ payload: 'x' });
    const [m] = await caught.next(1);
    assert.match(m.error.message, /topic is empty/);
    helper.getNode('o1').receive({ topic: '/a/+/b', payload: 'x' });
    const [, m2] = await caught.next(2);
    assert.match(m2.error.message, /wildcard/);
  });

  it('refuses a bad topic filter at deploy, saying what to fix', async function () {
    await load([
      brokerDef(mosq.url),
      { id: 'bad', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/a/b#', qos: 0, wires: [] },
      { id: 'bad2', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/a/#', shareGroup: 'g/x', qos: 0, wires: [] },
    ]);
    const bad = helper.getNode('bad');
    const s = await waitStatus(bad, (x) => x.fill === 'red');
    assert.equal(s.text, 'invalid topic filter');
    assert.match(errorsOf(bad).join('\n'), /"#" must be a whole level/);
    assert.match(errorsOf(helper.getNode('bad2')).join('\n'), /group "g\/x" must not contain/);
  });

  it('shared subscription: two connections in one $share group split the stream', async function () {
    await load([
      brokerDef(mosq.url, { id: 'b1' }),
      brokerDef(mosq.url, { id: 'b2' }),
      { id: 'i1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/+/user/shared`, shareGroup: 'workers', qos: 1, wires: [['h1']] },
      { id: 'i2', type: 'aliyun-iot-device-in', broker: 'b2', topic: `/${PK}/+/user/shared`, shareGroup: 'workers', qos: 1, wires: [['h2']] },
      { id: 'h1', type: 'helper' },
      { id: 'h2', type: 'helper' },
    ]);
    const g1 = collect<{ payload: unknown }>(helper.getNode('h1'));
    const g2 = collect<{ payload: unknown }>(helper.getNode('h2'));
    await Promise.all([waitStatus(helper.getNode('i1'), connected), waitStatus(helper.getNode('i2'), connected)]);
    const pubr = await bareClient(mosq.url);
    clients.push(pubr);
    // Publish until both members got something, then count: every message went to exactly one of them.
    let n = 0;
    const both = Promise.all([g1.next(1), g2.next(1)]);
    const timer = setInterval(() => pubr.publish(`/${PK}/dev01/user/shared`, String(n++), { qos: 1 }), 20);
    await both.finally(() => clearInterval(timer));
    const last = String(n - 1);
    await new Promise<void>((resolve) => {
      const check = (): void => {
        const all = [...g1.messages, ...g2.messages].map((m) => m.payload);
        if (all.includes(Number(last)) || all.includes(last)) resolve();
        else setImmediate(check);
      };
      check();
    });
    const all = [...g1.messages, ...g2.messages].map((m) => String(m.payload));
    assert.equal(new Set(all).size, all.length, 'no message delivered twice');
  });

  it('TLS with a test CA connects and receives; an untrusted server certificate is not accepted', async function () {
    await load([
      brokerDef(mosq.tlsUrl as string, { id: 'good', ca: ca.ca }),
      brokerDef(mosq.tlsUrl as string, { id: 'wrongca', ca: ca.otherCa }),
      { id: 'i1', type: 'aliyun-iot-device-in', broker: 'good', topic: '/tls/#', qos: 1, wires: [['h']] },
      { id: 'i2', type: 'aliyun-iot-device-in', broker: 'wrongca', topic: '/tls/#', qos: 1, wires: [] },
      { id: 'h', type: 'helper' },
    ]);
    const got = collect<{ payload: unknown }>(helper.getNode('h'));
    await waitStatus(helper.getNode('i1'), connected);
    const s = await waitStatus(helper.getNode('i2'), (x) => x.fill === 'red');
    assert.match(String(s.text), /^retrying in \d+ s$/);
    const pubr = await bareClient(mosq.tlsUrl as string, { ca: ca.ca });
    clients.push(pubr);
    const first = got.next(1);
    const timer = setInterval(() => pubr.publish('/tls/x', 'secure', { qos: 1 }), 100);
    const [m] = await first.finally(() => clearInterval(timer));
    assert.equal(m.payload, 'secure');
  });

  it('persistent session: QoS 1 messages published while Node-RED was stopped arrive after it starts again', async function () {
    const clientId = `nr-persist-${Date.now()}`;
    // Inside a tab, as in a real flow: then device in closes before its broker, which is when a stray UNSUBSCRIBE
    // at stop would empty the session (nodes outside any tab close in another order and would hide that).
    const flow = [
      { id: 'tp', type: 'tab' },
      brokerDef(mosq.url, { clientId, cleanSession: false }),
      { id: 'in1', z: 'tp', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/persist/#', qos: 1, wires: [['h']] },
      { id: 'h', z: 'tp', type: 'helper' },
    ];
    await load(flow);
    let got = collect<{ payload: unknown }>(helper.getNode('h'));
    await waitStatus(helper.getNode('in1'), connected);
    const pubr = await bareClient(mosq.url);
    clients.push(pubr);
    const probe = got.next(1);
    const timer = setInterval(() => pubr.publish('/persist/probe', 'probe', { qos: 1 }), 100);
    await probe.finally(() => clearInterval(timer));
    await helper.unload(); // Node-RED stops: a clean DISCONNECT, the session stays on the broker.

    for (let i = 0; i < 5; i++) await pubr.publishAsync('/persist/data', `while-away-${i}`, { qos: 1 });

    await load(flow);
    got = collect<{ payload: unknown }>(helper.getNode('h'));
    const msgs = await got.next(5);
    assert.deepEqual(
      msgs.map((m) => m.payload).filter((p) => p !== 'probe'),
      [0, 1, 2, 3, 4].map((i) => `while-away-${i}`),
    );
  });

  it('a persistent session without a fixed client ID is refused at deploy', async function () {
    await load([
      brokerDef(mosq.url, { clientId: '', cleanSession: false }),
      { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/x', qos: 1, wires: [] },
    ]);
    const s = await waitStatus(helper.getNode('in1'), (x) => x.fill === 'red');
    assert.equal(s.text, 'invalid broker configuration');
    assert.match(errorsOf(helper.getNode('b1')).join('\n'), /persistent session .* needs a fixed client ID/);
  });

  it('register/deregister: a removed user leaves the connection up; removing the last one closes it; a new user reopens it', async function () {
    const broker = brokerDef(mosq.url);
    const i1 = { id: 'i1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/life/#', qos: 1, wires: [['h']] };
    const i2 = { id: 'i2', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/other/#', qos: 1, wires: [] };
    const h = { id: 'h', type: 'helper' };
    await load([broker, i1, i2, h]);
    await waitStatus(helper.getNode('i1'), connected);
    const b1 = helper.getNode('b1') as unknown as { connection: IotConnection };
    const first = b1.connection;
    // Deploy "modified nodes" without i2: i2 is removed, the config node and i1 stay.
    await helper.setFlows([broker, i1, h] as never, 'nodes');
    assert.equal(b1.connection, first, 'same connection object');
    assert.equal(first.connected, true, 'still connected');
    assert.equal(first.connects, 1, 'no reconnect');
    const got = collect<{ payload: unknown }>(helper.getNode('h'));
    const pubr = await bareClient(mosq.url);
    clients.push(pubr);
    const one = got.next(1);
    const timer = setInterval(() => pubr.publish('/life/x', 'alive', { qos: 1 }), 100);
    await one.finally(() => clearInterval(timer));
    // Now remove the last user: the connection closes although the config node stays.
    await helper.setFlows([broker] as never, 'nodes');
    assert.equal(first.isStopped, true);
    assert.equal(first.connected, false);
    // A new user brings a new connection.
    await helper.setFlows([broker, { ...i1, id: 'i3', wires: [] }] as never, 'nodes');
    await waitStatus(helper.getNode('i3'), connected);
    assert.notEqual(b1.connection, first);
    assert.equal(b1.connection.connected, true);
  });

  it('recovers by itself when the broker comes back, with the retry shown meanwhile', async function () {
    const own = await startMosquitto();
    try {
      await load([
        brokerDef(own.url),
        { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/back/#', qos: 1, wires: [['h']] },
        { id: 'h', type: 'helper' },
      ]);
      const inNode = helper.getNode('in1');
      await waitStatus(inNode, connected);
      const port = own.port;
      await own.stop();
      const retry = await waitStatus(inNode, (s) => /^retrying in \d+ s$/.test(String(s.text)));
      assert.equal(retry.fill, 'red');
      const again = await startMosquitto({ port });
      own.stop = () => again.stop();
      const conn = (helper.getNode('b1') as unknown as { connection: IotConnection }).connection;
      await new Promise<void>((resolve) => {
        const on = (s: { state: string }): void => {
          if (s.state === 'connected') {
            conn.off('status', on);
            resolve();
          }
        };
        if (conn.connected) resolve();
        else conn.on('status', on);
      });
      assert.equal(conn.connects, 2);
      const calls = (inNode.status as unknown as { getCalls(): Array<{ thisValue: unknown; args: StatusArg[] }> }).getCalls().filter((c) => c.thisValue === inNode);
      assert.equal(calls[calls.length - 1].args[0].text, 'node-red:common.status.connected', 'the status says connected again');
      // Subscriptions are back too.
      const got = collect<{ payload: unknown }>(helper.getNode('h'));
      const pubr = await bareClient(again.url);
      clients.push(pubr);
      const one = got.next(1);
      const timer = setInterval(() => pubr.publish('/back/x', 'again', { qos: 1 }), 100);
      const [m] = await one.finally(() => clearInterval(timer));
      assert.equal(m.payload, 'again');
    } finally {
      await helper.unload();
      await own.stop();
    }
  });

  it('three users share one connection; close leaves no sockets or timers', async function () {
    const timers = trackTimers();
    const before = liveHandles();
    const flow = [
      brokerDef(mosq.url),
      { id: 'i1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/a/#', qos: 0, wires: [] },
      { id: 'i2', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/b/#', qos: 0, wires: [] },
      { id: 'o1', type: 'aliyun-iot-device-out', mode: 'mqtt', broker: 'b1', topic: '/a/x', qos: 1, wires: [] },
    ];
    await load(flow);
    await Promise.all(['i1', 'i2', 'o1'].map((id) => waitStatus(helper.getNode(id), connected)));
    const conn = (helper.getNode('b1') as unknown as { connection: { connects: number } }).connection;
    assert.equal(conn.connects, 1, 'three users share one connection');
    assert.equal(liveHandles().sockets - before.sockets, 1, 'exactly one socket');
    await helper.unload();
    const after = liveHandles();
    assert.equal(after.sockets, before.sockets, 'no socket left');
    assert.deepEqual(await timers.stop(), [], 'no timer of ours or of mqtt.js left');
  });
});

function nextOn(client: MqttClient, topic: string): Promise<{ payload: Buffer; retain: boolean }> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer, packet: { retain: boolean }): void => {
      if (t !== topic) return;
      client.off('message', on);
      resolve({ payload, retain: packet.retain });
    };
    client.on('message', on);
  });
}

function waitFor<T>(g: { messages: T[]; next(count?: number): Promise<T[]> }, test: (m: T) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const loop = (): void => {
      if (g.messages.some(test)) {
        resolve();
        return;
      }
      g.next(g.messages.length + 1).then(loop, reject);
    };
    loop();
  });
}
