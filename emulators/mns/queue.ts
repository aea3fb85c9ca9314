// One MNS queue and its message states (spec §5.2): Delayed → Active → Inactive (received, invisible until
// NextVisibleTime) → Active again with DequeueCount+1, or deleted; everything expires after the retention period.
// Long polls are parked as waiters and woken by events (a send, or a timer set for the next message to become
// visible), never by a polling loop.
import { MnsError } from './errors';
import { queueMessageId, receiptHandle } from './ids';
import { bodyMd5 } from './signature';

export interface QueueAttributes {
  DelaySeconds: number;
  MaximumMessageSize: number;
  MessageRetentionPeriod: number;
  VisibilityTimeout: number;
  PollingWaitSeconds: number;
  LoggingEnabled: boolean;
}

export const QUEUE_DEFAULTS: QueueAttributes = {
  DelaySeconds: 0,
  MaximumMessageSize: 65536,
  MessageRetentionPeriod: 345600,
  VisibilityTimeout: 30,
  PollingWaitSeconds: 0,
  LoggingEnabled: false,
};

export const QUEUE_RANGES: Record<Exclude<keyof QueueAttributes, 'LoggingEnabled'>, [number, number]> = {
  DelaySeconds: [0, 604800],
  MaximumMessageSize: [1024, 65536],
  MessageRetentionPeriod: [60, 604800],
  VisibilityTimeout: [1, 43200],
  PollingWaitSeconds: [0, 30],
};

export interface StoredMessage {
  messageId: string;
  body: string;
  bodyMd5: string;
  priority: number;
  enqueueTime: number;
  firstDequeueTime: number;
  dequeueCount: number;
  /** When the message is (again) receivable: enqueue time + delay, or NextVisibleTime after a receive. */
  visibleAt: number;
  expiresAt: number;
  receiptHandle?: string;
  /** Bumped on every state change; heap/bucket entries carrying an older version are stale. */
  version: number;
  deleted: boolean;
}

export type MessageState = 'delayed' | 'active' | 'inactive';

/** A message as returned to the inspection API. */
export interface MessageView {
  messageId: string;
  body: string;
  bodyMd5: string;
  priority: number;
  state: MessageState;
  enqueueTime: number;
  firstDequeueTime?: number;
  dequeueCount: number;
  nextVisibleTime: number;
  receiptHandle?: string;
}

interface Entry { msg: StoredMessage; version: number }

class MinHeap {
  private readonly items: Entry[] = [];
  get size(): number { return this.items.length; }
  peek(): Entry | undefined { return this.items[0]; }
  push(entry: Entry): void {
    const a = this.items;
    a.push(entry);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent].msg.visibleAt <= entry.msg.visibleAt) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = entry;
  }
  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        const key = (k: number): number => (k === i ? last.msg.visibleAt : a[k].msg.visibleAt);
        if (l < a.length && a[l].msg.visibleAt < key(m)) m = l;
        if (r < a.length && a[r].msg.visibleAt < key(m)) m = r;
        if (m === i) break;
        a[i] = a[m];
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
  clear(): void { this.items.length = 0; }
}

interface Waiter {
  max: number;
  peekOnly: boolean;
  resolve: (messages: StoredMessage[]) => void;
  timer: NodeJS.Timeout;
}

export interface QueueEvents {
  onEnqueued(queue: Queue, message: StoredMessage): void;
  onReceived(queue: Queue, message: StoredMessage): void;
  onDeleted(queue: Queue, message: StoredMessage): void;
}

