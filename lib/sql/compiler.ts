// Compiler: Statement AST → plain JavaScript closures, once per rule. No eval, no Function constructor:
// the SQL text only ever selects among closures written here.
import type { Expr, PathSegment, Pos, SelectItem, Statement } from './ast';
import { isValidTimeZone } from './dateformat';
import { FUNCTION_SPECS, suggestFunction, type ArgKind } from './functions';
import { clip, LimitError, MAX_TEXT_PER_EVALUATION, resetTextBudget, work } from './limits';
import { parseSql } from './parser';
import {
  type Compiled, constant, type Ctx, finite, type Fn, isPlainObject, now, raw, setKey, sqlCompare, sqlEquals,
  toNum, UNSET, intern, clearJsonTexts,
} from './runtime';
import { compileTopicFilter, TopicFilterError } from './topic';
import { isRawAlink, parseTslPayload, type TslContext } from './tsl';
import {
  type CompiledRule, type CompileOptions, type RuleDataType, type RuleMessage, type RuleResult, SqlError,
} from './types';

export const DEFAULT_TIMEZONE = 'Asia/Shanghai';

type Item =
  | { kind: 0; key: string; fn: Fn; src?: string }
  | { kind: 1 }
  | { kind: 2; names: string[] | null };

const hasOwn = Object.hasOwn;

function fail(problem: string, at: Pos, hint?: string): never {
  throw new SqlError(problem, at.line, at.column, hint);
}

function typeName(v: unknown): string {
  return typeof v === 'string' ? `string '${clip(v)}'` : `${typeof v} ${clip(String(v))}`;
}

// ---- paths --------------------------------------------------------------------------------------------------

function step(cur: unknown, seg: PathSegment): unknown {
  if (typeof seg === 'number') return Array.isArray(cur) ? cur[seg] : undefined;
  if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
  return hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
}

