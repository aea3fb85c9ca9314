// The IoT nodes in "Alibaba Cloud IoT device" mode, and the down-link, against the local IoT platform (emulators/iot):
// good login, wrong secret, sign methods, duplicate client ID, ACL refusal, round trips by MQTT publish and OpenAPI Pub.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { startIotPlatform, type IotPlatform } from '../../emulators/iot';
import credentialsModule from '../../nodes/aliyun-credentials/aliyun-credentials';
import { signDevice, type SignMethod } from '../../lib/iot/signing';
import type { IotConnection } from '../../lib/iot/connection';
import { collect, errorsOf, iotNodes, waitStatus, type StatusArg } from './support';

helper.init(require.resolve('node-red'));

const PK = 'a1B2c3D4e5F';
const SECRET1 = '0123456789abcdef0123456789abcdef';
const SECRET2 = 'fedcba9876543210fedcba9876543210';
const APP = { username: 'nodered-app', password: 'app-password-123' };
const AK = { accessKeyId: 'LTAI5tIotNodesTest01', accessKeySecret: 'iot-nodes-test-secret-xyz', accountId: '1234567890123456' };
const connected = (s: StatusArg): boolean => s.text === 'node-red:common.status.connected';

function load(flow: Array<Record<string, unknown>>, credentials: Record<string, Record<string, string>> = {}): Promise<void> {
  const modules = [...iotNodes, credentialsModule as (RED: NodeAPI) => void];
  return helper.load(modules as never, flow as never, credentials as never) as unknown as Promise<void>;
}

/** A simulated device: logs in through the real protocol, answers every message on /user/get on /user/update. */
async function simulatedDevice(platform: IotPlatform, deviceName: string, secret: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const login = signDevice({ productKey: PK, deviceName, deviceSecret: secret, secureMode: 3 });
  const c = connect(platform.mqttUrl, { ...login, keepalive: 60, reconnectPeriod: 0, ...extra });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  await c.subscribeAsync(`/${PK}/${deviceName}/user/get`, { qos: 1 });
  c.on('message', (topic, payload) => {
    if (topic !== `/${PK}/${deviceName}/user/get`) return;
    c.publish(`/${PK}/${deviceName}/user/update`, JSON.stringify({ answer: payload.toString() }), { qos: 1 });
  });
  return c;
}

function deviceBroker(platform: IotPlatform, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const port = new URL(platform.mqttUrl).port;
  return {
    id: 'b1',
    type: 'aliyun-iot-broker',
    mode: 'device',
    instanceEndpoint: `127.0.0.1:${port}`,
    productKey: PK,
    deviceName: 'dev01',
    signMethod: 'hmacsha256',
    secureMode: 'tcp',
    keepalive: 60,
    cleanSession: true,
    protocolVersion: '4',
    ...extra,
  };
}

function appBroker(platform: IotPlatform, id = 'app'): Record<string, unknown> {
  return { id, type: 'aliyun-iot-broker', mode: 'mqtt', url: platform.mqttUrl, username: APP.username, keepalive: 60, cleanSession: true, protocolVersion: '4' };
}

