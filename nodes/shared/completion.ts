// One completion tracker for every source node (MNS queue in, IoT device in, and the sources still to come):
// it tells a source when the flow has finished with every copy of a message it sent, so that the source
// acknowledges (MNS delete, MQTT PUBACK, AMQP accept, HTTP answer) only then.
//
// "Finished" is read from Node-RED's message hooks (RED.hooks, Node-RED ≥ 2.0): every delivery of a copy of the
// message (preDeliver) and every direct receive without a delivery (onReceive, e.g. link nodes) counts +1, every
// completion (onComplete, a node called done()) counts −1; a node whose input handler takes no `done` counts −1
// once its handler has run (postReceive). When the count reaches zero the message is settled: 'ok', or 'failed'
// when some node completed it with an error (done(err)). A message that is not settled within its timeout (a node
// that never calls done) is settled as 'timeout'.
//
// The hooks are registered once per Node-RED runtime, however many sources use them, and only while at least one
// source node is open: with none, the runtime's message path carries no hook of ours. (Not per message: adding a
// hook costs Node-RED a stack trace and a debug log line.)
import type { NodeAPI } from 'node-red';

export type Settlement = 'ok' | 'failed' | 'timeout';

interface HookApi {
  add(name: string, fn: (event: unknown) => void): void;
  remove(name: string): void;
}

interface HookEvent {
  msg?: { _msgid?: string };
  destination?: { id?: string; node?: { _expectedDoneCount?: number } };
  error?: unknown;
}

interface Entry {
  pending: number;
  /** Deliveries announced by preDeliver and not yet received, per destination node. */
  announced: Map<string, number>;
  failed: boolean;
  timer?: NodeJS.Timeout;
  owner: Owner;
  settle: (how: Settlement) => void;
}

interface Owner {
  count: number;
}

const HOOKS = ['preDeliver', 'onReceive', 'postReceive', 'onComplete'] as const;
const LABEL = 'aliyunIotMnsCompletion';

class Registry {
  private readonly entries = new Map<string, Entry>();
  private hooked = false;
  private users = 0;

  constructor(private readonly hooks: HookApi) {}

  get size(): number {
    return this.entries.size;
  }

  track(msgid: string, owner: Owner, timeoutMs: number, settle: (how: Settlement) => void): void {
    if (this.entries.has(msgid)) throw new Error(`message ${msgid} is tracked already`);
    const entry: Entry = { pending: 0, announced: new Map(), failed: false, owner, settle };
    owner.count++;
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      entry.timer = setTimeout(() => this.finish(msgid, 'timeout'), timeoutMs);
    }
    this.entries.set(msgid, entry);
  }

  acquire(): void {
    this.users++;
    this.hook();
  }

  release(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0 || !this.hooked) return;
    this.hooked = false;
    for (const h of HOOKS) this.hooks.remove(`${h}.${LABEL}`);
  }

  /** After the source's send(): a message no node took (no wires, or all finished synchronously) is settled now. */
  settleIfIdle(msgid: string): void {
    const e = this.entries.get(msgid);
    if (e && e.pending <= 0) this.finish(msgid, e.failed ? 'failed' : 'ok');
  }

  /** Forget every message of one source without settling it (the source is closing and leaves them unacknowledged). */
  forget(owner: Owner): void {
    for (const [id, e] of this.entries) {
      if (e.owner !== owner) continue;
      if (e.timer) clearTimeout(e.timer);
      this.entries.delete(id);
    }
    owner.count = 0;
  }

  private finish(msgid: string, how: Settlement): void {
    const e = this.entries.get(msgid);
    if (!e) return;
    this.entries.delete(msgid);
    e.owner.count--;
    if (e.timer) clearTimeout(e.timer);
    e.settle(how);
  }

  private hook(): void {
    if (this.hooked) return;
    this.hooked = true;
    this.hooks.add(`preDeliver.${LABEL}`, (ev: unknown) => {
      const h = ev as HookEvent;
      const e = h.msg?._msgid ? this.entries.get(h.msg._msgid) : undefined;
      if (!e) return;
      e.pending++;
      const dest = h.destination?.id ?? '';
      e.announced.set(dest, (e.announced.get(dest) ?? 0) + 1);
    });
    this.hooks.add(`onReceive.${LABEL}`, (ev: unknown) => {
      const h = ev as HookEvent;
      const e = h.msg?._msgid ? this.entries.get(h.msg._msgid) : undefined;
      if (!e) return;
      const dest = h.destination?.id ?? '';
      const n = e.announced.get(dest) ?? 0;
      if (n > 0) e.announced.set(dest, n - 1);
      else e.pending++; // received without a routed delivery (link in, direct receive)
    });
    // Nodes whose input handlers do not take `done` (written before Node-RED 1.0) never complete a message; they
    // count as done once their handler has run, so that what they sent synchronously is already counted.
    this.hooks.add(`postReceive.${LABEL}`, (ev: unknown) => {
      const h = ev as HookEvent;
      const id = h.msg?._msgid;
      const e = id ? this.entries.get(id) : undefined;
      if (!e || !id) return;
      if ((h.destination?.node?._expectedDoneCount ?? 1) > 0) return;
      e.pending--;
      if (e.pending <= 0) this.finish(id, e.failed ? 'failed' : 'ok');
    });
    this.hooks.add(`onComplete.${LABEL}`, (ev: unknown) => {
      const h = ev as HookEvent;
      const id = h.msg?._msgid;
      const e = id ? this.entries.get(id) : undefined;
      if (!e || !id) return;
      if (h.error) e.failed = true;
      e.pending--;
      if (e.pending <= 0) this.finish(id, e.failed ? 'failed' : 'ok');
    });
  }
}

const registries = new WeakMap<object, Registry>();

/** Whether this Node-RED has message hooks (2.0 and later); without them nothing can be tracked. */
export function hasCompletionHooks(RED: NodeAPI): boolean {
  return Boolean((RED as unknown as { hooks?: HookApi }).hooks);
}

/**
 * A source's handle on the shared tracker. `track` before `node.send(msg)`, `sent` right after it; `settle` is
 * called exactly once per tracked message: 'ok', 'failed' (some node called done(err)) or 'timeout'. `close`
 * (when the source node closes) forgets the source's unsettled messages without calling `settle` for them.
 */
export class CompletionTracker {
  private readonly registry: Registry;
  private readonly owner: Owner = { count: 0 };
  private closed = false;

  constructor(RED: NodeAPI) {
    const hooks = (RED as unknown as { hooks?: HookApi }).hooks;
    if (!hooks) throw new Error('this Node-RED has no message hooks (needs 2.0 or later)');
    let reg = registries.get(hooks);
    if (!reg) {
      reg = new Registry(hooks);
      registries.set(hooks, reg);
    }
    this.registry = reg;
    reg.acquire();
  }

  /** Messages of this source sent and not yet settled. */
  get size(): number {
    return this.owner.count;
  }

  track(msgid: string, timeoutMs: number, settle: (how: Settlement) => void): void {
    this.registry.track(msgid, this.owner, timeoutMs, settle);
  }

  sent(msgid: string): void {
    this.registry.settleIfIdle(msgid);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.registry.forget(this.owner);
    this.registry.release();
  }
}
