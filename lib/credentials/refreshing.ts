// Cache + single-flight refresh around any credential source.
// Refreshes at Expiration − max(minMargin, fraction × lifetime) (spec §9.7: 5 min / 20 %), shares one in-flight
// fetch among all callers, keeps serving a still-valid token when a refresh fails (and retries with jittered
// exponential backoff), and never returns an expired token.
import { EventEmitter } from 'node:events';
import type { CredentialProvider, Credentials } from './types';
import { CredentialsExpiredError } from './errors';

export interface RefreshPolicy {
  /** Minimum refresh margin before expiry, ms. Default 5 min. */
  minMarginMs?: number;
  /** Refresh margin as a fraction of the token's lifetime. Default 0.2. */
  marginFraction?: number;
  /** A token closer than this to its expiry counts as expired (clock skew, in-flight calls). Default 10 s. */
  expirySafetyMs?: number;
  /** How long to reuse credentials that carry no expiration. Default 5 min (the source may cache more itself). */
  noExpiryTtlMs?: number;
  /** First retry delay after a failed refresh, ms. Default 1 s; doubles up to `maxBackoffMs` (default 60 s), jittered. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Refresh in the background on a timer, so that callers never wait. Default false (refresh on demand). */
  proactive?: boolean;
  /** Clock (ms since epoch); tests inject one. */
  now?: () => number;
  /** Random in [0,1) for the backoff jitter. */
  random?: () => number;
}

export interface RefreshedEvent {
  accessKeyId: string;
  expiration?: Date;
  /** When the next refresh is due (ms since epoch). */
  refreshAt?: number;
}

export interface RefreshFailedEvent {
  error: Error;
  /** Consecutive failures so far. */
  attempt: number;
  /** Whether a still-valid older token is being served meanwhile. */
  servingCached: boolean;
  /** Earliest time of the next attempt (ms since epoch). */
  retryAt: number;
}

/**
 * Events: `refreshed` (RefreshedEvent), `refresh-failed` (RefreshFailedEvent), `expired` (Error: the last
 * refresh error, emitted when a caller is refused because the token expired). No event carries a secret.
 */
export class RefreshingCredentialProvider extends EventEmitter implements CredentialProvider {
  private cached?: Credentials;
  private fetchedAt = 0;
  private inflight?: Promise<Credentials>;
  private failures = 0;
  private lastError?: Error;
  private nextAttemptAt = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly p: Required<Omit<RefreshPolicy, 'now' | 'random'>> & { now: () => number; random: () => number };

  constructor(private readonly fetchCredentials: () => Promise<Credentials>, policy: RefreshPolicy = {}) {
    super();
    this.p = {
      minMarginMs: policy.minMarginMs ?? 5 * 60_000,
      marginFraction: policy.marginFraction ?? 0.2,
      expirySafetyMs: policy.expirySafetyMs ?? 10_000,
      noExpiryTtlMs: policy.noExpiryTtlMs ?? 5 * 60_000,
      baseBackoffMs: policy.baseBackoffMs ?? 1000,
      maxBackoffMs: policy.maxBackoffMs ?? 60_000,
      proactive: policy.proactive ?? false,
      now: policy.now ?? Date.now,
      random: policy.random ?? Math.random,
    };
  }

  /** When the given credentials should be refreshed (ms since epoch). */
  refreshAt(c: Credentials, fetchedAt: number): number {
    if (!c.expiration) return fetchedAt + this.p.noExpiryTtlMs;
    const exp = c.expiration.getTime();
    const lifetime = Math.max(0, exp - fetchedAt);
    return exp - Math.max(this.p.minMarginMs, this.p.marginFraction * lifetime);
  }

  private usable(c: Credentials | undefined, now: number): c is Credentials {
    if (!c) return false;
    if (!c.expiration) return true;
    return now < c.expiration.getTime() - this.p.expirySafetyMs;
  }

  /** The last refresh error, if the latest attempt failed. */
  get lastFailure(): Error | undefined {
    return this.lastError;
  }

  async getCredentials(): Promise<Credentials> {
    if (this.closed) throw new Error('credential provider is closed');
    const now = this.p.now();
    const c = this.cached;
    if (this.usable(c, now)) {
      if (now >= this.refreshAt(c, this.fetchedAt) && now >= this.nextAttemptAt) {
        // Refresh in the background; callers keep the valid token meanwhile. Failures are reported by event.
        this.refresh().catch(() => undefined);
      }
      return c;
    }
    // Nothing valid to serve: wait for a fetch, unless we are still backing off after a failure.
    if (this.lastError && now < this.nextAttemptAt && !this.inflight) throw this.refusal(this.lastError);
    try {
      return await this.refresh();
    } catch (err) {
      throw this.refusal(err as Error);
    }
  }

  private refusal(err: Error): Error {
    if (!this.cached) return err;
    const exp = this.cached.expiration?.toISOString() ?? 'unknown';
    const e = new CredentialsExpiredError(`STS credentials expired at ${exp} and could not be refreshed: ${err.message}`, { cause: err });
    this.emit('expired', e);
    return e;
  }

  /** Starts (or joins) a refresh. Exactly one fetch runs at a time. */
  refresh(): Promise<Credentials> {
    if (this.inflight) return this.inflight;
    const started = this.p.now();
    const run = (async () => {
      try {
        const fresh = await this.fetchCredentials();
        this.cached = fresh;
        this.fetchedAt = started;
        this.failures = 0;
        this.lastError = undefined;
        this.nextAttemptAt = 0;
        const refreshAt = this.refreshAt(fresh, started);
        // Floor of 1 s: a token shorter than the margin (only seen with test STS lifetimes) must not loop.
        this.schedule(Math.max(1000, refreshAt - this.p.now()));
        this.emit('refreshed', { accessKeyId: fresh.accessKeyId, expiration: fresh.expiration, refreshAt } satisfies RefreshedEvent);
        return fresh;
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        this.failures += 1;
        this.lastError = error;
        const exp = Math.min(this.p.maxBackoffMs, this.p.baseBackoffMs * 2 ** (this.failures - 1));
        const delay = Math.round(exp / 2 + (this.p.random() * exp) / 2);
        this.nextAttemptAt = this.p.now() + delay;
        const servingCached = this.usable(this.cached, this.p.now());
        if (servingCached) this.schedule(delay);
        if (this.listenerCount('refresh-failed') > 0) {
          this.emit('refresh-failed', { error, attempt: this.failures, servingCached, retryAt: this.nextAttemptAt } satisfies RefreshFailedEvent);
        }
        throw error;
      } finally {
        this.inflight = undefined;
      }
    })();
    this.inflight = run;
    return run;
  }

  private schedule(delayMs: number): void {
    if (!this.p.proactive || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh().catch(() => undefined);
    }, Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
    this.timer.unref();
  }

  /** Stops background refreshes; later calls reject. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.removeAllListeners();
  }
}
