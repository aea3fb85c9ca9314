// MNS topic out with the durable outbox (the default), in a real Node-RED runtime against the local MNS: the node
// completes a message once it is on disk, publishes from the outbox, keeps what MNS has not taken across a stop,
// publishes it first after the start, and refuses with "outbox full" or the journal's error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeAPI } from 'node-red';
import { startLocalMns, type LocalMns } from '../../mns/support';
import { Collector, credentialsConfig, credentialsSecrets, mnsNodes, waitForStatus } from './support';

helper.init(require.resolve('node-red'));

// eslint-disable-next-line @typescript-eslint/no-require-imports
const completeNode = require('@node-red/nodes/core/common/24-complete.js') as (RED: NodeAPI) => void;

interface Out {
  payload: unknown;
  seq?: number;
  mns?: { topic: string; messageId: string };
  error?: { message: string; code: string };
}

function flow(local: LocalMns, p: Record<string, string> = {}): helper.TestFlows {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    credentialsConfig(),
    {
      id: 'out',
      type: 'aliyun-mns-topic-out',
      z: 'tab',
      aliyunCredentials: 'creds',
      endpointType: 'custom',
      endpoint: local.mns.url,
      topic: p.topic ?? 'telemetry',
      bodyEncoding: 'json',
      retries: '100',
      retryDelays: '0.1',
      concurrency: p.concurrency ?? '4',
      timeout: '5',
      outboxLimit: p.outboxLimit ?? '',
      wires: [['ok'], ['failed']],
    },
    { id: 'ok', type: 'helper', z: 'tab' },
    { id: 'failed', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
    { id: 'completed', type: 'complete', z: 'tab', scope: ['out'], uncaught: false, wires: [['done']] },
    { id: 'done', type: 'helper', z: 'tab' },
  ] as unknown as helper.TestFlows;
}

describe('aliyun-mns-topic-out node: durable outbox', function () {
  this.timeout(30_000);
  let local: LocalMns;
  let userDir: string;
  beforeEach(async function () {
    local = await startLocalMns();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'topic-out-outbox-'));
    helper.settings({ userDir } as never);
  });
  afterEach(async function () {
    await helper.unload();
    await local.mns.stop();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function load(p: Record<string, string> = {}): Promise<{ out: Node; ok: Collector<Out>; failed: Collector<Out>; caught: Collector<Out>; done: Collector<Out> }> {
    await helper.load([...mnsNodes, completeNode], flow(local, p), credentialsSecrets);
    return {
      out: helper.getNode('out'),
      ok: new Collector<Out>(helper.getNode('ok')),
      failed: new Collector<Out>(helper.getNode('failed')),
      caught: new Collector<Out>(helper.getNode('caught')),
      done: new Collector<Out>(helper.getNode('done')),
    };
  }

  const published = (): string[] => local.mns.published('telemetry').map((m) => m.body);

  it('completes a message once it is on disk, before MNS has answered; publishes it from the outbox when MNS is back', async function () {
    const { out, ok, done } = await load();
    const outage = local.mns.faults.outage(1500);
    out.receive({ payload: 'held', seq: 1 } as never);
    await done.until(1); // done() while MNS is still down
    assert.deepEqual(published(), []);
    assert.ok(fs.readdirSync(path.join(userDir, 'aliyun-outbox', 'out')).length > 0, 'journal in <userDir>/aliyun-outbox/<node id>');
    await waitForStatus(out, (s) => /1 in outbox/.test(s.text ?? ''));
    await outage;
    const [m] = await ok.until(1);
    assert.equal(m.seq, 1);
    assert.ok(m.mns?.messageId);
    assert.deepEqual(published(), ['held']);
  });

  it('a stop during an MNS outage keeps what MNS has not taken; the next start publishes it first, in order, then new messages', async function () {
    let nodes = await load({ concurrency: '1' });
    const outage = local.mns.faults.outage(2000);
    for (let i = 0; i < 5; i++) nodes.out.receive({ payload: `m${i}` } as never);
    await nodes.done.until(5);
    await helper.unload(); // Node-RED stops while MNS is down
    assert.equal(nodes.failed.got.length, 0, 'nothing went to output 2 at the stop');
    await outage;
    assert.deepEqual(published(), []);

    nodes = await load({ concurrency: '1' });
    nodes.out.receive({ payload: 'new' } as never);
    await nodes.ok.until(6);
    assert.deepEqual(published(), ['m0', 'm1', 'm2', 'm3', 'm4', 'new']);
    assert.deepEqual(
      nodes.ok.got.map((m) => m.payload),
      ['m0', 'm1', 'm2', 'm3', 'm4', 'new'],
      'the replayed messages come out of output 1 as they went in',
    );
    await helper.unload();
    nodes = await load({ concurrency: '1' });
    nodes.out.receive({ payload: 'after' } as never);
    await nodes.ok.until(1);
    assert.deepEqual(published(), ['m0', 'm1', 'm2', 'm3', 'm4', 'new', 'after'], 'published messages left the outbox');
  });

  it('outbox full: new messages go to output 2 with "outbox full" and reach Catch', async function () {
    const { out, failed, caught, ok } = await load({ outboxLimit: '2' });
    const outage = local.mns.faults.outage(1000);
    for (let i = 0; i < 4; i++) out.receive({ payload: `f${i}` } as never);
    const f = await failed.until(2);
    assert.ok(f.every((m) => m.error?.code === 'OutboxFull' && /outbox full/.test(m.error.message)), JSON.stringify(f.map((m) => m.error)));
    assert.equal((f[0].payload as { failures: Array<{ errorMessage: string }> }).failures[0].errorMessage.startsWith('OutboxFull'), true);
    await caught.until(2);
    await outage;
    await ok.until(2);
    assert.deepEqual(published().sort(), ['f0', 'f1']); // concurrency 4: retries may overtake each other
  });

  it('an MNS refusal still goes to output 2 and Catch as an error record, and leaves the outbox', async function () {
    let nodes = await load({ topic: 'no-such-topic' });
    nodes.out.receive({ payload: 'refused' } as never);
    const [f] = await nodes.failed.until(1);
    assert.equal(f.error?.code, 'TopicNotExist');
    await nodes.caught.until(1);
    await helper.unload();
    nodes = await load({ topic: 'no-such-topic' });
    await waitForStatus(nodes.out, (s) => s.text === 'ready' || /published/.test(s.text ?? ''));
    assert.equal(nodes.failed.got.length, 0, 'not published again after the restart');
  });

  it('a journal that cannot be written: messages go to output 2 with the reason and the status turns red', async function () {
    // The node's journal directory is a file: nothing can be stored there.
    fs.mkdirSync(path.join(userDir, 'aliyun-outbox'), { recursive: true });
    fs.writeFileSync(path.join(userDir, 'aliyun-outbox', 'out'), 'not a directory');
    const { out, failed, caught } = await load();
    await waitForStatus(out, (s) => s.fill === 'red' && /outbox:/.test(s.text ?? ''));
    out.receive({ payload: 'x' } as never);
    const [f] = await failed.until(1);
    assert.equal(f.error?.code, 'JournalWriteError');
    assert.match(f.error?.message ?? '', /outbox cannot be used: .*(EEXIST|ENOTDIR)/);
    await caught.until(1);
    assert.deepEqual(published(), []);
  });
});