function getPath(root: unknown, segs: readonly PathSegment[]): unknown {
  let cur = root;
  for (let i = 0; i < segs.length; i++) {
    cur = step(cur, segs[i]);
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Names that plain objects inherit; reading them needs an own-property check. */
function inherited(key: string): boolean {
  return key in Object.prototype;
}

/** A getter for a path on the (plain-object) payload, specialised for the common short string paths. */
function pathGetter(path: readonly PathSegment[]): Fn {
  const segs = path.map((s) => (typeof s === 'string' ? intern(s) : s));
  if (segs.length === 0) return (c) => c.payload;
  const allSafeStrings = segs.every((s) => typeof s === 'string' && !inherited(s));
  if (allSafeStrings) {
    const [k0, k1, k2] = segs as string[];
    if (segs.length === 1) return (c) => (c.payload as Record<string, unknown>)[k0];
    if (segs.length === 2) {
      return (c) => {
        const a = (c.payload as Record<string, unknown>)[k0];
        if (typeof a !== 'object' || a === null || Array.isArray(a)) return undefined;
        return (a as Record<string, unknown>)[k1];
      };
    }
    if (segs.length === 3) {
      return (c) => {
        const a = (c.payload as Record<string, unknown>)[k0];
        if (typeof a !== 'object' || a === null || Array.isArray(a)) return undefined;
        const b = (a as Record<string, unknown>)[k1];
        if (typeof b !== 'object' || b === null || Array.isArray(b)) return undefined;
        return (b as Record<string, unknown>)[k2];
      };
    }
  }
  return (c) => getPath(c.payload, segs);
}

// ---- LIKE ---------------------------------------------------------------------------------------------------

/** LIKE matcher: whole-value, `%` = any run of characters, everything else literal, case-sensitive. */
export function likeMatcher(pattern: string): (s: string) => boolean {
  const parts = pattern.split('%');
  if (parts.length === 1) return (s) => s === pattern;
  const first = parts[0];
  const last = parts[parts.length - 1];
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  if (middle.length === 0) {
    if (first === '' && last === '') return () => true;
    if (first === '') return (s) => s.endsWith(last);
    if (last === '') return (s) => s.startsWith(first);
    const min = first.length + last.length;
    return (s) => s.length >= min && s.startsWith(first) && s.endsWith(last);
  }
  if (first === '' && last === '' && middle.length === 1) {
    const m = middle[0];
    return (s) => s.includes(m);
  }
  const min = first.length + last.length + middle.reduce((n, p) => n + p.length, 0);
  return (s) => {
    if (s.length < min || !s.startsWith(first) || !s.endsWith(last)) return false;
    let pos = first.length;
    const stop = s.length - last.length;
    for (const m of middle) {
      const i = s.indexOf(m, pos);
      if (i < 0 || i + m.length > stop) return false;
      pos = i + m.length;
    }
    return true;
  };
}

// ---- the compiler -------------------------------------------------------------------------------------------

class Compiler {
  /** SELECT aliases → item index (for the WHERE alias fallback). */
  readonly aliases = new Map<string, number>();
  readonly selectFns: (Fn | undefined)[] = [];
  /** Indexes of SELECT items WHERE falls back to; each gets a per-message cache slot. */
  readonly slotOf = new Map<number, number>();

  constructor(readonly sql: string, readonly binary: boolean) {}

  text(p: Pos): string {
    return this.sql.slice(p.start, p.end);
  }

  expr(e: Expr, inWhere: boolean): Compiled {
    switch (e.k) {
      case 'lit': return constant(typeof e.value === 'string' ? intern(e.value) : e.value);
      case 'path': return this.path(e, inWhere);
      case 'star':
        return fail("'*' is only allowed as a SELECT item or as the argument of to_base64(*) / to_hex(*)", e.pos);
      case 'call': return this.call(e, inWhere);
      case 'neg': {
        const a = this.expr(e.arg, inWhere);
        if (a.isConst && toNum(a.value) === undefined) fail(`Unary '-' needs a number, got ${typeName(a.value)}`, e.arg.pos);
        return this.fold([a], (c) => {
          const v = a.fn(c);
          const x = typeof v === 'number' ? v : toNum(v);
          return x === undefined ? undefined : -x;
        });
      }
      case 'not': {
        const a = this.expr(e.arg, inWhere).fn;
        return { fn: (c) => { const v = a(c); return v === true ? false : v === false ? true : undefined; }, isConst: false };
      }
      case 'bin': return this.binop(e, inWhere);
      case 'like': {
        const a = this.expr(e.arg, inWhere);
        const m = likeMatcher(e.pattern);
        const not = e.not;
        return this.fold([a], (c) => {
          const v = a.fn(c);
          const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
          if (s === undefined) return undefined;
          return m(s) !== not;
        });
      }
      case 'in': {
        const a = this.expr(e.arg, inWhere);
        const list = e.list.map((x) => { const v = (x as { value: unknown }).value; return typeof v === 'string' ? intern(v) : v; });
        const exact = new Set(list);
        const n = list.length;
        // A short list is scanned with ===: a Set would hash the value, and payload strings are new with every
        // message. Only when no element is identical can a coercion (`'1' IN (1)`) or an object compare still match.
        const coerces = list.some((x) => typeof x !== 'string') ? null : new Set(list.map((x) => toNum(x)).filter((x) => x !== undefined));
        return this.fold([a], (c) => {
          const v = a.fn(c);
          if (v === undefined) return undefined;
          if (n <= 8) { for (let i = 0; i < n; i++) if (list[i] === v) return true; } else if (exact.has(v)) return true;
          // A string against a list of strings only: no coercion can make it equal to any of them.
          if (typeof v === 'string' && coerces !== null) return false;
          if (typeof v === 'number' && coerces !== null) return coerces.has(v) && v === v;
          for (let i = 0; i < n; i++) if (sqlEquals(v, list[i]) === true) return true;
          return false;
        });
      }
      case 'isnull': {
        const a = this.expr(e.arg, inWhere);
        const not = e.not;
        return this.fold([a], (c) => {
          const v = a.fn(c);
          const isNull = v === null || v === undefined;
          return not ? !isNull : isNull;
        });
      }
      case 'case': return this.caseExpr(e, inWhere);
    }
  }

  /** Wrap `fn`; when all inputs are constants, evaluate once now (constant folding). */
  fold(inputs: Compiled[], fn: Fn): Compiled {
    if (inputs.every((i) => i.isConst)) return constant(fn(undefined as unknown as Ctx));
    return { fn, isConst: false };
  }

  path(e: Extract<Expr, { k: 'path' }>, inWhere: boolean): Compiled {
    if (this.binary) {
      fail('BINARY rules cannot read payload fields', e.pos, 'use functions such as to_base64(*), to_hex(*) or deviceName()');
    }
    const segs = e.segments;
    let get = pathGetter(segs);
    const first = segs[0];
    if (inWhere && typeof first === 'string' && this.aliases.has(first)) {
      // §1.4 DECISION: an unknown WHERE identifier falls back to a SELECT alias.
      const index = this.aliases.get(first)!;
      let slot = this.slotOf.get(index);
      if (slot === undefined) { slot = this.slotOf.size; this.slotOf.set(index, slot); }
      const s = slot;
      const rest = segs.slice(1).map((x) => (typeof x === 'string' ? intern(x) : x));
      const fromPayload = get;
      const selectFns = this.selectFns;
      get = (c) => {
        const v = fromPayload(c);
        if (v !== undefined) return v;
        let base = c.slots[s];
        if (base === UNSET) base = c.slots[s] = selectFns[index]!(c);
        return rest.length === 0 ? base : getPath(base, rest);
      };
    }
    if (e.wrap) {
      const inner = get;
      return { fn: (c) => { const v = inner(c); return v === undefined ? undefined : [v]; }, isConst: false };
    }
    return { fn: get, isConst: false, key: segs.length === 1 && typeof first === 'string'
      && !inherited(first) && !(inWhere && this.aliases.has(first)) ? intern(first) : undefined };
  }

  call(e: Extract<Expr, { k: 'call' }>, inWhere: boolean, selectTop = false): Compiled {
    const spec = FUNCTION_SPECS.get(e.name);
    if (!spec) fail(`Unknown function '${clip(e.name)}'`, e.namePos, suggestFunction(e.name));
    const n = e.args.length;
    if (n < spec.min || n > spec.max) {
      const want = spec.min === spec.max
        ? (spec.min === 0 ? 'no arguments' : `${spec.min} argument${spec.min === 1 ? '' : 's'}`)
        : spec.max === Infinity ? `at least ${spec.min} arguments` : `${spec.min} to ${spec.max} arguments`;
      fail(`${spec.name}() takes ${want}, got ${n}`, e.namePos, `usage: ${spec.signature}`);
    }
    if (spec.name === 'thingPropertyFlatMap' && !selectTop) {
      fail('thingPropertyFlatMap() can only be used as a SELECT item on its own', e.namePos);
    }
    const args: Compiled[] = [];
    for (let i = 0; i < n; i++) {
      const a = e.args[i];
      const kind: ArgKind = spec.args[Math.min(i, spec.args.length - 1)];
      if (kind === 'star') {
        if (a.k !== 'star') fail(`${spec.name}() takes * (the raw payload) as its argument`, a.pos, `usage: ${spec.signature}`);
        args.push(constant(undefined));
        continue;
      }
      if (a.k === 'star') {
        fail("'*' is only allowed as a SELECT item or as the argument of to_base64(*) / to_hex(*)", a.pos);
      }
      const c = this.expr(a, inWhere);
      if (c.isConst) this.checkLiteral(spec.name, i, kind, c.value, a.pos);
      else if (kind === 'strLit') fail(`${spec.name}() takes property names as 'quoted' strings`, a.pos);
      args.push(c);
    }
    if (spec.name === 'thingPropertyFlatMap') return constant(undefined); // compiled as a SELECT item by compileRule
    const fn = spec.build(args, { node: e, fail });
    if (spec.pure && args.every((a) => a.isConst)) {
      // Constant folding runs the function now: a result beyond a bound is refused at the call's position.
      try {
        return constant(fn(undefined as unknown as Ctx));
      } catch (err) {
        if (err instanceof LimitError) fail(err.message, e.namePos, 'see the bounds in the SQL rule node\'s help');
        throw err;
      }
    }
    return { fn, isConst: false };
  }

  checkLiteral(name: string, i: number, kind: ArgKind, v: unknown, at: Pos): void {
    const bad = (what: string): never => fail(`${name}() argument ${i + 1} must be ${what}, got ${typeName(v)}`, at);
    switch (kind) {
      case 'num':
        if (typeof v === 'number') return;
        if (typeof v === 'string' && toNum(v) !== undefined) return;
        bad('a number');
        break;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad('a whole number from 1');
        break;
      case 'str':
        if (typeof v !== 'string' && typeof v !== 'number') bad('a string');
        break;
      case 'strLit':
        if (typeof v !== 'string') bad("a 'quoted' string");
        break;
      case 'intOrStr':
        if (typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))) return;
        bad('a string or an integer');
        break;
    }
  }

  binop(e: Extract<Expr, { k: 'bin' }>, inWhere: boolean): Compiled {
    const L = this.expr(e.left, inWhere);
    const R = this.expr(e.right, inWhere);
    const l = L.fn;
    const r = R.fn;
    switch (e.op) {
      case 'AND':
        return this.fold([L, R], (c) => {
          const a = l(c);
          if (a === false) return false;
          const b = r(c);
          if (b === false) return false;
          return a === true && b === true ? true : undefined;
        });
      case 'OR':
        return this.fold([L, R], (c) => {
          const a = l(c);
          if (a === true) return true;
          const b = r(c);
          if (b === true) return true;
          return a === false && b === false ? false : undefined;
        });
      case '=':
        if (R.isConst && (typeof R.value === 'number' || typeof R.value === 'string')) {
          const k = R.value;
          return this.fold([L, R], (c) => {
            const a = l(c);
            return a === k ? true : sqlEquals(a, k);
          });
        }
        return this.fold([L, R], (c) => sqlEquals(l(c), r(c)));
      case '<>':
      case '!=':
        return this.fold([L, R], (c) => {
          const eq = sqlEquals(l(c), r(c));
          return eq === undefined ? undefined : !eq;
        });
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.compare(L, R, e.op);
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
        // §8.13: a constant that can never be a number is a literal type error.
        for (const [side, expr] of [[L, e.left], [R, e.right]] as const) {
          if (side.isConst && side.value !== undefined && toNum(side.value) === undefined) {
            fail(`Arithmetic '${e.op}' needs numbers, got ${typeName(side.value)}`, expr.pos,
              e.op === '+' ? 'use concat() to join text' : undefined);
          }
        }
        break;
    }
    switch (e.op) {
      case '+': return this.arith(L, R, (a, b) => a + b);
      case '-': return this.arith(L, R, (a, b) => a - b);
      case '*': return this.arith(L, R, (a, b) => a * b);
      case '/': return this.arith(L, R, (a, b) => a / b);
      case '%': return this.arith(L, R, (a, b) => a % b);
    }
  }

  compare(L: Compiled, R: Compiled, op: '<' | '<=' | '>' | '>='): Compiled {
    const l = L.fn;
    const r = R.fn;
    if (R.isConst && typeof R.value === 'number') {
      // Field vs number constant, the common WHERE shape: one closure per operator keeps each call site simple.
      const k = R.value;
      const key = L.key;
      const slow = (a: unknown): boolean | undefined => {
        const d = sqlCompare(a, k);
        return d === undefined ? undefined : op === '<' ? d < 0 : op === '<=' ? d <= 0 : op === '>' ? d > 0 : d >= 0;
      };
      if (key !== undefined) {
        switch (op) {
          case '<': return { fn: (c) => { const a = (c.payload as Record<string, unknown>)[key]; return typeof a === 'number' ? a < k : slow(a); }, isConst: false };
          case '<=': return { fn: (c) => { const a = (c.payload as Record<string, unknown>)[key]; return typeof a === 'number' ? a <= k : slow(a); }, isConst: false };
          case '>': return { fn: (c) => { const a = (c.payload as Record<string, unknown>)[key]; return typeof a === 'number' ? a > k : slow(a); }, isConst: false };
          case '>=': return { fn: (c) => { const a = (c.payload as Record<string, unknown>)[key]; return typeof a === 'number' ? a >= k : slow(a); }, isConst: false };
        }
      }
      switch (op) {
        case '<': return this.fold([L, R], (c) => { const a = l(c); return typeof a === 'number' ? a < k : slow(a); });
        case '<=': return this.fold([L, R], (c) => { const a = l(c); return typeof a === 'number' ? a <= k : slow(a); });
        case '>': return this.fold([L, R], (c) => { const a = l(c); return typeof a === 'number' ? a > k : slow(a); });
        case '>=': return this.fold([L, R], (c) => { const a = l(c); return typeof a === 'number' ? a >= k : slow(a); });
      }
    }
    switch (op) {
      case '<': return this.fold([L, R], (c) => { const d = sqlCompare(l(c), r(c)); return d === undefined ? undefined : d < 0; });
      case '<=': return this.fold([L, R], (c) => { const d = sqlCompare(l(c), r(c)); return d === undefined ? undefined : d <= 0; });
      case '>': return this.fold([L, R], (c) => { const d = sqlCompare(l(c), r(c)); return d === undefined ? undefined : d > 0; });
      default: return this.fold([L, R], (c) => { const d = sqlCompare(l(c), r(c)); return d === undefined ? undefined : d >= 0; });
    }
  }

  arith(L: Compiled, R: Compiled, op: (a: number, b: number) => number): Compiled {
    const l = L.fn;
    const r = R.fn;
    return this.fold([L, R], (c) => {
      const av = l(c);
      const a = typeof av === 'number' ? av : toNum(av);
      if (a === undefined) return undefined;
      const bv = r(c);
      const b = typeof bv === 'number' ? bv : toNum(bv);
      if (b === undefined) return undefined;
      return finite(op(a, b));
    });
  }

  caseExpr(e: Extract<Expr, { k: 'case' }>, inWhere: boolean): Compiled {
    const subject = e.subject ? this.expr(e.subject, inWhere) : undefined;
    const whens = e.whens.map((w) => ({ when: this.expr(w.when, inWhere), then: this.expr(w.then, inWhere) }));
    const otherwise = e.else ? this.expr(e.else, inWhere) : undefined;
    const W = whens.map((w) => w.when.fn);
    const T = whens.map((w) => w.then.fn);
    const E = otherwise?.fn;
    const n = W.length;
    const inputs = [...(subject ? [subject] : []), ...whens.flatMap((w) => [w.when, w.then]), ...(otherwise ? [otherwise] : [])];
    if (subject && whens.every((w) => w.when.isConst)) {
      // `CASE x WHEN 1 THEN … WHEN 2 THEN …`: the WHEN values are constants, compared without calls; two numbers
      // that are not identical are not equal, only mixed types need sqlEquals (a numeric string, an object).
      const S = subject.fn;
      const V = whens.map((w) => w.when.value);
      const numeric = V.map((v) => typeof v === 'number');
      return this.fold(inputs, (c) => {
        const s = S(c);
        if (s !== undefined) {
          const sNum = typeof s === 'number';
          for (let i = 0; i < n; i++) {
            const w = V[i];
            if (s === w || (!(sNum && numeric[i]) && sqlEquals(s, w) === true)) return T[i](c);
          }
        }
        return E ? E(c) : undefined;
      });
    }
    if (subject) {
      const S = subject.fn;
      return this.fold(inputs, (c) => {
        const s = S(c);
        if (s !== undefined) {
          for (let i = 0; i < n; i++) if (sqlEquals(s, W[i](c)) === true) return T[i](c);
        }
        return E ? E(c) : undefined;
      });
    }
    return this.fold(inputs, (c) => {
      for (let i = 0; i < n; i++) if (W[i](c) === true) return T[i](c);
      return E ? E(c) : undefined;
    });
  }

  /** Output key of a SELECT item (spec §1.3): alias, else last path name, else the function name, else the text. */
  keyOf(item: Extract<SelectItem, { k: 'expr' }>): string {
    if (item.alias !== undefined) return item.alias;
    const e = item.expr;
    if (e.k === 'path') {
      for (let i = e.segments.length - 1; i >= 0; i--) {
        const s = e.segments[i];
        if (typeof s === 'string') return s;
      }
    }
    if (e.k === 'call') return e.name;
    return this.text(e.pos);
  }
}

