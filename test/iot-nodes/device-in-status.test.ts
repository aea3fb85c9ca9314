// IoT device in names the right culprit in its status when it cannot start: a broken broker configuration is the
// broker's fault (not the topic's), and a bad QoS or payload format is not a topic problem either.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import { errorsOf, load, translate, type StatusArg } from './support';

function lastStatus(node: Node): StatusArg | undefined {
  const spy = node.status as unknown as { getCalls(): Array<{ thisValue: unknown; args: StatusArg[] }> };
  const calls = spy.getCalls().filter((c) => c.thisValue === node);
  return calls[calls.length - 1]?.args[0];
}

describe('IoT device in: status when it cannot start', function () {
  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });
  afterEach(async function () {
    await helper.unload();
  });

  it('shows the broker as the problem when the broker configuration is invalid', async function () {
    await load([
      { id: 'b1', type: 'aliyun-iot-broker', mode: 'mqtt', url: 'not a url' },
      { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/a1B2c3D4e5F/dev01/user/get', qos: '0', wires: [] },
    ]);
    const inNode = helper.getNode('in1');
    assert.equal(lastStatus(inNode)?.text, translate('aliyun-iot-broker.status.invalid-config'));
    assert.deepEqual(errorsOf(inNode), [], 'the broker reports its own configuration error, once');
  });

  it('does not call a bad QoS an invalid topic filter', async function () {
    await load([
      { id: 'b1', type: 'aliyun-iot-broker', mode: 'mqtt', url: 'mqtt://127.0.0.1:1' },
      { id: 'in1', type: 'aliyun-iot-device-in', broker: 'b1', topic: '/a1B2c3D4e5F/dev01/user/get', qos: '3', wires: [] },
    ]);
    const inNode = helper.getNode('in1');
    assert.equal(lastStatus(inNode)?.text, translate('aliyun-iot-device-in.status.invalid-config'));
    assert.match(errorsOf(inNode).join('\n'), /QoS "3" is not valid/);
  });
});
