// Shared pieces of the SQL rule node tests: the node module with a real message catalog behind RED._ (the test
// helper's own RED._ returns keys verbatim, which would hide counts and missing catalog entries), and small waits.
import type { Node, NodeAPI } from 'node-red';
import sqlRuleNode from '../../../nodes/aliyun-iot-sql-rule/aliyun-iot-sql-rule';
import enUS from '../../../nodes/aliyun-iot-sql-rule/locales/en-US/aliyun-iot-sql-rule.json';
import { statusClock, type StatusClock } from '../../../nodes/aliyun-iot-sql-rule/rule-io';

export { sqlRuleNode };

/** Look a key up in the en-US catalog and fill `__name__` placeholders, as Node-RED's i18next does. */
export function translate(key: string, subs?: Record<string, unknown>): string {
  let v: unknown = enUS;
  for (const part of key.split('.')) {
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  }
  if (typeof v !== 'string') return `MISSING-I18N:${key}`;
  return v.replace(/__(\w+)__/g, (_m, name: string) => (subs && name in subs ? String(subs[name]) : `__${name}__`));
}

/** The node module, with RED._ answering from the real en-US catalog. */
export function sqlRuleWithCatalog(RED: NodeAPI): void {
  (RED as unknown as { _: typeof translate })._ = translate;
  sqlRuleNode(RED);
}

export { statusCalls, waitForStatus, type StatusArg } from '../../support/status';

/** Collect `count` messages arriving at a helper node. */
export function collect<T = Record<string, unknown>>(node: Node, count: number): Promise<T[]> {
  return new Promise((resolve) => {
    const got: T[] = [];
    node.on('input', (msg: unknown) => {
      got.push(msg as T);
      if (got.length === count) resolve(got);
    });
  });
}

export const PK = 'a1B2c3D4e5F';
export const PROPERTY_TOPIC = `/sys/${PK}/dev01/thing/event/property/post`;

export function alinkPost(params: Record<string, unknown>): Record<string, unknown> {
  return { id: '42', version: '1.0', method: 'thing.event.property.post', params };
}

/** A clock for the status throttle that moves only when told; due timers fire in time order. */
export class ManualStatusClock implements StatusClock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.seq, { at: this.t + Math.max(0, ms), fn });
    return this.seq;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/** Nodes started after this call use a manual clock for their status; call the returned function to restore. */
export function useManualStatusClock(): { clock: ManualStatusClock; restore: () => void } {
  const clock = new ManualStatusClock();
  const before = statusClock.current;
  statusClock.current = clock;
  return { clock, restore: () => { statusClock.current = before; } };
}
