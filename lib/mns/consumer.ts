// The MNS queue consumer (spec §5): long-polls a queue, hands each message to its owner, deletes it in batches of
// up to 16 once the owner says it is done with it (at-least-once: a message not acknowledged comes back after the
// queue's visibility timeout), backs off on errors, and stops poison messages from looping for ever: a message
// delivered more than `maxDeliveries` times (MNS counts in DequeueCount) goes to `onPoison` with the reason, and is
// then deleted, or kept in the queue but hidden for `keepSeconds` (ChangeMessageVisibility).
// No Node-RED here: the queue in node is glue around this (test/mns/consumer.test.ts drives it with a ManualClock).
import { MnsError } from './errors';
import type { ChangeVisibilityResult, DeleteFailure, ReceivedMessage } from './client';
import { systemClock, type Clock } from './retry';

/** What the consumer needs of an MNS client (MnsClient has it). */
export interface QueueClient {
  receiveMessages(queue: string, waitSeconds: number, batch: number): Promise<ReceivedMessage[]>;
  deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteFailure[]>;
  changeVisibility(queue: string, receiptHandle: string, visibilityTimeout: number): Promise<ChangeVisibilityResult>;
  /** Ends the calls in flight (the long poll) at once. */
  abortInFlight?(): void;
}

export type PoisonAction = 'delete' | 'keep';

export interface PoisonInfo {
  /** Why the message is given up: the delivery count and the last failure seen for it, if any. */
  reason: string;
  deliveries: number;
  maxDeliveries: number;
  action: PoisonAction;
}

export interface ConsumerOptions {
  queue: string;
  /** Client for receiving (its calls are aborted on close). */
  client: QueueClient;
  /** Client for deletes and visibility changes (default: `client`); kept working while closing. */
  ackClient?: QueueClient;
  waitSeconds: number;
  batchSize: number;
  /** Most messages handed out and not yet settled. */
  concurrency: number;
  /** A message received with DequeueCount above this is poison (default 5; 0 = never). */
  maxDeliveries?: number;
  poisonAction?: PoisonAction;
  /** How long a kept poison message stays hidden, s (default 43200, the MNS maximum). */
  keepSeconds?: number;
  clock?: Clock;
  /** First pause after an error, ms (default 1000), doubled up to maxBackoffMs (default 60 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A message to process; settle it later with consumer.settle(). */
  onMessage(m: ReceivedMessage): void;
  /** A poison message (already counted as settled). */
  onPoison?(m: ReceivedMessage, info: PoisonInfo): void;
  onReceiveError?(e: MnsError, retryInMs: number): void;
  onRecovered?(): void;
  onDeleteFailures?(failures: DeleteFailure[]): void;
  onAckError?(e: Error, count: number): void;
  /** Something in stats() or state() changed. */
  onChange?(): void;
}

export interface ConsumerStats {
  received: number;
  deleted: number;
  /** Left in the queue for redelivery (failed, timed out). */
  redelivery: number;
  poison: number;
  inFlight: number;
}

/** How many last-failure reasons are remembered, by message ID. */
const REASONS_KEPT = 1000;

export class QueueConsumer {
  private readonly o: ConsumerOptions;
  private readonly clock: Clock;
  private readonly ackClient: QueueClient;
  private readonly maxDeliveries: number;
  private readonly inFlight = new Map<string, ReceivedMessage>();
  private readonly lastFailure = new Map<string, string>();
  private readonly toDelete: string[] = [];
  private flushing?: Promise<void>;
  private running = false;
  private loopDone?: Promise<void>;
  private wake?: () => void;
  private readonly pendingAcks = new Set<Promise<unknown>>();
  private counts = { received: 0, deleted: 0, redelivery: 0, poison: 0 };
  /** The last receive error while it lasts, and when the next poll goes out. */
  lastError?: MnsError;
  retryAt = 0;

  constructor(o: ConsumerOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.ackClient = o.ackClient ?? o.client;
    this.maxDeliveries = o.maxDeliveries ?? 5;
  }

