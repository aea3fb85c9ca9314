// The three example flows import as valid JSON, load in a real runtime (pointed at the local IoT platform instead of
// the cloud) and do what their comments say.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import { connect, type MqttClient } from 'mqtt';
import { startIotPlatform, type IotPlatform } from '../../emulators/iot';
import credentialsModule from '../../nodes/aliyun-credentials/aliyun-credentials';
import { signDevice } from '../../lib/iot/signing';
import { collect, iotNodes } from './support';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = [
  require('@node-red/nodes/core/common/20-inject.js'),
  require('@node-red/nodes/core/common/90-comment.js'),
  require('@node-red/nodes/core/common/25-catch.js'),
  require('@node-red/nodes/core/function/10-function.js'),
] as Array<(RED: NodeAPI) => void>;
/* eslint-enable @typescript-eslint/no-require-imports */

helper.init(require.resolve('node-red'));

const PK = 'a1B2c3D4e5F';
const SECRET = '0123456789abcdef0123456789abcdef';
const APP = { username: 'app', password: 'app-secret-1' };
const AK = { accessKeyId: 'LTAI5tExampleKey001', accessKeySecret: 'example-secret-abc', accountId: '1234567890123456' };

type FlowNode = Record<string, unknown> & { id: string; type: string; wires?: string[][]; info?: string };

function readExample(name: string): FlowNode[] {
  const flow = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../examples', `${name}.json`), 'utf8')) as FlowNode[];
  const ids = new Set(flow.map((n) => n.id));
  assert.equal(ids.size, flow.length, 'ids are unique');
  for (const n of flow) for (const w of n.wires ?? []) for (const t of w) assert.ok(ids.has(t), `${n.id} wires to ${t}`);
  assert.ok((flow.find((n) => n.type === 'comment')?.info ?? '').length > 100, 'a comment explains the flow');
  // Debug nodes become helper nodes so the test sees what the user would see in the sidebar.
  return flow.map((n) => (n.type === 'debug' ? { id: n.id, z: n.z, type: 'helper', wires: [] } : n)) as FlowNode[];
}

async function device(platform: IotPlatform, dn: string): Promise<MqttClient> {
  const c = connect(platform.mqttUrl, { ...signDevice({ productKey: PK, deviceName: dn, deviceSecret: SECRET, secureMode: 3 }), keepalive: 60, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

function load(flow: FlowNode[], creds: Record<string, Record<string, string>>): Promise<void> {
  return helper.load([...iotNodes, credentialsModule as (RED: NodeAPI) => void, ...core] as never, flow as never, creds as never) as unknown as Promise<void>;
}

describe('IoT example flows', function () {
  let platform: IotPlatform;
  const clients: MqttClient[] = [];
  beforeEach(async function () {
    platform = await startIotPlatform({ devices: [{ productKey: PK, deviceName: 'dev01', deviceSecret: SECRET }], application: APP });
    platform.accounts.addAccessKey(AK);
  });
  afterEach(async function () {
    await helper.unload();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await platform.stop();
  });

  it('IoT device in - property posts from all devices: a device post reaches the debug node with msg.iot', async function () {
    const flow = readExample('IoT device in - property posts from all devices');
    const broker = flow.find((n) => n.type === 'aliyun-iot-broker') as FlowNode;
    broker.url = platform.mqttUrl;
    broker.username = APP.username;
    await load(flow, { [broker.id]: { password: APP.password } });
    const dbg = flow.find((n) => n.type === 'helper') as FlowNode;
    const got = collect<{ payload: { params: unknown }; iot: { deviceName: string; topicClass: string; messageId: string } }>(helper.getNode(dbg.id));
    const dev = await device(platform, 'dev01');
    clients.push(dev);
    const first = got.next(1);
    const timer = setInterval(() => dev.publish(`/sys/${PK}/dev01/thing/event/property/post`, JSON.stringify({ id: '9', version: '1.0', params: { t: 1 }, method: 'thing.event.property.post' }), { qos: 1 }), 100);
    const [m] = await first.finally(() => clearInterval(timer));
    assert.deepEqual(m.payload.params, { t: 1 });
    assert.deepEqual([m.iot.deviceName, m.iot.topicClass, m.iot.messageId], ['dev01', 'system', '9']);
  });

  it('IoT broker - Node-RED as an Alibaba Cloud device: a command on user/get is answered on user/update', async function () {
    const flow = readExample('IoT broker - Node-RED as an Alibaba Cloud device');
    const broker = flow.find((n) => n.type === 'aliyun-iot-broker') as FlowNode;
    broker.instanceEndpoint = new URL(platform.mqttUrl).host;
    broker.secureMode = 'tcp';
    await load(flow, { [broker.id]: { deviceSecret: SECRET } });
    const app = connect(platform.mqttUrl, { ...APP, reconnectPeriod: 0 });
    clients.push(app);
    await app.subscribeAsync(`/${PK}/dev01/user/update`, { qos: 1 });
    const answer = new Promise<Buffer>((resolve) => app.once('message', (_t, p) => resolve(p)));
    const timer = setInterval(() => app.publish(`/${PK}/dev01/user/get`, '{"cmd":"on"}', { qos: 1 }), 100);
    const payload = JSON.parse((await answer.finally(() => clearInterval(timer))).toString()) as { received: unknown };
    assert.deepEqual(payload.received, { cmd: 'on' });
  });

  it('IoT device out - send a command with OpenAPI Pub: the device gets it, the MessageId reaches the debug node', async function () {
    const flow = readExample('IoT device out - send a command with OpenAPI Pub');
    const out = flow.find((n) => n.type === 'aliyun-iot-device-out') as FlowNode;
    out.endpoint = platform.openApiUrl;
    const cred = flow.find((n) => n.type === 'aliyun-credentials') as FlowNode;
    await load(flow, { [cred.id]: { accessKeyId: AK.accessKeyId, accessKeySecret: AK.accessKeySecret } });
    const dev = await device(platform, 'dev01');
    clients.push(dev);
    await dev.subscribeAsync(`/${PK}/dev01/user/get`, { qos: 1 });
    const received = new Promise<Buffer>((resolve) => dev.once('message', (_t, p) => resolve(p)));
    const dbg = flow.find((n) => n.type === 'helper' && n.id !== flow.find((x) => x.type === 'catch')?.wires?.[0]?.[0]) as FlowNode;
    const got = collect<{ pub: { messageId: string } }>(helper.getNode(dbg.id));
    const inject = flow.find((n) => n.type === 'inject') as FlowNode;
    (helper.getNode(inject.id) as unknown as { receive(m: object): void }).receive({});
    assert.deepEqual(JSON.parse((await received).toString()), { cmd: 'on' });
    const [m] = await got.next(1);
    assert.match(m.pub.messageId, /^\d+$/);
  });
});
