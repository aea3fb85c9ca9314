// The bounded publish queue behind "MNS topic out": a concurrency limit, a memory bound, retries with backoff
// for retryable failures, and a pause of fresh work while MNS keeps failing (so that during an outage messages
// wait in the queue instead of burning their retries). Every job ends exactly once in its callback, with a
// result or with a reason — nothing is dropped. Plain TypeScript with an injectable clock.
import { MnsError } from './errors';
import type { PublishResult } from './client';
import { ALIBABA_RETRY, retryDelay, systemClock, type Clock, type RetryPolicy } from './retry';

export interface PublishJob {
  topic: string;
  body: string;
  tag?: string;
}

export type PublishOutcome =
  | { ok: true; result: PublishResult; attempts: number }
  | { ok: false; error: Error; reason: string; attempts: number; code: string };

export interface PublisherState {
  /** Jobs waiting for a slot (fresh or with a due retry). */
  queued: number;
  inFlight: number;
  /** Jobs waiting for their retry time. */
  waiting: number;
  /** When the next retry (or the end of the pause) is due, ms since epoch. */
  nextRetryAt?: number;
  published: number;
  failed: number;
  retries: number;
  /** Last MNS error code seen (cleared by nothing: it is history). */
  lastErrorCode?: string;
  /** True while fresh work is held back because MNS keeps failing. */
  paused: boolean;
  closing: boolean;
}

export interface PublisherOptions {
  publish(job: PublishJob): Promise<PublishResult>;
  /** Parallel publishes (default 16). */
  concurrency?: number;
  /** Jobs held in memory at most (queued + waiting + in flight; default 1000). */
  queueLimit?: number;
  retry?: RetryPolicy;
  clock?: Clock;
  random?: () => number;
  /** Aborts in-flight publishes (close after the grace period). */
  abort?: () => void;
  /** Something changed (call state() when you need the numbers; called for every job, so keep it cheap). */
  onChange?: () => void;
}

interface Entry {
  job: PublishJob;
  attempts: number;
  done: (outcome: PublishOutcome) => void;
  timer?: unknown;
  dueAt?: number;
}

/** FIFO with cheap push, shift and unshift (an array's shift is O(n) once it holds thousands of jobs). */
class Deque<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  unshift(v: T): void {
    if (this.head > 0) this.items[--this.head] = v;
    else this.items.unshift(v);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

export class Publisher {
  private readonly ready = new Deque<Entry>();
  private readonly waiting = new Set<Entry>();
  private inFlight = 0;
  private readonly inFlightSettled: Array<() => void> = [];
  /** Retryable failures since the last success. */
  private consecutiveFailures = 0;
  /** That many consecutive failures mean "MNS is down" (a single failure among successes does not). */
  private readonly pauseAfter: number;
  /** In-flight publishes that are retries. */
  private inFlightRetries = 0;
  private closing = false;
  private readonly concurrency: number;
  private readonly queueLimit: number;
  private readonly retry: RetryPolicy;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly stats = { published: 0, failed: 0, retries: 0, lastErrorCode: undefined as string | undefined };

  constructor(private readonly o: PublisherOptions) {
    this.concurrency = o.concurrency ?? 16;
    this.queueLimit = o.queueLimit ?? 1000;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new Error(`concurrency must be a whole number ≥ 1, got ${String(o.concurrency)}`);
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 1) throw new Error(`queue limit must be a whole number ≥ 1, got ${String(o.queueLimit)}`);
    this.retry = o.retry ?? ALIBABA_RETRY;
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
    this.pauseAfter = Math.min(3, this.concurrency);
  }

  /** Messages held now (queued, waiting for a retry, or in flight). */
  get held(): number {
    return this.ready.length + this.waiting.size + this.inFlight;
  }

  state(): PublisherState {
    let next: number | undefined;
    for (const e of this.waiting) if (e.dueAt !== undefined && (next === undefined || e.dueAt < next)) next = e.dueAt;
    const paused = this.isPaused();
    return {
      queued: this.ready.length,
      inFlight: this.inFlight,
      waiting: this.waiting.size,
      nextRetryAt: next,
      published: this.stats.published,
      failed: this.stats.failed,
      retries: this.stats.retries,
      lastErrorCode: this.stats.lastErrorCode,
      paused,
      closing: this.closing,
    };
  }

  /**
   * Takes a job; `done` is called exactly once, later (never synchronously). A full queue or a closing
   * publisher ends the job with code "QueueFull" / "Closed".
   */
  submit(job: PublishJob, done: (outcome: PublishOutcome) => void): void {
    const entry: Entry = { job, attempts: 0, done };
    if (this.closing) {
      queueMicrotask(() => this.fail(entry, 'Closed', 'the node is closing and takes no new messages'));
      return;
    }
    if (this.held >= this.queueLimit) {
      queueMicrotask(() => this.fail(entry, 'QueueFull', `queue full: ${this.queueLimit} messages are already waiting for MNS`));
      return;
    }
    this.ready.push(entry);
    this.pump();
    this.changed();
  }

