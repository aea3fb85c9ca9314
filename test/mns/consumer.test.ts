// lib/mns QueueConsumer without Node-RED: at-least-once delivery against the local MNS, batched deletes, backoff
// on a ManualClock, closing in the middle of a long poll, and poison messages.
import assert from 'node:assert/strict';
import { ManualClock, MnsClient, MnsError, QueueConsumer, flushMicrotasks, type PoisonInfo, type QueueClient, type ReceivedMessage } from '../../lib/mns';
import { ACCOUNT_ID, staticProvider, startLocalMns, type LocalMns } from './support';

function message(id: string, dequeueCount = 1, handle = `${id}-h${dequeueCount}`): ReceivedMessage {
  return { messageId: id, receiptHandle: handle, body: `body of ${id}`, bodyMD5: '', enqueueTime: 1, nextVisibleTime: 2, firstDequeueTime: 1, dequeueCount, priority: 8 };
}

/** A scripted queue: each receive takes the next scripted answer, or parks until abortInFlight(). */
class ScriptedQueue implements QueueClient {
  receives: Array<{ at: number; batch: number }> = [];
  deletes: string[][] = [];
  visibility: Array<{ handle: string; seconds: number }> = [];
  private parked: Array<(e: Error) => void> = [];
  constructor(private readonly clock: { now(): number }, private readonly script: Array<ReceivedMessage[] | MnsError>) {}
  async receiveMessages(_q: string, _wait: number, batch: number): Promise<ReceivedMessage[]> {
    this.receives.push({ at: this.clock.now(), batch });
    const next = this.script.shift();
    if (next === undefined) return new Promise((_resolve, reject) => this.parked.push(reject));
    if (next instanceof MnsError) throw next;
    return next;
  }
  async deleteMessages(_q: string, handles: string[]): Promise<[]> {
    this.deletes.push(handles);
    return [];
  }
  async changeVisibility(_q: string, handle: string, seconds: number): Promise<{ receiptHandle: string; nextVisibleTime: number }> {
    this.visibility.push({ handle, seconds });
    return { receiptHandle: `${handle}-new`, nextVisibleTime: 0 };
  }
  abortInFlight(): void {
    for (const r of this.parked.splice(0)) r(new MnsError({ code: 'Aborted', status: 0, source: 'local', message: 'aborted' }));
  }
  get parkedPolls(): number {
    return this.parked.length;
  }
}

const transient = (): MnsError => new MnsError({ code: 'ServiceUnavailable', status: 503, source: 'http', message: 'HTTP 503' });

