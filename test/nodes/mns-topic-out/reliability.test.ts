// The proof of "no message lost" (issue 4): 10,000 messages through MNS topic out while the local MNS has a 20 s
// outage, 5xx bursts and throttling. Every message must end either in the subscribed queue or on output 2 with a
// reason; duplicates (possible: a publish whose answer was lost is retried) are counted and printed.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import { startLocalMns, type LocalMns } from '../../mns/support';
import { credentialsConfig, credentialsSecrets, mnsNodes } from './support';

helper.init(require.resolve('node-red'));

const TOTAL = 10_000;
const OUTAGE_MS = 20_000;

interface Ended {
  payload: { seq?: number; failures?: Array<{ errorMessage: string }> } & Record<string, unknown>;
  seq: number;
  error?: { message: string; code: string };
}

describe('aliyun-mns-topic-out reliability', function () {
  this.timeout(180_000);
  let local: LocalMns;
  beforeEach(async function () {
    local = await startLocalMns();
  });
  afterEach(async function () {
    await helper.unload();
    await local.mns.stop();
  });

  it(`loses none of ${TOTAL} messages through a ${OUTAGE_MS / 1000} s outage, 5xx bursts and throttling`, async function () {
    const nodes: Array<Record<string, unknown>> = [
      { id: 'tab', type: 'tab', label: 'reliability' },
      credentialsConfig(),
      {
        id: 'out', type: 'aliyun-mns-topic-out', z: 'tab', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: local.mns.url,
        topic: 'telemetry', bodyEncoding: 'json', retries: '3', retryDelays: '1, 3, 10', concurrency: '64', queueLimit: String(TOTAL * 2), timeout: '5',
        wires: [['ok'], ['failed']],
      },
      { id: 'ok', type: 'helper', z: 'tab' },
      { id: 'failed', type: 'helper', z: 'tab' },
    ];
    await helper.load(mnsNodes, nodes as unknown as helper.TestFlows, credentialsSecrets);
    const out: Node = helper.getNode('out');
    const published = new Set<number>();
    const failed: Ended[] = [];
    let ended = 0;
    let outage: Promise<void> | undefined;
    const allEnded = new Promise<void>((resolve) => {
      const end = (): void => {
        if (++ended === TOTAL) resolve();
      };
      helper.getNode('ok').on('input', (m: unknown) => {
        const msg = m as Ended;
        published.add(msg.seq);
        // Start the outage once a fifth of the messages are through.
        if (!outage && published.size >= TOTAL / 5) outage = local.mns.faults.outage(OUTAGE_MS);
        // A 5xx burst once half of them are through.
        if (published.size === TOTAL / 2) local.mns.faults.fail({ kind: 'internal-error', count: 100 });
        end();
      });
      helper.getNode('failed').on('input', (m: unknown) => {
        const msg = m as Ended;
        failed.push(msg);
        end();
      });
    });

    // Background faults for the whole run: 5xx and throttling at seeded rates, plus bursts.
    local.mns.faults.fail({ kind: 'internal-error', rate: 0.03, seed: 1 });
    local.mns.faults.fail({ kind: 'service-unavailable', rate: 0.02, seed: 2 });
    local.mns.faults.fail({ kind: 'throttle', rate: 0.02, seed: 3, holdMs: 50 });
    local.mns.faults.fail({ kind: 'bad-gateway', count: 100 }); // a burst at the start

    const t0 = Date.now();
    for (let seq = 0; seq < TOTAL; seq++) out.receive({ seq, payload: { seq, temperature: 20 + (seq % 15), note: 'a<b & "c"' } } as never);
    await allEnded;
    if (outage) await outage;
    const wall = Date.now() - t0;

    // What reached the subscribed queue (SIMPLIFIED: the queue body is the published body).
    const inQueue = new Map<number, number>();
    for (const m of local.mns.messages('app')) {
      const seq = (JSON.parse(m.body) as { seq: number }).seq;
      inQueue.set(seq, (inQueue.get(seq) ?? 0) + 1);
    }
    const failedSeqs = new Set(failed.map((m) => m.seq));
    const missing: number[] = [];
    for (let seq = 0; seq < TOTAL; seq++) if (!inQueue.has(seq) && !failedSeqs.has(seq)) missing.push(seq);
    const duplicates = [...inQueue.values()].reduce((n, c) => n + (c > 1 ? c - 1 : 0), 0);
    const reported = published.size;
    const byCode: Record<string, number> = {};
    for (const f of failed) byCode[f.error?.code ?? '?'] = (byCode[f.error?.code ?? '?'] ?? 0) + 1;
    console.log(
      `      ${TOTAL} messages in ${(wall / 1000).toFixed(1)} s: published ${reported}, in queue ${inQueue.size} distinct, ` +
        `output 2: ${failed.length} ${JSON.stringify(byCode)}, duplicates in queue: ${duplicates}, missing: ${missing.length}; ` +
        `faults injected ${JSON.stringify(local.mns.faults.injected)}`,
    );

    assert.equal(ended, TOTAL, 'every message ended exactly once on an output');
    assert.deepEqual(missing, [], 'no message is missing');
    for (const seq of published) assert.ok(inQueue.has(seq), `message ${seq} was reported published and is in the queue`);
    for (const f of failed) {
      assert.ok(f.error?.message && f.error.message.length > 10, 'output 2 carries a reason');
      assert.equal(f.payload.failures?.[0].errorMessage, f.error?.message);
    }
    assert.ok(local.mns.faults.injected.outage === 1, 'the outage happened during the run');
    assert.ok((local.mns.faults.injected['internal-error'] ?? 0) > 100 && (local.mns.faults.injected.throttle ?? 0) > 0);
  });
});
