// Fault injection for the local MNS (spec §12.9), switchable at run time through the API or
// `/__emulator/faults`. Faults apply to the signed MNS API only (not to /__emulator or the push certificate),
// the way a broken front end of the real service would. Count-based faults and seeded rates are deterministic.

export type FailureKind =
  /** 500 with an XML InternalError body. */
  | 'internal-error'
  /** 503 with an HTML body, as a load balancer would send (not XML). */
  | 'service-unavailable'
  /** 502 with an empty body. */
  | 'bad-gateway'
  /** 429 TooManyRequests after holding the request (spec §6: about 500 ms). */
  | 'throttle'
  /** 400 QpsLimitExceeded, the older throttling answer (spec §6). */
  | 'throttle-legacy'
  /** The socket is destroyed without any response. */
  | 'reset'
  /** No response at all until the client gives up (or the emulator stops). */
  | 'timeout'
  /** The request IS processed (a publish is stored and fanned out), then the socket is destroyed before the answer: the client cannot tell, and a retry duplicates. */
  | 'lost-response';

export const FAILURE_KINDS: readonly FailureKind[] = ['internal-error', 'service-unavailable', 'bad-gateway', 'throttle', 'throttle-legacy', 'reset', 'timeout', 'lost-response'];

export interface FailureRule {
  kind: FailureKind;
  /** Fail exactly the next `count` API requests (decremented as they are used). */
  count?: number;
  /** Or fail each request with this probability, 0..1. */
  rate?: number;
  /** Seed of the rate's random sequence, for a repeatable run. */
  seed?: number;
  /** Throttle only: how long the request is held before the 429 (default 500 ms). */
  holdMs?: number;
  /** Only requests whose path starts with this (e.g. "/topics/"). */
  pathPrefix?: string;
}

export interface LatencyRule {
  ms: number;
  /** Only the next `count` requests; all requests when absent. */
  count?: number;
}

export interface FaultState {
  latency?: LatencyRule;
  failures: FailureRule[];
  /** Epoch ms until which every connection is refused (the listener is closed). */
  outageUntil?: number;
  /** Added to the server clock for the Date skew and STS expiry checks. */
  clockOffsetMs: number;
  /** Treat every STS security token as expired. */
  expireSecurityTokens: boolean;
}

/** What the server should do with one API request. */
export interface FaultDecision {
  delayMs: number;
  failure?: { kind: FailureKind; holdMs: number };
}

