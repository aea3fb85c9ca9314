// The aliyun-mns-topic-out node in a real Node-RED runtime, publishing to the local MNS.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import { startLocalMns, type LocalMns } from '../../mns/support';
import { Collector, credentialsConfig, credentialsSecrets, mnsNodes, statusCalls, waitForStatus } from './support';

helper.init(require.resolve('node-red'));

interface OutProps {
  topic?: string;
  bodyEncoding?: string;
  tag?: string;
  retries?: string;
  retryDelays?: string;
  concurrency?: string;
  queueLimit?: string;
  timeout?: string;
}

function flow(local: LocalMns, p: OutProps = {}): helper.TestFlows {
  const nodes: Array<Record<string, unknown>> = [
    { id: 'tab', type: 'tab', label: 'test' },
    credentialsConfig(),
    {
      id: 'out',
      type: 'aliyun-mns-topic-out',
      z: 'tab',
      name: 'to mns',
      aliyunCredentials: 'creds',
      endpointType: 'custom',
      endpoint: local.mns.url,
      topic: p.topic ?? 'telemetry',
      bodyEncoding: p.bodyEncoding ?? 'json',
      tag: p.tag ?? '',
      retries: p.retries ?? '3',
      retryDelays: p.retryDelays ?? '0.05, 0.1, 0.2',
      concurrency: p.concurrency ?? '4',
      queueLimit: p.queueLimit ?? '100',
      timeout: p.timeout ?? '5',
      outbox: 'memory',
      wires: [['ok'], ['failed']],
    },
    { id: 'ok', type: 'helper', z: 'tab' },
    { id: 'failed', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
  return nodes as unknown as helper.TestFlows;
}

interface Out {
  payload: unknown;
  mns?: { topic: string; messageId: string; bodyMD5: string; requestId?: string };
  error?: { message: string; code: string; status?: number; requestId?: string };
}

describe('aliyun-mns-topic-out node', function () {
  let local: LocalMns;
  beforeEach(async function () {
    local = await startLocalMns();
  });
  afterEach(async function () {
    await helper.unload();
    await local.mns.stop();
  });

  /** The helper removes its log spies before it stops the flows, so listen on the node itself. */
  function captureErrors(node: Node): string[] {
    const logged: string[] = [];
    const nodeError = node.error.bind(node);
    (node as unknown as { error: (m: unknown) => void }).error = (m: unknown) => {
      logged.push(String(m));
      nodeError(m as string);
    };
    return logged;
  }

  async function load(p: OutProps = {}): Promise<{ out: Node; ok: Collector<Out>; failed: Collector<Out>; caught: Collector<Out> }> {
    await helper.load(mnsNodes, flow(local, p), credentialsSecrets);
    return {
      out: helper.getNode('out'),
      ok: new Collector<Out>(helper.getNode('ok')),
      failed: new Collector<Out>(helper.getNode('failed')),
      caught: new Collector<Out>(helper.getNode('caught')),
    };
  }

  it('publishes objects as JSON text, strings as they are, Buffers as Base64, with msg.mns on output 1', async function () {
    const { out, ok } = await load();
    out.receive({ payload: { temp: 21.5, note: 'a<b&c' } } as never);
    out.receive({ payload: '温度 <25> & "ok"' } as never);
    out.receive({ payload: Buffer.from([0, 1, 2, 255]) } as never);
    const got = await ok.until(3);
    const bodies = local.mns.published('telemetry').map((m) => m.body).sort();
    assert.deepEqual(bodies, ['AAEC/w==', '{"temp":21.5,"note":"a<b&c"}', '温度 <25> & "ok"'].sort());
    for (const m of got) {
      assert.equal(m.mns?.topic, 'telemetry');
      assert.match(m.mns?.messageId ?? '', /\S+/);
      assert.match(m.mns?.bodyMD5 ?? '', /^[0-9A-F]{32}$/);
      assert.ok(m.mns?.requestId);
    }
    await waitForStatus(out, (s) => s.fill === 'green' && s.text === 'published 3');
  });

  it('Base64 body encoding and the message tag', async function () {
    const { out, ok } = await load({ bodyEncoding: 'base64', tag: 'telemetry' });
    out.receive({ payload: { a: 1 } } as never);
    await ok.until(1);
    const [m] = local.mns.published('telemetry');
    assert.equal(Buffer.from(m.body, 'base64').toString(), '{"a":1}');
    assert.equal(m.tag, 'telemetry');
  });

  it('takes msg.mnsTopic when the topic field is empty, and says what to fix when both are missing', async function () {
    local.mns.createTopic('other');
    const { out, ok, failed, caught } = await load({ topic: '' });
    out.receive({ payload: 'x', mnsTopic: 'other' } as never);
    await ok.until(1);
    assert.equal(local.mns.published('other').length, 1);
    out.receive({ payload: 'y' } as never);
    const [f] = await failed.until(1);
    assert.match(f.error?.message ?? '', /msg\.mnsTopic/);
    await caught.until(1);
  });

  it('sends a permanent MNS error to output 2 as Alibaba error record, at once, and to Catch', async function () {
    const { out, failed, caught } = await load({ topic: 'missing-topic' });
    const raw = Buffer.from('{"id":"1","params":{"temperature":40}}');
    out.receive({
      topic: '/sys/a1B2c3D4e5F/dev01/thing/event/property/post',
      payload: { temperature: 40 },
      rule: { name: 'hot devices', outcome: 'output' },
      iot: { productKey: 'a1B2c3D4e5F', deviceName: 'dev01', topic: '/sys/a1B2c3D4e5F/dev01/thing/event/property/post', messageId: '1234567', raw },
    } as never);
    const [f] = await failed.until(1);
    const record = f.payload as Record<string, unknown>;
    assert.deepEqual(Object.keys(record), ['ruleName', 'topic', 'productKey', 'deviceName', 'messageId', 'base64OriginalPayload', 'failures']);
    assert.equal(record.ruleName, 'hot devices');
    assert.equal(record.productKey, 'a1B2c3D4e5F');
    assert.equal(record.deviceName, 'dev01');
    assert.equal(record.messageId, '1234567');
    assert.equal(record.base64OriginalPayload, raw.toString('base64'));
    const [failure] = record.failures as Array<Record<string, string>>;
    assert.equal(failure.actionType, 'MNS');
    assert.equal(failure.actionResource, 'missing-topic');
    assert.match(failure.errorMessage, /TopicNotExist/);
    assert.equal(f.error?.code, 'TopicNotExist');
    assert.equal(f.error?.status, 404);
    const [c] = await caught.until(1);
    assert.match(String((c.error as { message: string }).message), /TopicNotExist/);
    assert.equal(local.mns.stats.byStatus['404 TopicNotExist'], 1, 'tried once, not retried');
    assert.equal(local.mns.stats.requests, 1);
    await waitForStatus(out, (s) => s.fill === 'red' && /failed 1 · TopicNotExist/.test(s.text ?? ''));
  });

  it('refuses a body over 64 KB before sending, with the size in the reason', async function () {
    const { out, failed } = await load();
    out.receive({ payload: 'x'.repeat(64 * 1024 + 1) } as never);
    const [f] = await failed.until(1);
    assert.match(f.error?.message ?? '', /65537 bytes/);
    assert.equal(local.mns.stats.requests, 0);
  });

  it('retries 5xx and throttling, then publishes', async function () {
    const { out, ok, failed } = await load({ retryDelays: '0.6' });
    local.mns.faults.fail({ kind: 'service-unavailable', count: 1 });
    local.mns.faults.fail({ kind: 'throttle', count: 1, holdMs: 0 });
    out.receive({ payload: 'eventually' } as never);
    await ok.until(1);
    assert.equal(failed.got.length, 0);
    assert.equal(local.mns.published('telemetry').length, 1);
    assert.ok(statusCalls(out).some((s) => s.fill === 'yellow' && /retrying/.test(s.text ?? '')), 'the status showed the retry');
  });

  it('gives up after the configured retries with the last error code', async function () {
    const { out, failed } = await load({ retries: '2' });
    local.mns.faults.fail({ kind: 'internal-error', count: 10 });
    out.receive({ payload: 'never' } as never);
    const [f] = await failed.until(1);
    assert.equal(f.error?.code, 'InternalError');
    assert.match(f.error?.message ?? '', /gave up after 3 attempts/);
  });

  it('routes messages beyond the queue limit to output 2 with "queue full"', async function () {
    const { out, ok, failed } = await load({ concurrency: '1', queueLimit: '2' });
    local.mns.faults.setLatency(300, 2);
    for (let i = 0; i < 5; i++) out.receive({ payload: `m${i}` } as never);
    const f = await failed.until(3);
    assert.ok(f.every((m) => m.error?.code === 'QueueFull' && /queue full/.test(m.error.message)));
    await ok.until(2);
  });

  it('on close: waits for in-flight publishes, sends what is queued to output 2, and ends in time', async function () {
    const { out, ok, failed } = await load({ concurrency: '1', queueLimit: '10' });
    local.mns.faults.setLatency(400, 1);
    for (let i = 0; i < 4; i++) out.receive({ payload: `m${i}` } as never);
    await new Promise<void>((resolve) => local.mns.events.once('request', () => resolve()));
    const t0 = Date.now();
    await (out as unknown as { close(removed: boolean): Promise<void> }).close(true);
    assert.ok(Date.now() - t0 < 6000);
    // Node-RED delivers asynchronously: let the sends made during close arrive.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    // The in-flight message was published; the ones still queued ended on output 2.
    assert.equal(ok.got.length + failed.got.length, 4);
    assert.ok(failed.got.every((m) => m.error?.code === 'Closed'));
    assert.equal(local.mns.published('telemetry').length, ok.got.length);
  });

  it('while MNS is down, messages wait in the queue and the status shows the count and the next retry', async function () {
    const { out, ok, failed } = await load({ concurrency: '1', retryDelays: '0.5', retries: '10' });
    const outage = local.mns.faults.outage(1500);
    for (let i = 0; i < 5; i++) out.receive({ payload: `m${i}` } as never);
    const s = await waitForStatus(out, (x) => x.fill === 'yellow' && /retrying in \d+s · 5 queued · NetworkError/.test(x.text ?? ''));
    assert.ok(s);
    await outage;
    await ok.until(5);
    assert.equal(failed.got.length, 0);
    assert.equal(local.mns.published('telemetry').length, 5);
  });

  it('when Node-RED stops, queued messages MNS takes within the close grace are still published, nothing logged', async function () {
    const { out } = await load({ concurrency: '1' });
    local.mns.faults.setLatency(300, 1);
    const before = local.mns.published('telemetry').length;
    for (let i = 0; i < 3; i++) out.receive({ payload: `stop-${i}` } as never);
    const logged = captureErrors(out);
    await helper.unload();
    assert.deepEqual(logged.filter((m) => /Node-RED stopped before this message reached MNS/.test(m)), []);
    assert.deepEqual(local.mns.published('telemetry').slice(before).map((m) => m.body), ['stop-0', 'stop-1', 'stop-2']);
  });

  it('memory only: when Node-RED stops, what MNS has not taken within the close grace is not completed (its source keeps it), never only logged', async function () {
    helper.settings({ nodeCloseTimeout: 3600 } as never); // the node keeps 3 s for itself: a 600 ms grace
    try {
      const { out, failed } = await load({ concurrency: '1' });
      local.mns.faults.setLatency(5000, 3);
      for (let i = 0; i < 3; i++) out.receive({ payload: `m${i}` } as never);
      const logged = captureErrors(out);
      const warned: string[] = [];
      const nodeWarn = out.warn.bind(out);
      (out as unknown as { warn: (m: unknown) => void }).warn = (m: unknown) => {
        warned.push(String(m));
        nodeWarn(m as string);
      };
      await helper.unload();
      assert.deepEqual(logged.filter((m) => /Node-RED stopped before this message reached MNS/.test(m)), []);
      assert.equal(failed.got.length, 0, 'nothing on output 2: the messages are not finished');
      assert.ok(warned.some((w) => /3 messages were not published when the node stopped: not completed/.test(w)), warned.join('\n'));
    } finally {
      helper.settings({});
    }
  });
});
