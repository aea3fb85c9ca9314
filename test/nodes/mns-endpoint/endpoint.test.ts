// The aliyun-mns-endpoint config node in a real Node-RED runtime: topic out and queue in share its endpoint,
// credentials and one keep-alive agent; error records take actionRegion from its region; flows saved by the
// current release (per-node endpoint fields) keep working unchanged.
import assert from 'node:assert/strict';
import type http from 'node:http';
import helper from 'node-red-node-test-helper';
import { startLocalMns, type LocalMns } from '../../mns/support';
import { Collector, credentialsConfig, credentialsSecrets, mnsNodes, waitForStatus } from '../mns-topic-out/support';

helper.init(require.resolve('node-red'));

interface EndpointFace { agent(): http.Agent; endpoint?: string; region: string; problem?: string }

function endpointConfig(local: LocalMns, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'ep', type: 'aliyun-mns-endpoint', z: 'tab', name: 'local', network: 'custom', endpoint: local.mns.url, region: 'cn-shanghai', accountId: '', aliyunCredentials: 'creds', ...extra };
}

describe('aliyun-mns-endpoint config node', function () {
  let local: LocalMns;
  beforeEach(async function () {
    local = await startLocalMns();
  });
  afterEach(async function () {
    await helper.unload();
    await local.mns.stop();
  });

  it('topic out and queue in use it: a message goes through both over one shared keep-alive agent', async function () {
    const flow = [
      { id: 'tab', type: 'tab', label: 'test' },
      credentialsConfig(),
      endpointConfig(local),
      { id: 'src', type: 'helper', z: 'tab', wires: [['pub']] },
      { id: 'pub', type: 'aliyun-mns-topic-out', z: 'tab', mnsEndpoint: 'ep', topic: 'telemetry', bodyEncoding: 'json', retries: '0', concurrency: '4', queueLimit: '10', timeout: '5', wires: [['ok'], ['failed']] },
      { id: 'ok', type: 'helper', z: 'tab' },
      { id: 'failed', type: 'helper', z: 'tab' },
      { id: 'in', type: 'aliyun-mns-queue-in', z: 'tab', mnsEndpoint: 'ep', queue: 'app', waitSeconds: '1', batchSize: '16', concurrency: '16', payloadFormat: 'auto', ackMode: 'complete', ackTimeout: '20', wires: [['got'], []] },
      { id: 'got', type: 'helper', z: 'tab' },
    ];
    await helper.load(mnsNodes, flow as unknown as helper.TestFlows, credentialsSecrets);
    const got = new Collector<{ payload: unknown }>(helper.getNode('got'));
    const ok = new Collector<{ mns: { messageId: string } }>(helper.getNode('ok'));
    helper.getNode('src').send({ payload: { temp: 20 } });
    const [published] = await ok.until(1);
    assert.ok(published.mns.messageId);
    const [m] = await got.until(1);
    assert.deepEqual(m.payload, { temp: 20 });
    const ep = helper.getNode('ep') as unknown as EndpointFace;
    const agent = ep.agent();
    assert.equal(ep.agent(), agent, 'one agent per config node');
    // Every socket the three clients (publish, poll, delete) opened belongs to the config node's agent.
    const sockets = Object.values(agent.sockets).flat().length + Object.values(agent.freeSockets).flat().length;
    assert.ok(sockets >= 1, 'the shared agent carried the requests');
  });

  it('queue in over the shared agent still stops at once in the middle of a 30 s long poll and leaves no socket open', async function () {
    const flow = [
      { id: 'tab', type: 'tab', label: 'test' },
      credentialsConfig(),
      endpointConfig(local),
      { id: 'in', type: 'aliyun-mns-queue-in', z: 'tab', mnsEndpoint: 'ep', queue: 'app', waitSeconds: '30', wires: [[], []] },
    ];
    await helper.load(mnsNodes, flow as unknown as helper.TestFlows, credentialsSecrets);
    await new Promise<void>((resolve) => local.mns.events.once('long-poll', () => resolve()));
    const agent = (helper.getNode('ep') as unknown as EndpointFace).agent();
    assert.equal(Object.values(agent.sockets).flat().length, 1, 'the long poll holds a socket of the shared agent');
    const t0 = Date.now();
    await helper.unload();
    assert.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`);
    const open = [...Object.values(agent.sockets).flat(), ...Object.values(agent.freeSockets).flat()].filter((sock) => sock && !sock.destroyed);
    assert.equal(open.length, 0, 'no socket left open');
  });

  it('the error record takes actionRegion from the config region, not the endpoint host', async function () {
    const flow = [
      { id: 'tab', type: 'tab', label: 'test' },
      credentialsConfig(),
      endpointConfig(local),
      { id: 'src', type: 'helper', z: 'tab', wires: [['pub']] },
      { id: 'pub', type: 'aliyun-mns-topic-out', z: 'tab', mnsEndpoint: 'ep', topic: 'no-such-topic', bodyEncoding: 'json', retries: '0', concurrency: '4', queueLimit: '10', timeout: '5', wires: [['ok'], ['failed']] },
      { id: 'ok', type: 'helper', z: 'tab' },
      { id: 'failed', type: 'helper', z: 'tab' },
    ];
    await helper.load(mnsNodes, flow as unknown as helper.TestFlows, credentialsSecrets);
    const failed = new Collector<{ payload: { failures: Array<{ actionRegion: string; actionResource: string }> } }>(helper.getNode('failed'));
    helper.getNode('src').send({ payload: { temp: 20 } });
    const [rec] = await failed.until(1);
    assert.equal(rec.payload.failures[0].actionRegion, 'cn-shanghai');
    assert.equal(rec.payload.failures[0].actionResource, 'no-such-topic');
  });

  it('a flow saved by the current release (per-node endpoint fields, no endpoint node) still publishes', async function () {
    // Exactly the fields an MNS topic out node of release 0.1.0 saves.
    const saved = [
      { id: 'tab', type: 'tab', label: 'test' },
      { id: 'creds', type: 'aliyun-credentials', z: 'tab', name: 'test', mode: 'accessKey', roleArn: '', roleSessionName: '', durationSeconds: '3600', policy: '', externalId: '', region: 'cn-hangzhou', stsEndpoint: '', chainRole: false },
      { id: 'src', type: 'helper', z: 'tab', wires: [['pub']] },
      {
        id: 'pub', type: 'aliyun-mns-topic-out', z: 'tab', name: '', aliyunCredentials: 'creds', endpointType: 'custom', accountId: '', region: 'cn-hangzhou', network: 'public',
        endpoint: local.mns.url, topic: 'telemetry', bodyEncoding: 'json', tag: '', retries: '3', retryDelays: '1, 3, 10', concurrency: '16', queueLimit: '1000', timeout: '10', x: 300, y: 100, wires: [['ok'], ['failed']],
      },
      { id: 'ok', type: 'helper', z: 'tab' },
      { id: 'failed', type: 'helper', z: 'tab' },
    ];
    await helper.load(mnsNodes, saved as unknown as helper.TestFlows, credentialsSecrets);
    const ok = new Collector<{ mns: { messageId: string } }>(helper.getNode('ok'));
    helper.getNode('src').send({ payload: 'from an old flow' });
    await ok.until(1);
    assert.deepEqual(local.mns.messages('app').map((m) => m.body), ['from an old flow']);
  });

  it('a node whose endpoint node lacks credentials or a valid URL refuses to start and says what to fix', async function () {
    const flow = [
      { id: 'tab', type: 'tab', label: 'test' },
      endpointConfig(local, { endpoint: 'ftp://nope', aliyunCredentials: '' }),
      { id: 'pub', type: 'aliyun-mns-topic-out', z: 'tab', mnsEndpoint: 'ep', topic: 'telemetry', wires: [[], []] },
    ];
    await helper.load(mnsNodes, flow as unknown as helper.TestFlows, {});
    const pub = helper.getNode('pub');
    await waitForStatus(pub, (s) => /invalid/.test(String(s.text)));
    assert.match((helper.getNode('ep') as unknown as EndpointFace).problem ?? '', /must start with http:\/\/ or https:\/\//);
  });
});
