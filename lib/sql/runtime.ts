// Values and per-message context shared by the compiler and the functions.
import { claimJson, work } from './limits';
import type { RuleMessage } from './types';

/** Per-message evaluation context. One instance per rule is reused for every message (evaluation is synchronous). */
export interface Ctx {
  /** Parsed JSON payload (JSON rules); undefined for BINARY rules. */
  payload: unknown;
  msg: RuleMessage;
  /** Raw payload bytes, produced lazily by `raw(ctx)`. */
  rawBytes: Buffer | undefined;
  /** Evaluation time in ms; NaN until first asked for. */
  nowMs: number;
  /** Time zone for timestamp(fmt). */
  tz: string;
  /** Cached SELECT values referenced from WHERE (alias fallback). */
  slots: unknown[];
}

export type Fn = (c: Ctx) => unknown;

/** A compiled expression: a closure, plus its value when it is a constant. */
export interface Compiled {
  fn: Fn;
  isConst: boolean;
  value?: unknown;
  /** Set when the expression is a plain top-level payload field: its (interned) name, for direct reads. */
  key?: string;
}

export const UNSET: unique symbol = Symbol('unset');

export function constant(value: unknown): Compiled {
  return { fn: () => value, isConst: true, value };
}

export function now(c: Ctx): number {
  if (c.nowMs !== c.nowMs) {
    const n = c.msg.now;
    c.nowMs = typeof n === 'number' && Number.isFinite(n) ? n
      : n instanceof Date && Number.isFinite(n.getTime()) ? n.getTime() : Date.now();
  }
  return c.nowMs;
}

/** Raw bytes of the message payload (what the device sent). */
export function raw(c: Ctx): Buffer {
  if (c.rawBytes === undefined) c.rawBytes = toBuffer(c.msg.payload);
  return c.rawBytes;
}

export function toBuffer(p: unknown): Buffer {
  if (Buffer.isBuffer(p)) return p;
  if (p instanceof Uint8Array) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  if (p === undefined) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(p) ?? '', 'utf8');
}

const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

// The last text toNum() looked at: a long text compared with many numbers (`a IN (1, 2, ...)`, a long CASE, many
// comparisons) is scanned once, not once per number.
let lastNumText: string | undefined;
let lastNum: number | undefined;

/** Number, or a numeric string coerced to a number; otherwise undefined. */
export function toNum(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  if (v === lastNumText) return lastNum;
  const n = NUMERIC.test(v) ? Number(v) : undefined;
  if (v.length > 32) { lastNumText = v; lastNum = n; work.dirty = true; }
  return n;
}

/** Text form of a value for string functions: strings as-is, numbers in JSON form; otherwise undefined. */
export function toText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  return undefined;
}

/**
 * JSON texts of the objects met while one message is evaluated, by reference: an object used many times
 * (`concat(a, a, a, ...)`, a long CASE over an object) is turned into text once, and each text is counted against
 * the message's text budget. Cleared before and after every evaluation (and compile).
 */
const jsonTexts = new Map<object, string>();

export function clearJsonTexts(): void {
  if (jsonTexts.size !== 0) jsonTexts.clear(); // clear() on an empty Map still allocates a new table
  lastNumText = undefined;
  lastNum = undefined;
  work.dirty = false;
}

/** JSON text of an object or array, made once per evaluation and counted for `who` (e.g. `concat()`). */
export function jsonOf(v: object, who: string): string {
  let t = jsonTexts.get(v);
  if (t === undefined) {
    t = JSON.stringify(v) ?? '';
    claimJson(who, t.length);
    jsonTexts.set(v, t);
    work.dirty = true;
  }
  return t;
}

/** Text of any defined value (concat, crypto): objects/arrays/booleans/null in JSON form. */
export function anyText(v: unknown, who = 'concat()'): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'object' && v !== null) return jsonOf(v, who);
  return JSON.stringify(v);
}

export function finite(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}

/**
 * SQL `=`: undefined when either side is undefined; numbers compare by value, a numeric string against a number is
 * coerced; strings are case-sensitive; objects/arrays compare structurally.
 */
export function sqlEquals(a: unknown, b: unknown): boolean | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'string') { const n = toNum(b); return n === undefined ? false : a === n; }
  if (ta === 'string' && tb === 'number') { const n = toNum(a); return n === undefined ? false : n === b; }
  if (ta === 'object' && tb === 'object' && a !== null && b !== null) {
    return jsonOf(a as object, 'a comparison') === jsonOf(b as object, 'a comparison');
  }
  return false;
}

/** Ordering: negative/zero/positive, or undefined when the values cannot be ordered. */
export function sqlCompare(a: unknown, b: unknown): number | undefined {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'number') return (a as number) - (b as number);
  if (ta === 'string' && tb === 'string') return a === b ? 0 : (a as string) < (b as string) ? -1 : 1;
  if (ta === 'number' && tb === 'string') { const n = toNum(b); return n === undefined ? undefined : (a as number) - n; }
  if (ta === 'string' && tb === 'number') { const n = toNum(a); return n === undefined ? undefined : n - (b as number); }
  return undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Set a key on an output object; `__proto__` is defined as a plain own property. */
export function setKey(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
}

/**
 * The internalized copy of a string. Keys cut out of the SQL text are sliced strings; property access with them
 * would re-internalize on every message, so the compiler interns every key once.
 */
export function intern(s: string): string {
  const o: Record<string, number> = {};
  o[s] = 1;
  return Object.keys(o)[0] ?? s;
}