describe('lib/mns QueueConsumer', function () {
  describe('against the local MNS (real client, real visibility timeout)', function () {
    let local: LocalMns;
    let client: MnsClient;
    beforeEach(async function () {
      local = await startLocalMns();
      client = new MnsClient({ endpoint: local.mns.url, accountId: ACCOUNT_ID, credentials: staticProvider(), timeoutMs: 2000 });
    });
    afterEach(async function () {
      client.close();
      await local.mns.stop();
    });

    it('at-least-once: a failed message comes back after the visibility timeout and is deleted only once settled ok', async function () {
      for (const b of ['a', 'b', 'c']) local.mns.send('work', b);
      const seen: Array<[string, number]> = [];
      let allDone!: () => void;
      const finished = new Promise<void>((r) => (allDone = r));
      const consumer: QueueConsumer = new QueueConsumer({
        queue: 'work', client, waitSeconds: 1, batchSize: 16, concurrency: 16,
        onMessage: (m) => {
          seen.push([m.body, m.dequeueCount]);
          consumer.settle(m, m.body === 'b' && m.dequeueCount === 1 ? 'failed' : 'ok', 'first try fails');
        },
        onChange: () => {
          if (consumer.stats().deleted === 3) allDone();
        },
      });
      consumer.start();
      await finished;
      await consumer.close(1000);
      assert.deepEqual(seen.filter(([b]) => b === 'b').map(([, n]) => n), [1, 2]);
      assert.deepEqual(seen.filter(([b]) => b !== 'b').map(([b, n]) => `${b}${n}`).sort(), ['a1', 'c1']);
      assert.equal(local.mns.messages('work').length, 0);
      assert.deepEqual({ ...consumer.stats(), inFlight: 0 }, { received: 4, deleted: 3, redelivery: 1, poison: 0, inFlight: 0 });
    });

    it('a message never settled is not deleted: close leaves it for MNS to deliver again', async function () {
      local.mns.send('work', 'held');
      let got!: (m: ReceivedMessage) => void;
      const received = new Promise<ReceivedMessage>((r) => (got = r));
      const consumer = new QueueConsumer({ queue: 'work', client, waitSeconds: 1, batchSize: 16, concurrency: 16, onMessage: (m) => got(m) });
      consumer.start();
      await received;
      await consumer.close(50);
      assert.equal(local.mns.messages('work').length, 1, 'still in the queue');
    });
  });

  describe('with a scripted queue and a manual clock', function () {
    it('deletes settled messages in batches of at most 16', async function () {
      const clock = new ManualClock();
      const batch = Array.from({ length: 16 }, (_v, i) => message(`m${i}`));
      const q = new ScriptedQueue(clock, [batch, [message('m16'), message('m17'), message('m18'), message('m19')]]);
      const got: ReceivedMessage[] = [];
      const consumer = new QueueConsumer({ queue: 'q', client: q, waitSeconds: 1, batchSize: 16, concurrency: 32, clock, onMessage: (m) => got.push(m) });
      consumer.start();
      await flushMicrotasks();
      assert.equal(got.length, 20);
      for (const m of got) consumer.settle(m, 'ok');
      await flushMicrotasks();
      assert.deepEqual(q.deletes.map((d) => d.length), [16, 4]);
      assert.equal(consumer.stats().deleted, 20);
      await consumer.close(0);
    });

    it('never holds more than the concurrency limit; a settled message frees a slot for the next poll', async function () {
      const clock = new ManualClock();
      const q = new ScriptedQueue(clock, [[message('a'), message('b')], [message('c')]]);
      const got: ReceivedMessage[] = [];
      const consumer = new QueueConsumer({ queue: 'q', client: q, waitSeconds: 1, batchSize: 16, concurrency: 2, clock, onMessage: (m) => got.push(m) });
      consumer.start();
      await flushMicrotasks();
      assert.deepEqual(q.receives.map((r) => r.batch), [2]);
      consumer.settle(got[0], 'ok');
      await flushMicrotasks();
      assert.deepEqual(q.receives.map((r) => r.batch), [2, 1]);
      await consumer.close(0);
    });

    it('backs off 1 s, 2 s, 4 s on transient errors, 10 s on permanent ones, and resets after a success', async function () {
      const clock = new ManualClock(0);
      const permanent = new MnsError({ code: 'QueueNotExist', status: 404, source: 'mns', message: 'no queue' });
      const q = new ScriptedQueue(clock, [transient(), transient(), transient(), [], permanent, transient()]);
      const errors: Array<[string, number]> = [];
      let recovered = 0;
      const consumer = new QueueConsumer({
        queue: 'q', client: q, waitSeconds: 1, batchSize: 16, concurrency: 16, clock,
        onMessage: () => undefined, onReceiveError: (e, ms) => errors.push([e.code, ms]), onRecovered: () => recovered++,
      });
      consumer.start();
      await clock.advance(60_000);
      assert.deepEqual(q.receives.map((r) => r.at), [0, 1000, 3000, 7000, 7000, 17000, 19000]);
      assert.deepEqual(errors, [['ServiceUnavailable', 1000], ['ServiceUnavailable', 2000], ['ServiceUnavailable', 4000], ['QueueNotExist', 10_000], ['ServiceUnavailable', 2000]]);
      assert.equal(recovered, 1, "once, after the first success");
      await consumer.close(0);
    });

    it('close in the middle of a long poll aborts it at once and polls no more', async function () {
      const clock = new ManualClock();
      const q = new ScriptedQueue(clock, []);
      const consumer = new QueueConsumer({ queue: 'q', client: q, waitSeconds: 30, batchSize: 16, concurrency: 16, clock, onMessage: () => undefined });
      consumer.start();
      await flushMicrotasks();
      assert.equal(q.parkedPolls, 1);
      await consumer.close(1000);
      assert.equal(q.parkedPolls, 0);
      await clock.advance(120_000);
      assert.equal(q.receives.length, 1);
      assert.equal(clock.pending, 0, 'no timer left behind');
    });

    it('close gives messages in flight the grace time to settle, and sends their deletes', async function () {
      const clock = new ManualClock();
      const q = new ScriptedQueue(clock, [[message('a')]]);
      const got: ReceivedMessage[] = [];
      const consumer = new QueueConsumer({ queue: 'q', client: q, waitSeconds: 30, batchSize: 16, concurrency: 16, clock, onMessage: (m) => got.push(m) });
      consumer.start();
      await flushMicrotasks();
      const closed = consumer.close(3000);
      await clock.advance(1000);
      consumer.settle(got[0], 'ok');
      await closed;
      assert.deepEqual(q.deletes, [['a-h1']]);
    });

    it('a message delivered more than maxDeliveries times goes to onPoison with the last failure, and is deleted', async function () {
      const clock = new ManualClock();
      const q = new ScriptedQueue(clock, [[message('p', 3)], [message('p', 4), message('ok', 1)]]);
      const got: ReceivedMessage[] = [];
      const poisoned: Array<[ReceivedMessage, PoisonInfo]> = [];
      const consumer: QueueConsumer = new QueueConsumer({
        queue: 'q', client: q, waitSeconds: 1, batchSize: 16, concurrency: 16, clock, maxDeliveries: 3,
        onMessage: (m) => {
          got.push(m);
          consumer.settle(m, m.messageId === 'p' ? 'failed' : 'ok', 'cannot decode: not JSON');
        },
        onPoison: (m, info) => poisoned.push([m, info]),
      });
      consumer.start();
      await flushMicrotasks();
      assert.deepEqual(got.map((m) => `${m.messageId}${m.dequeueCount}`), ['p3', 'ok1']);
      assert.equal(poisoned.length, 1);
      const [m, info] = poisoned[0];
      assert.equal(m.dequeueCount, 4);
      assert.deepEqual(info, { reason: 'delivered 4 times, more than the maximum of 3; last failure: cannot decode: not JSON', deliveries: 4, maxDeliveries: 3, action: 'delete' });
      assert.deepEqual(q.deletes.flat().sort(), ['ok-h1', 'p-h4']);
      assert.equal(consumer.stats().poison, 1);
      await consumer.close(0);
    });

    it('poison action "keep" hides the message for 12 h instead of deleting it; maxDeliveries 0 never poisons', async function () {
      const clock = new ManualClock();
      const q = new ScriptedQueue(clock, [[message('p', 9)]]);
      const poisoned: PoisonInfo[] = [];
      const consumer = new QueueConsumer({
        queue: 'q', client: q, waitSeconds: 1, batchSize: 16, concurrency: 16, clock, poisonAction: 'keep',
        onMessage: () => assert.fail('poison must not reach onMessage'), onPoison: (_m, info) => poisoned.push(info),
      });
      consumer.start();
      await flushMicrotasks();
      assert.equal(poisoned[0].action, 'keep');
      assert.match(poisoned[0].reason, /^delivered 9 times, more than the maximum of 5$/);
      assert.deepEqual(q.visibility, [{ handle: 'p-h9', seconds: 43200 }]);
      assert.deepEqual(q.deletes, []);
      await consumer.close(0);

      const q2 = new ScriptedQueue(clock, [[message('p', 99)]]);
      const got: ReceivedMessage[] = [];
      const unlimited = new QueueConsumer({ queue: 'q', client: q2, waitSeconds: 1, batchSize: 16, concurrency: 16, clock, maxDeliveries: 0, onMessage: (m) => got.push(m) });
      unlimited.start();
      await flushMicrotasks();
      assert.equal(got.length, 1);
      await unlimited.close(0);
    });
  });
});