  private changed(): void {
    this.o.onChange?.();
  }

  private fail(entry: Entry, code: string, reason: string, error?: Error): void {
    this.stats.failed++;
    if (error instanceof MnsError) this.stats.lastErrorCode = error.code;
    else if (code !== 'QueueFull' && code !== 'Closed') this.stats.lastErrorCode = code;
    const err = error ?? new MnsError({ code, status: 0, source: 'local', retryable: false, message: reason });
    entry.done({ ok: false, error: err, reason, attempts: entry.attempts, code });
    this.changed();
  }

  /**
   * While MNS keeps failing (several failures in a row), the messages being retried are the probes: fresh
   * messages wait (keeping their retries) until a publish succeeds, or until no probe is left.
   */
  private isPaused(): boolean {
    return this.consecutiveFailures >= this.pauseAfter && (this.waiting.size > 0 || this.inFlightRetries > 0);
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.ready.length > 0) {
      const head = this.ready.peek() as Entry;
      if (head.attempts === 0 && this.isPaused()) return;
      this.ready.shift();
      this.start(head);
    }
  }

  private start(entry: Entry): void {
    this.inFlight++;
    if (entry.attempts > 0) this.inFlightRetries++;
    entry.attempts++;
    let promise: Promise<PublishResult>;
    try {
      promise = this.o.publish(entry.job);
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (result) => this.settle(entry, { ok: true, result }),
      (err: unknown) => this.settle(entry, { ok: false, error: err instanceof Error ? err : new Error(String(err)) }),
    );
  }

  private settle(entry: Entry, r: { ok: true; result: PublishResult } | { ok: false; error: Error }): void {
    this.inFlight--;
    if (entry.attempts > 1) this.inFlightRetries--;
    if (r.ok) {
      this.stats.published++;
      this.consecutiveFailures = 0;
      entry.done({ ok: true, result: r.result, attempts: entry.attempts });
    } else {
      const err = r.error;
      const mns = err instanceof MnsError ? err : undefined;
      const code = mns?.code ?? 'Error';
      this.stats.lastErrorCode = code;
      const retryable = mns ? mns.retryable : false;
      if (retryable && !this.closing && entry.attempts <= this.retry.retries) {
        const delay = retryDelay(this.retry, entry.attempts, this.random);
        const dueAt = this.clock.now() + delay;
        this.consecutiveFailures++;
        this.stats.retries++;
        entry.dueAt = dueAt;
        this.waiting.add(entry);
        entry.timer = this.clock.setTimeout(() => {
          entry.timer = undefined;
          if (!this.waiting.delete(entry)) return;
          // Due retries go first: they are the oldest messages.
          this.ready.unshift(entry);
          this.pump();
          this.changed();
        }, delay);
      } else {
        const tries = entry.attempts === 1 ? '1 attempt' : `${entry.attempts} attempts`;
        const reason = retryable
          ? this.closing ? `${err.message} (the node closed before it could retry)` : `${err.message} (gave up after ${tries})`
          : err.message;
        this.stats.failed++;
        entry.done({ ok: false, error: err, reason, attempts: entry.attempts, code });
      }
    }
    // Closing too: what is still queued gets its chance within the close grace.
    this.pump();
    if (this.inFlight === 0 && this.ready.length === 0) for (const f of this.inFlightSettled.splice(0)) f();
    this.changed();
  }

  /**
   * Stops taking work. Jobs waiting for a retry end at once with code "Closed" (MNS was failing them). Queued and
   * in-flight jobs get `graceMs` to be published — a stop is no reason to give up on a message MNS would take —
   * then what is still queued ends with "Closed" and in-flight publishes are aborted. Resolves when every job has ended.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const e of this.waiting) {
      if (e.timer !== undefined) this.clock.clearTimeout(e.timer);
      this.fail(e, 'Closed', `the node closed while the message waited for retry ${e.attempts} (last error: ${this.stats.lastErrorCode ?? 'unknown'})`);
    }
    this.waiting.clear();
    this.pump();
    if (this.inFlight === 0 && this.ready.length === 0) return;
    const drained = new Promise<void>((resolve) => this.inFlightSettled.push(resolve));
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.clock.setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([drained, timedOut]);
    this.clock.clearTimeout(timer);
    if (first === 'timeout') {
      for (const e of this.ready.drain()) this.fail(e, 'Closed', 'the node closed before the message could be published');
      if (this.inFlight > 0) this.o.abort?.();
      else for (const f of this.inFlightSettled.splice(0)) f();
      await drained;
    }
  }
}