// ---- flat map -----------------------------------------------------------------------------------------------

function flatten(out: Record<string, unknown>, key: string, v: unknown): void {
  if (isPlainObject(v)) {
    for (const k of Object.keys(v)) flatten(out, `${key}_${k}`, v[k]);
  } else {
    setKey(out, key, v);
  }
}

function thingPropertyFlatMap(out: Record<string, unknown>, payload: unknown, names: string[] | null): void {
  const items = isPlainObject(payload) && hasOwn(payload, 'items') ? payload.items : undefined;
  if (!isPlainObject(items)) return;
  const keys = names ?? Object.keys(items);
  for (const k of keys) {
    if (!hasOwn(items, k)) continue;
    const it = items[k];
    if (!isPlainObject(it) || !hasOwn(it, 'value')) continue;
    const v = it.value;
    if (v !== undefined) flatten(out, k, v);
  }
}

// ---- the rule -----------------------------------------------------------------------------------------------

function normaliseDataType(t: unknown): RuleDataType {
  if (t === undefined || t === null || t === '') return 'JSON';
  const u = String(t).toUpperCase();
  if (u === 'JSON' || u === 'BINARY') return u;
  throw new RangeError(`Unknown rule data type '${String(t)}' (use JSON or BINARY)`);
}

/** The TSL parsing context of a message: overrides and thing-model facts, text values only (others are ignored). */
function tslContext(message: RuleMessage, nowMs: number): TslContext {
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const ctx: TslContext = { now: nowMs };
  const pk = text(message.productKey);
  const dn = text(message.deviceName);
  if (pk !== undefined) ctx.productKey = pk;
  if (dn !== undefined) ctx.deviceName = dn;
  const info: unknown = message.tsl;
  if (typeof info === 'object' && info !== null) {
    const i = info as Record<string, unknown>;
    const iotId = text(i.iotId);
    const deviceType = text(i.deviceType);
    const eventName = text(i.eventName);
    const eventType = text(i.eventType);
    if (iotId !== undefined) ctx.iotId = iotId;
    if (deviceType !== undefined) ctx.deviceType = deviceType;
    if (eventName !== undefined) ctx.eventName = eventName;
    if (eventType !== undefined) ctx.eventType = eventType;
  }
  return ctx;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

const BOM = 0xfeff;

/**
 * Compile a rule. Any SQL text whatever either compiles or throws a SqlError with a 1-based line and column (bad
 * options — an unknown data type or time zone — throw a RangeError). Work and memory are bounded (see ./limits).
 */
export function compileRule(sql: string, options: CompileOptions = {}): CompiledRule {
  const opts = options ?? {};
  const dataType = normaliseDataType(opts.dataType);
  const timezone = opts.timezone === undefined || opts.timezone === '' ? DEFAULT_TIMEZONE : opts.timezone;
  if (!isValidTimeZone(timezone)) {
    throw new RangeError(`Unknown timezone '${String(timezone)}' (use an IANA name such as Asia/Shanghai)`);
  }
  resetTextBudget();
  clearJsonTexts();
  try {
    return compileStatement(sql, dataType, timezone, opts.strict === true);
  } catch (e) {
    if (e instanceof SqlError) throw e;
    // Not expected: the parser bounds nesting and the functions bound their results. Still, no other error type
    // may escape (a stack overflow on a small stack, an internal mistake): it becomes a SqlError that says so.
    const overflow = e instanceof RangeError && /call stack/i.test(e.message);
    throw new SqlError(overflow ? 'The rule is too complex to compile (it nests too deeply)'
      : `The rule could not be compiled (internal error: ${clip((e as Error)?.message ?? String(e), 200)})`, 1, 1,
    overflow ? 'simplify the rule' : 'please report this rule');
  }
}

// The two answers of a failed WHERE, shared by every message (frozen): most messages of a selective rule end here,
// and a new object for each would only feed the garbage collector.
const WHERE_FALSE: RuleResult = Object.freeze({ outcome: 'filtered', reason: 'WHERE condition is false' });
const WHERE_NOT_TRUE: RuleResult = Object.freeze({
  outcome: 'filtered', reason: 'WHERE condition is not true (a value it needs is missing or has the wrong type)',
});

function compileStatement(sql: string, dataType: RuleDataType, timezone: string, strict: boolean): CompiledRule {
  const binary = dataType === 'BINARY';
  const stmt: Statement = parseSql(sql, { strict });

  // FROM
  const from = stmt.from;
  let matchesTopic: (topic: string) => boolean;
  try {
    matchesTopic = compileTopicFilter(from.filter);
  } catch (e) {
    if (e instanceof TopicFilterError) {
      fail(e.message, { ...from.pos, column: from.pos.column + (from.quote ? 1 : 0) + e.index }, 'FROM takes one MQTT-style topic filter');
    }
    throw e;
  }
  const sysFilter = from.filter.startsWith('/sys/');
  if (binary && sysFilter) {
    fail('BINARY rules cannot take /sys topics (thing-model data is JSON)', from.pos, 'use a JSON rule or a custom topic');
  }

  const cc = new Compiler(sql, binary);

  // SELECT: binary `*` stands alone.
  const starIndex = stmt.select.findIndex((i) => i.k === 'star');
  if (binary && starIndex >= 0 && stmt.select.length > 1) {
    const other = stmt.select[starIndex === 0 ? 1 : starIndex];
    fail("In a BINARY rule '*' must be the only SELECT item", other.pos, 'use to_base64(*) or to_hex(*) next to other items');
  }
  stmt.select.forEach((item, i) => {
    if (item.k === 'expr' && item.alias !== undefined && !cc.aliases.has(item.alias)) cc.aliases.set(item.alias, i);
  });
  const items: Item[] = stmt.select.map((item) => {
    if (item.k === 'star') return { kind: 1 } as Item;
    const e = item.expr;
    if (e.k === 'call' && e.name === 'thingPropertyFlatMap') {
      if (binary) fail('thingPropertyFlatMap() reads thing-model properties and cannot be used in BINARY rules', e.namePos);
      cc.call(e, false, true); // checks arguments
      const names = e.args.length === 0 ? null : e.args.map((a) => String((a as { value: unknown }).value));
      cc.selectFns.push(undefined);
      return { kind: 2, names } as Item;
    }
    const compiled = cc.expr(e, false);
    cc.selectFns.push(compiled.fn);
    return { kind: 0, key: intern(cc.keyOf(item)), fn: compiled.fn, src: compiled.key } as Item;
  });

  // WHERE (after SELECT, so alias fallbacks can reach the SELECT closures)
  let where: Fn | undefined;
  if (stmt.where) {
    const w = cc.expr(stmt.where, true);
    if (w.isConst) {
      const v = w.value;
      where = () => v;
    } else where = w.fn;
  }
  // Route cached SELECT values through their slots so WHERE and SELECT agree (e.g. on rand()).
  for (const [index, slot] of cc.slotOf) {
    const item = items[index];
    if (item.kind !== 0) continue;
    const f = item.fn;
    item.fn = (c) => {
      let v = c.slots[slot];
      if (v === UNSET) v = c.slots[slot] = f(c);
      return v;
    };
  }
  const slotCount = cc.slotOf.size;

  const rawStar = binary && starIndex >= 0;
  const onlyValues = items.every((i) => i.kind === 0);
  const valueItems = items.filter((i): i is Extract<Item, { kind: 0 }> => i.kind === 0);
  const keys = valueItems.map((i) => intern(i.key));
  const fns = valueItems.map((i) => i.fn);
  const srcs = valueItems.map((i) => i.src);
  const protoKey = keys.includes('__proto__');
  const vals = new Array<unknown>(fns.length).fill(undefined);
  const template: Record<string, unknown> = {};
  if (!protoKey) for (const k of keys) template[k] = null;
  const nItems = items.length;
  const nValues = fns.length;

  const ctx: Ctx = {
    payload: undefined, msg: undefined as unknown as RuleMessage, rawBytes: undefined, nowMs: NaN, tz: timezone,
    slots: new Array<unknown>(slotCount).fill(UNSET),
  };
  let lastTz = '';

  function select(c: Ctx): Record<string, unknown> {
    if (onlyValues && !protoKey) {
      const out: Record<string, unknown> = {};
      // Fill a copy of a template that already has every key (so the stores change no object shape); only
      // when a value is missing, build the object key by key instead, leaving the missing keys out.
      const p = c.payload as Record<string, unknown>;
      let complete = true;
      for (let i = 0; i < nValues; i++) {
        const src = srcs[i];
        const v = src !== undefined ? p[src] : fns[i](c);
        vals[i] = v;
        if (v === undefined) complete = false;
      }
      if (complete) {
        const o = { ...template };
        for (let i = 0; i < nValues; i++) o[keys[i]] = vals[i];
        return o;
      }
      for (let i = 0; i < nValues; i++) {
        const v = vals[i];
        if (v !== undefined) out[keys[i]] = v;
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (let i = 0; i < nItems; i++) {
      const it = items[i];
      if (it.kind === 0) {
        const v = it.fn(c);
        if (v !== undefined) setKey(out, it.key, v);
      } else if (it.kind === 1) {
        const p = c.payload as Record<string, unknown>;
        for (const k of Object.keys(p)) setKey(out, k, p[k]);
      } else {
        thingPropertyFlatMap(out, c.payload, it.names);
      }
    }
    return out;
  }

  const state = work;
  const budget = MAX_TEXT_PER_EVALUATION;

  function evaluate(message: RuleMessage): RuleResult {
    state.budget = budget;
    if (state.dirty) clearJsonTexts();
    try {
      return evaluateMessage(message);
    } catch (e) {
      if (e instanceof LimitError) return { outcome: 'dropped', reason: e.message };
      return { outcome: 'dropped', reason: `Rule evaluation failed: ${clip(String((e as Error)?.message ?? e), 200)}` };
    } finally {
      if (state.dirty) clearJsonTexts(); // keep no reference to the message's objects
    }
  }

  function evaluateMessage(message: RuleMessage): RuleResult {
    if (typeof message !== 'object' || message === null) {
      return { outcome: 'dropped', reason: 'The message must be an object with topic and payload' };
    }
    const topic = message.topic;
    if (typeof topic !== 'string') return { outcome: 'no-match', reason: 'The message has no topic' };
    if (!matchesTopic(topic)) return { outcome: 'no-match', reason: `Topic ${clip(topic, 200)} does not match ${clip(from.filter, 200)}` };
    const c = ctx;
    c.msg = message;
    c.rawBytes = undefined;
    c.nowMs = NaN;
    c.tz = timezone;
    const mtz = message.timezone;
    if (mtz !== undefined && mtz !== null && mtz !== '') {
      if (mtz !== lastTz) {
        if (!isValidTimeZone(mtz)) return { outcome: 'dropped', reason: `Unknown timezone '${clip(String(mtz))}' in the message` };
        lastTz = mtz;
      }
      c.tz = mtz;
    }
    for (let i = 0; i < slotCount; i++) c.slots[i] = UNSET;

    if (binary) {
      c.payload = undefined;
      if (message.payload === undefined || message.payload === null) {
        return { outcome: 'dropped', reason: 'The message has no payload' };
      }
    } else {
      let p = message.payload;
      if (typeof p === 'string' || p instanceof Uint8Array) {
        let text = typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');
        if (text.charCodeAt(0) === BOM) text = text.slice(1);
        try {
          p = JSON.parse(text);
        } catch (e) {
          return { outcome: 'dropped', reason: `Payload is not valid JSON (${(e as Error).message}); a JSON rule ignores it` };
        }
      } else if (p === undefined) {
        return { outcome: 'dropped', reason: 'The message has no payload' };
      }
      if (typeof p !== 'object' || p === null || Array.isArray(p) || p instanceof Uint8Array) {
        return { outcome: 'dropped', reason: `Payload is ${describeValue(p)}, not a JSON object; a JSON rule needs an object` };
      }
      if ((p as { method?: unknown }).method !== undefined && topic.startsWith('/sys/') && isRawAlink(p)) {
        p = parseTslPayload(topic, p, tslContext(message, now(c)));
      }
      c.payload = p;
    }

    if (where) {
      const w = where(c);
      if (w !== true) {
        return w === false ? WHERE_FALSE : WHERE_NOT_TRUE;
      }
    }
    if (rawStar) return { outcome: 'output', output: raw(c) };
    return { outcome: 'output', output: select(c) };
  }

  return Object.freeze({
    sql,
    dataType,
    topicFilter: from.filter,
    matchesTopic: (topic: string) => typeof topic === 'string' && matchesTopic(topic),
    evaluate,
  });
}