export class Queue {
  readonly createTime: number;
  lastModifyTime: number;
  private readonly messages = new Map<string, StoredMessage>();
  /** Every handle ever issued → its message ID, so a stale handle is told apart from an unknown one. */
  private readonly handles = new Map<string, string>();
  /** Receivable messages by priority (index 0 = priority 1), FIFO inside a priority; may hold stale entries. */
  private readonly ready: Entry[][] = Array.from({ length: 16 }, () => []);
  private readonly readyHead: number[] = new Array(16).fill(0);
  /** Messages that become receivable later (delayed or in flight), ordered by visibleAt. */
  private readonly pending = new MinHeap();
  private waiters: Waiter[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private closed = false;

  constructor(readonly name: string, public attributes: QueueAttributes, private readonly events: QueueEvents) {
    this.createTime = Date.now();
    this.lastModifyTime = this.createTime;
  }

  get size(): number { return this.messages.size; }

  send(body: string, options: { delaySeconds?: number; priority?: number } = {}): StoredMessage {
    const now = Date.now();
    const delay = options.delaySeconds ?? this.attributes.DelaySeconds;
    const msg: StoredMessage = {
      messageId: queueMessageId(),
      body,
      bodyMd5: bodyMd5(body),
      priority: options.priority ?? 8,
      enqueueTime: now,
      firstDequeueTime: 0,
      dequeueCount: 0,
      visibleAt: now + delay * 1000,
      expiresAt: now + this.attributes.MessageRetentionPeriod * 1000,
      version: 0,
      deleted: false,
    };
    this.messages.set(msg.messageId, msg);
    this.place(msg, now);
    this.events.onEnqueued(this, msg);
    this.wake();
    return msg;
  }

  /** Takes up to `max` receivable messages now (receive: makes them inactive with new handles; peek: leaves them). */
  take(max: number, peekOnly: boolean, visibilityTimeout?: number): StoredMessage[] {
    const now = Date.now();
    this.promote(now);
    if (peekOnly) return this.peekReady(max, now);
    const out: StoredMessage[] = [];
    const vt = visibilityTimeout ?? this.attributes.VisibilityTimeout;
    for (let p = 0; p < 16 && out.length < max; p++) {
      const bucket = this.ready[p];
      while (this.readyHead[p] < bucket.length && out.length < max) {
        const entry = bucket[this.readyHead[p]++];
        const msg = entry.msg;
        if (msg.deleted || entry.version !== msg.version) continue;
        if (msg.expiresAt <= now) {
          this.remove(msg);
          continue;
        }
        msg.dequeueCount++;
        if (!msg.firstDequeueTime) msg.firstDequeueTime = now;
        msg.visibleAt = now + vt * 1000;
        msg.version++;
        msg.receiptHandle = receiptHandle(msg.dequeueCount);
        this.handles.set(msg.receiptHandle, msg.messageId);
        this.pending.push({ msg, version: msg.version });
        out.push(msg);
        this.events.onReceived(this, msg);
      }
      if (this.readyHead[p] === bucket.length) {
        bucket.length = 0;
        this.readyHead[p] = 0;
      }
    }
    return out;
  }

  private peekReady(max: number, now: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (let p = 0; p < 16 && out.length < max; p++) {
      const bucket = this.ready[p];
      for (let i = this.readyHead[p]; i < bucket.length && out.length < max; i++) {
        const { msg, version } = bucket[i];
        if (!msg.deleted && version === msg.version && msg.expiresAt > now) out.push(msg);
      }
    }
    return out;
  }

  /**
   * Receives, holding the request up to waitMs for a message to arrive; the promise resolves with [] when the
   * wait runs out. `cancel()` withdraws a parked long poll (the client went away) so no message is handed to it.
   */
  receive(max: number, waitMs: number, peekOnly: boolean): { promise: Promise<StoredMessage[]>; cancel: () => void; parked: boolean } {
    const now = this.take(max, peekOnly);
    if (now.length > 0 || waitMs <= 0 || this.closed) return { promise: Promise.resolve(now), cancel: () => undefined, parked: false };
    let waiter: Waiter | undefined;
    const promise = new Promise<StoredMessage[]>((resolve) => {
      const w: Waiter = {
        max,
        peekOnly,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          this.scheduleWake();
          resolve([]);
        }, waitMs),
      };
      waiter = w;
      this.waiters.push(w);
      this.scheduleWake();
    });
    const cancel = (): void => {
      if (!waiter || !this.waiters.includes(waiter)) return;
      clearTimeout(waiter.timer);
      this.waiters = this.waiters.filter((x) => x !== waiter);
      this.scheduleWake();
      waiter.resolve([]);
    };
    return { promise, cancel, parked: true };
  }

  /** Resolves the handle to its message, or throws the error the real service gives (spec §5.7). */
  private byHandle(handle: string): StoredMessage {
    const id = this.handles.get(handle);
    if (id === undefined) throw new MnsError('ReceiptHandleError', `The receipt handle you provided is not valid: ${handle}`);
    const msg = this.messages.get(id);
    if (!msg || msg.deleted || msg.expiresAt <= Date.now()) throw new MnsError('MessageNotExist', 'Message not exist.');
    if (msg.receiptHandle !== handle) throw new MnsError('ReceiptHandleError', 'The receipt handle is stale: the message was received again and has a newer handle.');
    if (msg.visibleAt <= Date.now()) throw new MnsError('ReceiptHandleError', 'The receipt handle has expired: the message became visible again at its NextVisibleTime.');
    return msg;
  }

  delete(handle: string): void {
    const msg = this.byHandle(handle);
    this.remove(msg);
    this.events.onDeleted(this, msg);
  }

  changeVisibility(handle: string, visibilityTimeout: number): StoredMessage {
    const msg = this.byHandle(handle);
    const now = Date.now();
    msg.visibleAt = now + visibilityTimeout * 1000;
    msg.version++;
    msg.receiptHandle = receiptHandle(msg.dequeueCount);
    this.handles.set(msg.receiptHandle, msg.messageId);
    this.pending.push({ msg, version: msg.version });
    this.scheduleWake();
    return msg;
  }

  private remove(msg: StoredMessage): void {
    msg.deleted = true;
    msg.version++;
    this.messages.delete(msg.messageId);
  }

  private place(msg: StoredMessage, now: number): void {
    const entry = { msg, version: msg.version };
    if (msg.visibleAt <= now) this.ready[msg.priority - 1].push(entry);
    else this.pending.push(entry);
  }

  /** Moves messages whose visibleAt has passed from the pending heap to the ready buckets. */
  private promote(now: number): void {
    for (let top = this.pending.peek(); top && top.msg.visibleAt <= now; top = this.pending.peek()) {
      this.pending.pop();
      if (top.msg.deleted || top.version !== top.msg.version) continue;
      this.ready[top.msg.priority - 1].push(top);
    }
  }

  /** Hands receivable messages to parked long polls, oldest first. */
  private wake(): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0];
      const got = this.take(waiter.max, waiter.peekOnly);
      if (got.length === 0) break;
      this.waiters.shift();
      clearTimeout(waiter.timer);
      waiter.resolve(got);
    }
    this.scheduleWake();
  }

  /** While someone waits, keeps one timer set for the moment the next pending message becomes visible. */
  private scheduleWake(): void {
    if (this.closed) return;
    let next = Infinity;
    if (this.waiters.length > 0) {
      while (this.pending.size > 0) {
        const top = this.pending.peek()!;
        if (top.msg.deleted || top.version !== top.msg.version) {
          this.pending.pop();
          continue;
        }
        next = top.msg.visibleAt;
        break;
      }
    }
    if (next === this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = next;
    if (next === Infinity) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.wake();
    }, Math.max(0, next - Date.now()));
  }

  stateOf(msg: StoredMessage, now = Date.now()): MessageState {
    if (msg.visibleAt <= now) return 'active';
    return msg.dequeueCount === 0 ? 'delayed' : 'inactive';
  }

  counts(): { active: number; inactive: number; delayed: number } {
    const now = Date.now();
    const c = { active: 0, inactive: 0, delayed: 0 };
    for (const msg of this.messages.values()) {
      if (msg.expiresAt <= now) continue;
      c[this.stateOf(msg, now)]++;
    }
    return c;
  }

  view(): MessageView[] {
    const now = Date.now();
    return [...this.messages.values()]
      .filter((m) => m.expiresAt > now)
      .map((m) => ({
        messageId: m.messageId,
        body: m.body,
        bodyMd5: m.bodyMd5,
        priority: m.priority,
        state: this.stateOf(m, now),
        enqueueTime: m.enqueueTime,
        firstDequeueTime: m.firstDequeueTime || undefined,
        dequeueCount: m.dequeueCount,
        nextVisibleTime: m.visibleAt,
        receiptHandle: m.visibleAt > now ? m.receiptHandle : undefined,
      }));
  }

  /** Ends every long poll (they resolve empty) and all timers; used by DeleteQueue and stop(). */
  close(): void {
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve([]);
    }
    this.waiters = [];
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.pending.clear();
    this.messages.clear();
    this.handles.clear();
  }
}
