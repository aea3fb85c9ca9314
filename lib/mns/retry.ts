// Retry policy (default: Alibaba's rule engine, spec iot-sql §4: retries after about 1 s, 3 s, 10 s) and an
// injectable clock so tests drive time instead of sleeping.

export interface RetryPolicy {
  /** How many times a failed publish is tried again (0 = never). */
  retries: number;
  /** Pause before retry n (1-based) is delaysMs[n-1]; the last entry repeats. */
  delaysMs: number[];
  /** ± fraction of random spread on each pause (0..0.5), so that many waiting messages do not retry in lockstep. */
  jitter?: number;
}

export const ALIBABA_RETRY: Readonly<RetryPolicy> = Object.freeze({ retries: 3, delaysMs: [1000, 3000, 10000], jitter: 0.1 });

export function retryDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const list = policy.delaysMs.length > 0 ? policy.delaysMs : [1000];
  const base = list[Math.min(retry, list.length) - 1] ?? list[list.length - 1];
  const jitter = Math.min(0.5, Math.max(0, policy.jitter ?? 0));
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
}

/**
 * Reads the editor's retry fields: a count and a comma list of seconds ("1, 3, 10"). An empty list with a
 * count means exponential pauses 1 s, 2 s, 4 s, …, capped at 60 s.
 */
export function parseRetryPolicy(count: unknown, delays: unknown): RetryPolicy {
  const n = count === undefined || count === '' ? ALIBABA_RETRY.retries : Number(count);
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new Error(`retry count must be a whole number from 0 to 100, got "${String(count)}"`);
  const text = delays === undefined ? '' : String(delays).trim();
  let delaysMs: number[];
  if (text === '') {
    delaysMs = count === undefined || count === '' ? [...ALIBABA_RETRY.delaysMs] : Array.from({ length: Math.max(1, n) }, (_v, i) => Math.min(60, 2 ** i) * 1000);
  } else {
    delaysMs = text.split(/[\s,]+/).filter((s) => s !== '').map((s) => {
      const v = Number(s);
      if (!Number.isFinite(v) || v < 0 || v > 3600) throw new Error(`retry pauses must be seconds from 0 to 3600 separated by commas (like "1, 3, 10"), got "${s}"`);
      return Math.round(v * 1000);
    });
  }
  return { retries: n, delaysMs, jitter: ALIBABA_RETRY.jitter };
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A clock for tests: time moves only when `advance` is called, and due timers then fire in order. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers one by one (awaiting microtasks between them). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flushMicrotasks();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      await flushMicrotasks();
    }
    this.t = end;
    await flushMicrotasks();
  }
}

export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