/** mulberry32: a tiny seeded PRNG, enough for repeatable fault rates. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultInput {
  latency?: LatencyRule | null;
  failures?: FailureRule[];
  fail?: FailureRule;
  outageMs?: number;
  clockOffsetMs?: number;
  expireSecurityTokens?: boolean;
}

export class FaultController {
  private latency: LatencyRule | undefined;
  private failures: Array<FailureRule & { random?: () => number }> = [];
  clockOffsetMs = 0;
  expireSecurityTokens = false;
  outageUntil: number | undefined;
  /** Counts of faults actually injected, by kind (plus "latency"). */
  readonly injected: Record<string, number> = {};

  constructor(private readonly startOutage: (ms: number) => Promise<void>) {}

  /** Delays the next `count` API requests (or all of them) by `ms`. */
  setLatency(ms: number, count?: number): void {
    if (!(ms >= 0)) throw new Error('latency ms must be a number >= 0');
    if (count !== undefined && !(Number.isInteger(count) && count >= 0)) throw new Error('latency count must be an integer >= 0');
    this.latency = ms > 0 ? { ms, count } : undefined;
  }

  /** Adds a failure rule: `{kind, count}` fails exactly the next count requests; `{kind, rate, seed}` fails at a rate. */
  fail(rule: FailureRule): void {
    if (!FAILURE_KINDS.includes(rule.kind)) throw new Error(`unknown failure kind "${String(rule.kind)}"; use one of ${FAILURE_KINDS.join(', ')}`);
    const hasCount = rule.count !== undefined;
    const hasRate = rule.rate !== undefined;
    if (hasCount === hasRate) throw new Error('a failure rule needs exactly one of "count" (next N requests) or "rate" (0..1)');
    if (hasCount && !(Number.isInteger(rule.count) && rule.count! >= 0)) throw new Error('failure count must be an integer >= 0');
    if (hasRate && !(rule.rate! >= 0 && rule.rate! <= 1)) throw new Error('failure rate must be between 0 and 1');
    if (rule.holdMs !== undefined && !(rule.holdMs >= 0)) throw new Error('holdMs must be >= 0');
    const copy: FailureRule & { random?: () => number } = { ...rule };
    if (hasRate) copy.random = rule.seed !== undefined ? seeded(rule.seed) : Math.random;
    this.failures.push(copy);
  }

  /** Refuses every connection for `ms` (the listener closes and reopens on the same port). Resolves when it is over. */
  outage(ms: number): Promise<void> {
    if (!(ms > 0)) throw new Error('outage ms must be > 0');
    this.injected.outage = (this.injected.outage ?? 0) + 1;
    return this.startOutage(ms);
  }

  /** Applies a JSON description (the body of POST /__emulator/faults); returns a promise for an outage's end if one was started. */
  apply(input: FaultInput): Promise<void> | undefined {
    if (typeof input !== 'object' || input === null) throw new Error('faults must be a JSON object');
    if (input.latency === null) this.latency = undefined;
    else if (input.latency !== undefined) this.setLatency(Number(input.latency.ms), input.latency.count);
    for (const rule of input.failures ?? []) this.fail(rule);
    if (input.fail) this.fail(input.fail);
    if (input.clockOffsetMs !== undefined) {
      if (!Number.isFinite(input.clockOffsetMs)) throw new Error('clockOffsetMs must be a number');
      this.clockOffsetMs = input.clockOffsetMs;
    }
    if (input.expireSecurityTokens !== undefined) this.expireSecurityTokens = Boolean(input.expireSecurityTokens);
    if (input.outageMs !== undefined) return this.outage(Number(input.outageMs));
    return undefined;
  }

  /** Removes every fault (an outage in progress keeps running until its end). */
  clear(): void {
    this.latency = undefined;
    this.failures = [];
    this.clockOffsetMs = 0;
    this.expireSecurityTokens = false;
  }

  state(): FaultState {
    return {
      latency: this.latency ? { ...this.latency } : undefined,
      failures: this.failures.map(({ random: _r, ...rule }) => rule),
      outageUntil: this.outageUntil,
      clockOffsetMs: this.clockOffsetMs,
      expireSecurityTokens: this.expireSecurityTokens,
    };
  }

  /** Decides the fate of one API request, consuming counts. */
  decide(path: string): FaultDecision {
    const decision: FaultDecision = { delayMs: 0 };
    if (this.latency) {
      decision.delayMs = this.latency.ms;
      this.injected.latency = (this.injected.latency ?? 0) + 1;
      if (this.latency.count !== undefined && --this.latency.count <= 0) this.latency = undefined;
    }
    for (const rule of this.failures) {
      if (rule.pathPrefix && !path.startsWith(rule.pathPrefix)) continue;
      let hit = false;
      if (rule.count !== undefined) {
        if (rule.count > 0) {
          rule.count--;
          hit = true;
        }
      } else if (rule.random && rule.random() < (rule.rate ?? 0)) {
        hit = true;
      }
      if (hit) {
        this.injected[rule.kind] = (this.injected[rule.kind] ?? 0) + 1;
        decision.failure = { kind: rule.kind, holdMs: rule.kind === 'throttle' ? rule.holdMs ?? 500 : rule.holdMs ?? 0 };
        break;
      }
    }
    this.failures = this.failures.filter((r) => r.count === undefined || r.count > 0);
    return decision;
  }
}
