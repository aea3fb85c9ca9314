// The MNS example flows run as shipped, with only the endpoint pointed at the local MNS and debug nodes swapped
// for test helpers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import { AK, startLocalMns, type LocalMns } from '../../mns/support';
import { Collector, mnsNodes } from './support';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = [
  require('@node-red/nodes/core/common/20-inject.js'),
  require('@node-red/nodes/core/common/90-comment.js'),
] as Array<(RED: NodeAPI) => void>;
/* eslint-enable @typescript-eslint/no-require-imports */

helper.init(require.resolve('node-red'));

type FlowNode = Record<string, unknown> & { id: string; type: string; name?: string };

function example(name: string, local: LocalMns): FlowNode[] {
  const flow = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../examples', `${name}.json`), 'utf8')) as FlowNode[];
  return flow.map((n) => {
    if (n.type === 'debug') return { id: n.id, z: n.z, type: 'helper', name: n.name };
    if (n.type === 'aliyun-mns-topic-out' || n.type === 'aliyun-mns-queue-in') return { ...n, endpointType: 'custom', endpoint: local.mns.url, waitSeconds: '1' };
    if (n.type === 'aliyun-credentials') return { ...n, z: flow[0].id };
    return n;
  });
}

function byName(flow: FlowNode[], name: string): string {
  const n = flow.find((x) => x.name === name);
  assert.ok(n, `node "${name}" in the example`);
  return n.id;
}

describe('MNS example flows', function () {
  let local: LocalMns;
  beforeEach(async function () {
    local = await startLocalMns();
  });
  afterEach(async function () {
    await helper.unload();
    await local.mns.stop();
  });

  it('"MNS topic out - publish with the error output": publishes, and shows an error record for a missing topic', async function () {
    local.mns.createTopic('iot-telemetry');
    const flow = example('MNS topic out - publish with the error output', local);
    const creds = flow.find((n) => n.type === 'aliyun-credentials')!.id;
    await helper.load([...mnsNodes, ...core], flow as never, { [creds]: { ...AK } });
    const published = new Collector<{ mns: { messageId: string } }>(helper.getNode(byName(flow, 'published')));
    const errors = new Collector<{ payload: { failures: Array<{ errorMessage: string }> } }>(helper.getNode(byName(flow, 'error record')));
    const caught = new Collector(helper.getNode(byName(flow, 'caught')));
    helper.getNode(byName(flow, 'temperature reading')).receive({} as never);
    helper.getNode(byName(flow, 'to a missing topic')).receive({} as never);
    const [ok] = await published.until(1);
    assert.ok(ok.mns.messageId);
    assert.equal(local.mns.published('iot-telemetry').length, 1);
    const [err] = await errors.until(1);
    assert.match(err.payload.failures[0].errorMessage, /TopicNotExist/);
    await caught.until(1);
  });

  it('"MNS queue in - application server": handles good messages, leaves a failing one in the queue', async function () {
    local.mns.createQueue('app-telemetry', { VisibilityTimeout: 30 });
    local.mns.subscribe('telemetry', 'to-app-telemetry', { queue: 'app-telemetry', notifyContentFormat: 'SIMPLIFIED' });
    local.mns.publish('telemetry', JSON.stringify({ deviceName: 'dev01', temperature: 21 }));
    local.mns.publish('telemetry', JSON.stringify({ deviceName: 'bad', temperature: 99 }));
    const flow = example('MNS queue in - application server', local);
    const creds = flow.find((n) => n.type === 'aliyun-credentials')!.id;
    const deleted = new Promise<void>((resolve) => local.mns.events.once('deleted', () => resolve()));
    await helper.load([...mnsNodes, ...core], flow as never, { [creds]: { ...AK } });
    const handled = new Collector<{ payload: { device: string } }>(helper.getNode(byName(flow, 'handled')));
    const failed = new Collector(helper.getNode(byName(flow, 'failed (will be redelivered)')));
    const [h] = await handled.until(1);
    assert.equal(h.payload.device, 'dev01');
    await failed.until(1);
    await deleted;
    const left = local.mns.messages('app-telemetry');
    assert.equal(left.length, 1);
    assert.match(left[0].body, /"bad"/);
  });
});
