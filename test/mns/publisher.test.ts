// The bounded publish queue, driven by a manual clock: retry schedule and classification, the pause of fresh
// work while MNS fails, the memory bound, and close.
import assert from 'node:assert/strict';
import { ALIBABA_RETRY, ManualClock, MnsError, Publisher, parseRetryPolicy, retryDelay, flushMicrotasks, type PublishOutcome } from '../../lib/mns';
import type { PublishJob } from '../../lib/mns';

function mnsError(code: string, status: number): MnsError {
  return new MnsError({ code, status, message: `MNS says ${code}`, source: status ? 'mns' : 'network' });
}

/** A fake transport whose answers the test scripts: a queue of results per call (default success). */
class Script {
  calls: Array<{ job: PublishJob; at: number }> = [];
  pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  constructor(private readonly clock: ManualClock, private readonly answer: (n: number, job: PublishJob) => Error | 'ok' | 'hang') {}
  publish = (job: PublishJob): Promise<{ messageId: string; bodyMD5: string }> => {
    this.calls.push({ job, at: this.clock.now() });
    const a = this.answer(this.calls.length, job);
    if (a === 'ok') return Promise.resolve({ messageId: `id-${this.calls.length}`, bodyMD5: 'X' });
    if (a === 'hang') {
      return new Promise((resolve, reject) => this.pending.push({ resolve: () => resolve({ messageId: 'late', bodyMD5: 'X' }), reject }));
    }
    return Promise.reject(a);
  };
}

describe('lib/mns retry policy', function () {
  it("defaults to Alibaba's 3 retries at about 1 s, 3 s, 10 s", function () {
    assert.equal(ALIBABA_RETRY.retries, 3);
    const mid = () => 0.5;
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(ALIBABA_RETRY, n, mid)), [1000, 3000, 10000, 10000]);
    const d = retryDelay(ALIBABA_RETRY, 1, () => 0.999);
    assert.ok(d >= 1000 && d <= 1100, `jitter stays within 10 %: ${d}`);
  });
  it('parses the editor fields and refuses nonsense with what to fix', function () {
    assert.deepEqual(parseRetryPolicy('', '').delaysMs, [1000, 3000, 10000]);
    assert.deepEqual(parseRetryPolicy('5', '0.5, 2').delaysMs, [500, 2000]);
    assert.deepEqual(parseRetryPolicy('4', '').delaysMs, [1000, 2000, 4000, 8000]);
    assert.equal(parseRetryPolicy('0', '').retries, 0);
    assert.throws(() => parseRetryPolicy('-1', ''), /whole number/);
    assert.throws(() => parseRetryPolicy('3', '1, soon'), /seconds/);
  });
  it('classifies MNS answers: transient ones retry, configuration ones do not', function () {
    for (const [code, status] of [['InternalError', 500], ['ServiceUnavailable', 503], ['TooManyRequests', 429], ['QpsLimitExceeded', 400], ['NetworkError', 0], ['Timeout', 0], ['SecurityTokenExpired', 403]] as const) {
      assert.equal(mnsError(code, status).retryable, true, code);
    }
    for (const [code, status] of [['TopicNotExist', 404], ['AccessDenied', 403], ['InvalidArgument', 400], ['MalformedXML', 400], ['SignatureDoesNotMatch', 403]] as const) {
      assert.equal(mnsError(code, status).retryable, false, code);
    }
  });
});

