// The `aliyun-iot-amqp-in` node in a real Node-RED runtime (node-red-node-test-helper) against the local AMQP
// stand-in: the message shape of IoT device in, accept only when the flow has finished, release on failure,
// messages without properties, status reasons and bad configuration.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Node, NodeAPI } from 'node-red';
import credentialsNode from '../../nodes/aliyun-credentials/aliyun-credentials';
import amqpInNode from '../../nodes/aliyun-iot-amqp-in/aliyun-iot-amqp-in';
import amqpInEn from '../../nodes/aliyun-iot-amqp-in/locales/en-US/aliyun-iot-amqp-in.json';
import { signDevice } from '../../lib/iot/signing';
import { DEMO_ACCESS_KEY, DEMO_DEVICES, TEST_CA_FILE, type LocalCloud } from '../../emulators';
import { connectClient, endAll } from '../emulators/iot/helpers';
import { statusCalls, waitForStatus } from '../support/status';
import { startCloud, waitUntil, GROUP } from './support';

helper.init(require.resolve('node-red'));

function translate(key: string, subs?: Record<string, unknown>): string {
  let v: unknown = amqpInEn;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string') return key.startsWith('aliyun-iot-amqp-in') ? `MISSING-I18N:${key}` : key;
  return v.replace(/__(\w+)__/g, (_m, name: string) => (subs && name in subs ? String(subs[name]) : `__${name}__`));
}

/* eslint-disable @typescript-eslint/no-require-imports */
const nodes = [
  (RED: NodeAPI) => {
    (RED as unknown as { _: typeof translate })._ = translate;
    const api = RED as unknown as { hooks?: unknown };
    if (!api.hooks) api.hooks = (require('@node-red/util') as { hooks: unknown }).hooks;
    credentialsNode(RED);
    amqpInNode(RED);
  },
  require('@node-red/nodes/core/function/10-function.js'),
] as Array<(RED: NodeAPI) => void>;
/* eslint-enable @typescript-eslint/no-require-imports */

const secrets = { creds: { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret } };

describe('aliyun-iot-amqp-in node', function () {
  this.timeout(60_000);
  let cloud: LocalCloud;

  afterEach(async () => {
    await helper.unload();
    await cloud?.stop();
  });

  const flow = (over: Record<string, unknown> = {}, fn = 'return msg;'): helper.TestFlows =>
    [
      { id: 'tab', type: 'tab', label: 'amqp' },
      { id: 'creds', type: 'aliyun-credentials', z: 'tab', name: 'test', mode: 'accessKey' },
      {
        id: 'in', type: 'aliyun-iot-amqp-in', z: 'tab', mode: 'alibaba', aliyunCredentials: 'creds', endpointType: 'custom',
        endpoint: cloud.iot!.amqp!.tlsUrl, caFile: TEST_CA_FILE, consumerGroupId: GROUP, connections: 1, idleTimeout: 60, ackTimeout: 30, prefetch: 20,
        format: 'auto', wires: [['fn']], ...over,
      },
      { id: 'fn', type: 'function', z: 'tab', func: fn, outputs: 1, wires: [['out']] },
      { id: 'out', type: 'helper', z: 'tab' },
    ] as unknown as helper.TestFlows;

  it('sends a device property post in the shape of IoT device in, and accepts it once the flow has finished', async () => {
    cloud = await startCloud();
    await helper.load(nodes, flow(), secrets);
    const node: Node = helper.getNode('in');
    await waitForStatus(node, (s) => s.fill === 'green');
    const got: Array<Record<string, unknown>> = [];
    helper.getNode('out').on('input', (m: unknown) => got.push(m as Record<string, unknown>));
    const dev = DEMO_DEVICES[1];
    const mqtt = await connectClient(cloud.iot!.mqttUrl, signDevice({ ...dev, secureMode: 3 }));
    try {
      const topic = `/sys/${dev.productKey}/${dev.deviceName}/thing/event/property/post`;
      await mqtt.publishAsync(topic, JSON.stringify({ id: '9', version: '1.0', params: { Temperature: 30.5 }, method: 'thing.event.property.post' }));
      await waitUntil('the post', () => got.some((m) => m.topic === topic));
      const msg = got.find((m) => m.topic === topic)!;
      const iot = msg.iot as Record<string, unknown>;
      assert.deepEqual(Object.keys(iot).sort(), ['deviceName', 'messageId', 'productKey', 'qos', 'raw', 'receivedAt', 'topic', 'topicClass']);
      assert.equal(iot.productKey, dev.productKey);
      assert.equal(iot.deviceName, dev.deviceName);
      assert.equal(iot.topicClass, 'system');
      assert.equal(typeof iot.messageId, 'string');
      assert.ok(Buffer.isBuffer(iot.raw));
      assert.equal((msg.payload as { items: { Temperature: { value: number } } }).items.Temperature.value, 30.5);
      await waitUntil('accepted', () => cloud.iot!.amqp!.stats(GROUP).accepted >= got.length && cloud.iot!.amqp!.stats(GROUP).inflight === 0);
    } finally {
      await endAll([mqtt]);
    }
  });

  it('releases a message the flow failed on, so that it comes again; accepts the second time', async () => {
    cloud = await startCloud();
    // Fails the first time it sees each message ID, passes the second.
    const fn = `const seen = context.get('seen') || {}; const id = msg.iot.messageId;
      if (!seen[id]) { seen[id] = true; context.set('seen', seen); throw new Error('first attempt fails'); }
      return msg;`;
    await helper.load(nodes, flow({}, fn), secrets);
    await waitForStatus(helper.getNode('in'), (s) => s.fill === 'green');
    const got: Array<Record<string, unknown>> = [];
    helper.getNode('out').on('input', (m: unknown) => got.push(m as Record<string, unknown>));
    const m = cloud.iot!.amqp!.messageFor('/a1DemoHot01/sensor-01/user/data', Buffer.from('{"v":1}'));
    cloud.iot!.amqp!.publish(m);
    await waitUntil('second delivery reached the end', () => got.length === 1);
    assert.equal((got[0].iot as { messageId: string }).messageId, m.properties.messageId);
    await waitUntil('accepted', () => cloud.iot!.amqp!.stats(GROUP).accepted === 1);
    assert.ok(cloud.iot!.amqp!.stats(GROUP).delivered >= 2);
  });

  it('a message without application properties still flows, and the status counts it', async () => {
    cloud = await startCloud();
    await helper.load(nodes, flow(), secrets);
    const node: Node = helper.getNode('in');
    await waitForStatus(node, (s) => s.fill === 'green');
    const got: Array<Record<string, unknown>> = [];
    helper.getNode('out').on('input', (m: unknown) => got.push(m as Record<string, unknown>));
    cloud.iot!.amqp!.publish({ body: Buffer.from([0xff, 0x00, 0x01]), properties: {} });
    await waitUntil('arrived', () => got.length === 1);
    assert.equal(got[0].topic, undefined);
    assert.ok(Buffer.isBuffer(got[0].payload));
    assert.equal((got[0].iot as Record<string, unknown>).productKey, undefined);
    await waitForStatus(node, (s) => /1 without properties/.test(s.text ?? ''));
  });

  it('shows why it cannot connect: signature refused, group unknown', async () => {
    cloud = await startCloud();
    await helper.load(nodes, flow({ consumerGroupId: 'nope' }), { creds: { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: 'wrong-secret-value' } });
    const node: Node = helper.getNode('in');
    await waitForStatus(node, (s) => /signature refused/.test(s.text ?? ''));
    await helper.unload();
    await helper.load(nodes, flow({ consumerGroupId: 'nope' }), secrets);
    await waitForStatus(helper.getNode('in'), (s) => /group unknown/.test(s.text ?? ''));
    for (const s of statusCalls(node)) assert.ok(!JSON.stringify(s).includes('wrong-secret-value'));
  });

  it('refuses a bad configuration at deploy with what to fix', async () => {
    cloud = await startCloud();
    await helper.load(nodes, flow({ idleTimeout: 10 }), secrets);
    const node: Node = helper.getNode('in');
    await waitForStatus(node, (s) => s.text === 'invalid configuration');
    const errors = (node.error as unknown as { getCalls(): Array<{ args: unknown[] }> }).getCalls().map((c) => String(c.args[0]));
    assert.ok(errors.some((e) => /idle timeout .*30-300/.test(e)), errors.join('\n'));
  });
});