describe('IoT nodes against the local IoT platform (Alibaba Cloud IoT device mode)', function () {
  let platform: IotPlatform;
  const clients: MqttClient[] = [];

  beforeEach(async function () {
    platform = await startIotPlatform({
      devices: [
        { productKey: PK, deviceName: 'dev01', deviceSecret: SECRET1 },
        { productKey: PK, deviceName: 'dev02', deviceSecret: SECRET2 },
      ],
      application: APP,
      iotInstanceId: 'iot-06z00test',
    });
    platform.accounts.addAccessKey(AK);
  });
  afterEach(async function () {
    await helper.unload();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await platform.stop();
  });

  it('logs in as the device with a signed clientId/username/password and receives its down-link topic', async function () {
    await load(
      [deviceBroker(platform), { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 1, wires: [['h']] }, { id: 'h', type: 'helper' }],
      { b1: { deviceSecret: SECRET1 } },
    );
    await waitStatus(helper.getNode('in1'), connected);
    const sessions = platform.connectedDevices();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].deviceName, 'dev01');
    assert.match(sessions[0].mqttClientId, new RegExp(`^${PK}\\.dev01\\|securemode=3,signmethod=hmacsha256,timestamp=\\d+\\|$`));
    const got = collect<{ topic: string; payload: unknown; iot: Record<string, unknown> }>(helper.getNode('h'));
    const app = connect(platform.mqttUrl, { ...APP, reconnectPeriod: 0 });
    clients.push(app);
    const first = got.next(1);
    const timer = setInterval(() => app.publish(`/${PK}/dev01/user/get`, '{"id":"77","cmd":"on"}', { qos: 1 }), 100);
    const [m] = await first.finally(() => clearInterval(timer));
    assert.deepEqual(m.payload, { id: '77', cmd: 'on' });
    assert.equal(m.iot.topicClass, 'custom');
    assert.equal(m.iot.messageId, '77');
  });

  for (const signMethod of ['hmacsha1', 'hmacmd5'] as SignMethod[]) {
    it(`logs in with sign method ${signMethod}`, async function () {
      await load([deviceBroker(platform, { signMethod }), { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 0, wires: [] }], {
        b1: { deviceSecret: SECRET1 },
      });
      await waitStatus(helper.getNode('in1'), connected);
      assert.match(platform.connectedDevices()[0].mqttClientId, new RegExp(`signmethod=${signMethod},`));
    });
  }

  it('over MQTT over WebSocket too', async function () {
    const ws = new URL(platform.wsUrl);
    await load([deviceBroker(platform, { instanceEndpoint: ws.host, websocket: true }), { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 0, wires: [] }], {
      b1: { deviceSecret: SECRET1 },
    });
    await waitStatus(helper.getNode('in1'), connected);
    assert.equal(platform.connectedDevices()[0].transport, 'ws');
  });

  it('persistent session as a device: QoS 1 down-link messages sent while Node-RED was stopped arrive after restart', async function () {
    const flow = [
      deviceBroker(platform, { cleanSession: false }),
      { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 1, wires: [['h']] },
      { id: 'h', type: 'helper' },
    ];
    const creds = { b1: { deviceSecret: SECRET1 } };
    await load(flow, creds);
    let got = collect<{ payload: unknown }>(helper.getNode('h'));
    await waitStatus(helper.getNode('in1'), connected);
    assert.match(platform.connectedDevices()[0].mqttClientId, /\|securemode=3,signmethod=hmacsha256\|$/, 'no timestamp: the same client ID after a restart');
    const app = connect(platform.mqttUrl, { ...APP, reconnectPeriod: 0 });
    clients.push(app);
    const probe = got.next(1);
    const timer = setInterval(() => app.publish(`/${PK}/dev01/user/get`, 'probe', { qos: 1 }), 100);
    await probe.finally(() => clearInterval(timer));
    await helper.unload();
    for (let i = 0; i < 3; i++) await app.publishAsync(`/${PK}/dev01/user/get`, `while-away-${i}`, { qos: 1 });
    await load(flow, creds);
    got = collect<{ payload: unknown }>(helper.getNode('h'));
    const msgs = await got.next(3);
    assert.deepEqual(msgs.map((m) => m.payload).filter((p) => p !== 'probe'), ['while-away-0', 'while-away-1', 'while-away-2']);
  });

  it('a wrong deviceSecret is refused and explained in the status of every user, without the secret anywhere', async function () {
    const wrong = 'not-the-right-secret-0000000000000';
    await load(
      [
        deviceBroker(platform),
        { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 0, wires: [] },
        { id: 'o1', type: 'aliyun-iot-device-out', mode: 'mqtt', broker: 'b1', topic: `/${PK}/dev01/user/update`, qos: 1, wires: [] },
      ],
      { b1: { deviceSecret: wrong } },
    );
    const text = 'not authorized: check deviceSecret and sign method';
    await waitStatus(helper.getNode('in1'), (s) => s.text === text);
    await waitStatus(helper.getNode('o1'), (s) => s.text === text);
    const conn = (helper.getNode('b1') as unknown as { connection: IotConnection }).connection;
    assert.equal(conn.status.state, 'refused');
    assert.ok((conn.status.retryInMs ?? 0) >= 500, 'retries later, not at once');
    const logged = [...errorsOf(helper.getNode('b1')), ...warningsOf(helper.getNode('b1'))].join('\n');
    assert.match(logged, /not authorized/);
    assert.ok(!logged.includes(wrong), 'the secret never appears in logs');
    assert.equal(platform.refusals().filter((r) => r.kind === 'connect').length >= 1, true);
  });

  it('an unsupported sign method or an out-of-range keepalive is refused at deploy with what to fix', async function () {
    await load(
      [
        deviceBroker(platform, { id: 'b1', signMethod: 'hmacsha512' }),
        deviceBroker(platform, { id: 'b2', keepalive: 10 }),
        { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 0, wires: [] },
        { id: 'in2', type: 'aliyun-iot-device-in', broker: 'b2', topic: `/${PK}/dev01/user/get`, qos: 0, wires: [] },
      ],
      { b1: { deviceSecret: SECRET1 }, b2: { deviceSecret: SECRET1 } },
    );
    await waitStatus(helper.getNode('in1'), (s) => s.text === 'invalid broker configuration');
    assert.match(errorsOf(helper.getNode('b1')).join('\n'), /sign method "hmacsha512" is not supported: use hmacsha256, hmacsha1 or hmacmd5/);
    assert.match(errorsOf(helper.getNode('b2')).join('\n'), /keepalive 10 s is out of range: the platform accepts 30-1200 s/);
    assert.equal(platform.connectedDevices().length, 0);
  });

  it('kicked by another connection with the same device: recognised, shown, and no reconnect storm', async function () {
    await load([deviceBroker(platform), { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 0, wires: [] }], {
      b1: { deviceSecret: SECRET1 },
    });
    const inNode = helper.getNode('in1');
    await waitStatus(inNode, connected);
    // The same device logs in elsewhere and keeps reconnecting when kicked (as a real device would).
    const other = await simulatedDevice(platform, 'dev01', SECRET1, { reconnectPeriod: 100 });
    clients.push(other);
    const s = await waitStatus(inNode, (x) => x.text === 'kicked: client ID in use elsewhere');
    assert.equal(s.fill, 'red');
    const conn = (helper.getNode('b1') as unknown as { connection: IotConnection }).connection;
    assert.equal(conn.status.state, 'kicked');
    assert.ok((conn.status.retryInMs ?? 0) >= 60_000, `holds off for a long time after a kick (got ${conn.status.retryInMs} ms)`);
    assert.ok(conn.connects <= 3, `few logins before giving way (got ${conn.connects})`);
    // The other connection keeps the device: once it is connected again, it is the only session.
    if (!other.connected) await new Promise<void>((resolve) => other.once('connect', () => resolve()));
    assert.equal(platform.connectedDevices().length, 1);
  });

  it('ACL: subscribing another device\'s topic is refused and shown on that node', async function () {
    await load(
      [
        deviceBroker(platform),
        { id: 'ok', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev01/user/get`, qos: 1, wires: [] },
        { id: 'bad', type: 'aliyun-iot-device-in', broker: 'b1', topic: `/${PK}/dev02/user/get`, qos: 1, wires: [] },
      ],
      { b1: { deviceSecret: SECRET1 } },
    );
    const s = await waitStatus(helper.getNode('bad'), (x) => x.text === 'subscription refused');
    assert.equal(s.fill, 'red');
    assert.match(errorsOf(helper.getNode('bad')).join('\n'), new RegExp(`refused the subscription to /${PK}/dev02/user/get`));
    const ok = helper.getNode('ok');
    const okCalls = (ok.status as unknown as { getCalls(): Array<{ thisValue: unknown; args: StatusArg[] }> }).getCalls().filter((c) => c.thisValue === ok);
    assert.equal(okCalls[okCalls.length - 1].args[0].text, 'node-red:common.status.connected', 'the node with an allowed topic stays connected');
    assert.ok(platform.refusals().some((r) => r.kind === 'subscribe' && r.topic === `/${PK}/dev02/user/get`));
  });

  it('down-link round trip by MQTT publish: device out → device → answer → device in', async function () {
    await load(
      [
        appBroker(platform),
        { id: 'o1', type: 'aliyun-iot-device-out', mode: 'mqtt', broker: 'app', topic: '', qos: 1, wires: [] },
        { id: 'in1', type: 'aliyun-iot-device-in', broker: 'app', topic: `/${PK}/+/user/update`, qos: 1, wires: [['h']] },
        { id: 'h', type: 'helper' },
      ],
      { app: { password: APP.password } },
    );
    const device = await simulatedDevice(platform, 'dev02', SECRET2);
    clients.push(device);
    await waitStatus(helper.getNode('in1'), connected);
    const got = collect<{ topic: string; payload: { answer: string }; iot: Record<string, unknown> }>(helper.getNode('h'));
    const first = got.next(1);
    const timer = setInterval(() => helper.getNode('o1').receive({ topic: `/${PK}/dev02/user/get`, payload: 'ping' }), 150);
    const [m] = await first.finally(() => clearInterval(timer));
    assert.equal(m.topic, `/${PK}/dev02/user/update`);
    assert.deepEqual(m.payload, { answer: 'ping' });
    assert.equal(m.iot.deviceName, 'dev02');
  });

  it('down-link round trip by IoT OpenAPI Pub: MessageId out, body Base64 on the wire, device answers', async function () {
    await load(
      [
        { id: 'cred', type: 'aliyun-credentials', mode: 'accessKey' },
        appBroker(platform),
        {
          id: 'o1',
          type: 'aliyun-iot-device-out',
          mode: 'pub',
          aliyunCredentials: 'cred',
          endpoint: platform.openApiUrl,
          iotInstanceId: 'iot-06z00test',
          productKey: PK,
          topic: `/${PK}/dev02/user/get`,
          qos: 1,
          wires: [['sent']],
        },
        { id: 'in1', type: 'aliyun-iot-device-in', broker: 'app', topic: `/${PK}/+/user/update`, qos: 1, wires: [['h']] },
        { id: 'sent', type: 'helper' },
        { id: 'h', type: 'helper' },
      ],
      { cred: { accessKeyId: AK.accessKeyId, accessKeySecret: AK.accessKeySecret }, app: { password: APP.password } },
    );
    const device = await simulatedDevice(platform, 'dev02', SECRET2);
    clients.push(device);
    await waitStatus(helper.getNode('in1'), connected);
    const sent = collect<{ pub: { messageId: string; requestId?: string } }>(helper.getNode('sent'));
    const answers = collect<{ payload: { answer: string } }>(helper.getNode('h'));
    const bytes = Buffer.from([0x00, 0x01, 0xfe, 0x41]);
    helper.getNode('o1').receive({ payload: bytes });
    const [s] = await sent.next(1);
    assert.match(s.pub.messageId, /^\d+$/);
    const calls = platform.openApi?.pubCalls() ?? [];
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].payload, bytes, 'the platform decoded MessageContent (Base64) back to the same bytes');
    assert.equal(calls[0].messageId, s.pub.messageId, 'msg.pub.messageId is the MessageId the platform returned');
    assert.equal(calls[0].qos, 1);
    const [a] = await answers.next(1);
    assert.deepEqual(a.payload, { answer: bytes.toString('utf8') });
    const delivered = platform.recentMessages(`/${PK}/dev02/user/get`);
    assert.deepEqual(delivered[delivered.length - 1].payload, bytes, 'the device got the raw bytes back from Base64');
  });

  it('OpenAPI Pub errors become typed, Catch-able errors with a clear status (InvalidTenant, throttling)', async function () {
    await load(
      [
        { id: 'tab', type: 'tab' },
        { id: 'cred', z: 'tab', type: 'aliyun-credentials', mode: 'accessKey' },
        { id: 'o1', z: 'tab', type: 'aliyun-iot-device-out', mode: 'pub', aliyunCredentials: 'cred', endpoint: platform.openApiUrl, iotInstanceId: 'iot-wrong', productKey: PK, topic: `/${PK}/dev02/user/get`, qos: 0, wires: [] },
        { id: 'o2', z: 'tab', type: 'aliyun-iot-device-out', mode: 'pub', aliyunCredentials: 'cred', endpoint: platform.openApiUrl, iotInstanceId: 'iot-06z00test', productKey: PK, topic: `/${PK}/dev02/user/get`, qos: 0, wires: [] },
        { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['h']] },
        { id: 'h', z: 'tab', type: 'helper' },
      ],
      { cred: { accessKeyId: AK.accessKeyId, accessKeySecret: AK.accessKeySecret } },
    );
    const caught = collect<{ error: { message: string; source: { id: string } } }>(helper.getNode('h'));
    helper.getNode('o1').receive({ payload: 'x' });
    const [e1] = await caught.next(1);
    assert.equal(e1.error.source.id, 'o1');
    assert.match(e1.error.message, /iot\.common\.InvalidTenant: the IotInstanceId is wrong, missing, or not in this account/);
    await waitStatus(helper.getNode('o1'), (s) => s.text === 'failed: iot.common.InvalidTenant');
    platform.setFaults({ throttleNext: 1 });
    helper.getNode('o2').receive({ payload: 'x' });
    const [, e2] = await caught.next(2);
    assert.match(e2.error.message, /Throttling\.User: too many calls/);
    await waitStatus(helper.getNode('o2'), (s) => s.text === 'failed: Throttling.User');
    assert.ok(!e1.error.message.includes(AK.accessKeySecret) && !e2.error.message.includes(AK.accessKeySecret));
  });
});

function warningsOf(node: ReturnType<typeof helper.getNode>): string[] {
  const spy = node.warn as unknown as { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
  return spy.getCalls().filter((c) => c.thisValue === node).map((c) => String(c.args[0]));
}