describe('lib/mns Publisher', function () {
  let clock: ManualClock;
  beforeEach(function () {
    clock = new ManualClock();
  });
  const noJitter = { ...ALIBABA_RETRY, jitter: 0 };

  function run(p: Publisher, n: number, prefix = 'm'): PublishOutcome[] {
    const out: PublishOutcome[] = [];
    for (let i = 0; i < n; i++) p.submit({ topic: 't', body: `${prefix}${i}` }, (o) => out.push(o));
    return out;
  }

  it('retries a retryable failure at 1 s, 3 s, 10 s, then ends it with the reason', async function () {
    const s = new Script(clock, () => mnsError('InternalError', 500));
    const p = new Publisher({ publish: s.publish, clock, retry: noJitter });
    const out = run(p, 1);
    await clock.advance(20_000);
    assert.deepEqual(s.calls.map((c) => c.at - s.calls[0].at), [0, 1000, 4000, 14000]);
    assert.equal(out.length, 1);
    assert.equal(out[0].ok, false);
    if (!out[0].ok) {
      assert.equal(out[0].code, 'InternalError');
      assert.match(out[0].reason, /gave up after 4 attempts/);
    }
  });

  it('does not retry a permanent failure', async function () {
    const s = new Script(clock, () => mnsError('TopicNotExist', 404));
    const p = new Publisher({ publish: s.publish, clock, retry: noJitter });
    const out = run(p, 1);
    await clock.advance(20_000);
    assert.equal(s.calls.length, 1);
    assert.equal(out[0].ok, false);
  });

  it('succeeds on a later attempt and reports the attempts', async function () {
    const s = new Script(clock, (n) => (n < 3 ? mnsError('TooManyRequests', 429) : 'ok'));
    const p = new Publisher({ publish: s.publish, clock, retry: noJitter });
    const out = run(p, 1);
    await clock.advance(5000);
    assert.equal(out[0].ok, true);
    assert.equal(out[0].attempts, 3);
  });

  it('holds fresh messages back while MNS is down, so they do not burn their retries', async function () {
    let down = true;
    const s = new Script(clock, () => (down ? mnsError('NetworkError', 0) : 'ok'));
    const p = new Publisher({ publish: s.publish, clock, retry: noJitter, concurrency: 2, queueLimit: 100 });
    const out = run(p, 50);
    await flushMicrotasks();
    assert.equal(s.calls.length, 3, 'one failure alone does not pause; failures in a row do: three went out');
    await clock.advance(3000);
    assert.equal(p.state().queued, 47);
    assert.ok(p.state().paused);
    assert.equal(s.calls.length, 6, 'the three probes retried at 1 s only (next at 4 s)');
    down = false;
    await clock.advance(2000);
    await clock.advance(1000);
    assert.equal(out.length, 50);
    assert.ok(out.every((o) => o.ok), 'every message published once MNS came back');
  });

  it('refuses beyond the queue limit with "queue full", never silently', async function () {
    const s = new Script(clock, () => 'hang');
    const p = new Publisher({ publish: s.publish, clock, concurrency: 2, queueLimit: 5 });
    const out = run(p, 8);
    await flushMicrotasks();
    assert.equal(out.length, 3);
    assert.ok(out.every((o) => !o.ok && o.code === 'QueueFull' && /queue full/.test(o.reason)));
    assert.equal(p.held, 5);
  });

  it('respects the concurrency limit', async function () {
    const s = new Script(clock, () => 'hang');
    const p = new Publisher({ publish: s.publish, clock, concurrency: 3 });
    run(p, 10);
    await flushMicrotasks();
    assert.equal(s.calls.length, 3);
    s.pending[0].resolve();
    await flushMicrotasks();
    assert.equal(s.calls.length, 4);
  });

  it('close ends waiting retries at once, still publishes what is queued within the grace, refuses new work', async function () {
    // Call 1 fails (→ waits for a retry); every later call succeeds.
    const s = new Script(clock, (n) => (n === 1 ? mnsError('InternalError', 500) : 'ok'));
    const p = new Publisher({ publish: s.publish, clock, retry: noJitter, concurrency: 1 });
    const out = run(p, 4);
    await flushMicrotasks(); // m0 failed and waits for its retry; m1..m3 queued behind the concurrency limit
    await p.close(2000);
    assert.equal(out.length, 4, 'every message ended');
    assert.equal(out.filter((o) => o.ok).length, 3, 'the queued messages were published during close');
    const closed = out.filter((o) => !o.ok);
    assert.equal(closed.length, 1);
    assert.equal(closed[0].ok === false && closed[0].code, 'Closed');
    assert.match(closed[0].ok === false ? closed[0].reason : '', /waited for retry 1/);
    const late: PublishOutcome[] = [];
    p.submit({ topic: 't', body: 'late' }, (o) => late.push(o));
    await flushMicrotasks();
    assert.equal(late[0].ok === false && late[0].code, 'Closed');
  });

  it('close gives in-flight and queued messages the grace time, then ends the queued ones and aborts the in-flight ones', async function () {
    const s = new Script(clock, () => 'hang');
    let aborted = 0;
    const p = new Publisher({
      publish: s.publish,
      clock,
      retry: noJitter,
      concurrency: 2,
      abort: () => {
        aborted++;
        for (const x of s.pending.splice(0)) x.reject(mnsError('NetworkError', 0));
      },
    });
    const out = run(p, 5);
    await flushMicrotasks(); // 2 in flight (hanging), 3 queued
    const closing = p.close(2000);
    let closed = false;
    void closing.then(() => (closed = true));
    await flushMicrotasks();
    assert.equal(out.length, 0, 'nothing is given up before the grace time');
    await clock.advance(1999);
    assert.equal(closed, false, 'waits for the in-flight publishes');
    await clock.advance(1);
    await closing;
    assert.equal(aborted, 1);
    assert.equal(out.length, 5, 'every message ended');
    assert.ok(out.every((o) => !o.ok), 'none published');
    assert.equal(out.filter((o) => !o.ok && o.code === 'Closed').length, 3, 'the queued ones end as Closed');
  });
});