  stats(): ConsumerStats {
    return { ...this.counts, inFlight: this.inFlight.size };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /**
   * The owner is done with a message handed out by onMessage: 'ok' deletes it; 'failed' leaves it for
   * redelivery, remembering `reason` for the poison report if it keeps failing.
   */
  settle(m: ReceivedMessage, how: 'ok' | 'failed', reason?: string): void {
    if (this.inFlight.get(m.receiptHandle) !== m) return;
    this.inFlight.delete(m.receiptHandle);
    if (how === 'ok') {
      this.lastFailure.delete(m.messageId);
      this.queueDelete(m.receiptHandle);
    } else {
      this.counts.redelivery++;
      if (reason) this.remember(m.messageId, reason);
    }
    this.poke();
    this.o.onChange?.();
  }

  private remember(messageId: string, reason: string): void {
    this.lastFailure.delete(messageId);
    this.lastFailure.set(messageId, reason);
    if (this.lastFailure.size > REASONS_KEPT) this.lastFailure.delete(this.lastFailure.keys().next().value as string);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const h = this.clock.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.clock.clearTimeout(h);
        resolve();
      };
    });
  }

  private slotFree(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private async loop(): Promise<void> {
    const first = this.o.backoffMs ?? 1000;
    const max = this.o.maxBackoffMs ?? 60_000;
    let backoff = first;
    while (this.running) {
      const free = this.o.concurrency - this.inFlight.size;
      if (free <= 0) {
        await this.slotFree();
        continue;
      }
      let got: ReceivedMessage[];
      try {
        got = await this.o.client.receiveMessages(this.o.queue, this.o.waitSeconds, Math.min(this.o.batchSize, free));
        if (this.lastError) {
          this.lastError = undefined;
          this.o.onRecovered?.();
        }
        backoff = first;
      } catch (err) {
        if (!this.running) break;
        const e = err instanceof MnsError ? err : new MnsError({ code: 'Error', status: 0, message: String(err), source: 'local' });
        // Permanent errors (QueueNotExist, AccessDenied) are retried too, slowly: the queue may be created later.
        const delay = e.retryable ? backoff : Math.max(backoff, 10_000);
        this.lastError = e;
        this.retryAt = this.clock.now() + delay;
        this.o.onReceiveError?.(e, delay);
        this.o.onChange?.();
        await this.sleep(delay);
        backoff = Math.min(backoff * 2, max);
        continue;
      }
      for (const m of got) {
        // Closing: what was received and not handed out becomes visible again after the visibility timeout.
        if (!this.running) break;
        this.counts.received++;
        if (this.maxDeliveries > 0 && m.dequeueCount > this.maxDeliveries) this.poison(m);
        else {
          this.inFlight.set(m.receiptHandle, m);
          this.o.onMessage(m);
        }
      }
      this.o.onChange?.();
    }
  }

  private poison(m: ReceivedMessage): void {
    this.counts.poison++;
    const action = this.o.poisonAction ?? 'delete';
    const last = this.lastFailure.get(m.messageId);
    this.lastFailure.delete(m.messageId);
    const reason = `delivered ${m.dequeueCount} times, more than the maximum of ${this.maxDeliveries}${last ? `; last failure: ${last}` : ''}`;
    this.o.onPoison?.(m, { reason, deliveries: m.dequeueCount, maxDeliveries: this.maxDeliveries, action });
    if (action === 'delete') this.queueDelete(m.receiptHandle);
    else {
      const keep = this.o.keepSeconds ?? 43200;
      const p = this.ackClient.changeVisibility(this.o.queue, m.receiptHandle, keep).catch((err: Error) => this.o.onAckError?.(err, 1));
      this.pendingAcks.add(p);
      void p.finally(() => this.pendingAcks.delete(p));
    }
  }

  private queueDelete(handle: string): void {
    this.toDelete.push(handle);
    queueMicrotask(() => void this.flushDeletes());
  }

  /** Sends the queued deletes, 16 per call, each batch retried up to 3 times on retryable errors. */
  flushDeletes(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      while (this.toDelete.length > 0) {
        const batch = this.toDelete.splice(0, 16);
        for (let attempt = 0; ; attempt++) {
          try {
            const failed = await this.ackClient.deleteMessages(this.o.queue, batch);
            this.counts.deleted += batch.length - failed.length;
            if (failed.length > 0) this.o.onDeleteFailures?.(failed);
            break;
          } catch (err) {
            const e = err instanceof MnsError ? err : undefined;
            if (e?.retryable && attempt < 3 && e.code !== 'Closed') {
              await new Promise<void>((r) => this.clock.setTimeout(r, 500 * (attempt + 1)));
              continue;
            }
            this.o.onAckError?.(err as Error, batch.length);
            break;
          }
        }
        this.o.onChange?.();
      }
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /**
   * Stops polling at once (the long poll is aborted), gives messages in flight up to `graceMs` to be settled,
   * sends the deletes that are due, and resolves. What is still unsettled is left for MNS to deliver again.
   */
  async close(graceMs: number): Promise<void> {
    this.running = false;
    this.o.client.abortInFlight?.();
    this.poke();
    await this.loopDone;
    let timer: unknown;
    const grace = new Promise<void>((resolve) => {
      if (graceMs <= 0) resolve();
      else timer = this.clock.setTimeout(resolve, graceMs);
    });
    const drained = (async () => {
      while (this.inFlight.size > 0) await this.slotFree();
      await this.flushDeletes();
      await Promise.all([...this.pendingAcks]);
    })();
    await Promise.race([drained, grace]);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.poke();
    this.inFlight.clear();
  }
}
