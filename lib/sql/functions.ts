// The 33 built-in functions of the rule SQL (spec §2), with compile-time argument checks.
import { createHash, randomUUID } from 'node:crypto';
import type { Expr, Pos } from './ast';
import { compileDatePattern, DatePatternError, type DateFormatter } from './dateformat';
import {
  charge, checkInput, claimJson, claimText, clip, LimitError, MAX_DATE_PATTERN_LENGTH, MAX_MD2_INPUT, MAX_TEXT_LENGTH,
  MD2_WEIGHT, count,
} from './limits';
import { md2 } from './md2';
import {
  anyText, type Compiled, type Ctx, finite, type Fn, now, raw, toNum, toText,
} from './runtime';
import { deviceNameOf, levelOf } from './topic';

/** How a literal argument is checked at compile time (data-driven mismatches yield undefined instead). */
export type ArgKind = 'num' | 'str' | 'any' | 'intOrStr' | 'int' | 'star' | 'strLit';

export interface BuildInfo {
  node: Extract<Expr, { k: 'call' }>;
  fail(problem: string, at: Pos, hint?: string): never;
}

export interface FunctionSpec {
  name: string;
  /** Call shape for help text, e.g. `substring(target, start[, end])`. */
  signature: string;
  /** One-line description. */
  description: string;
  min: number;
  max: number;
  /** Kind of each argument; the last kind repeats for variadic functions. */
  args: ArgKind[];
  /** Result depends only on the arguments (constant-foldable). */
  pure: boolean;
  build(args: Compiled[], info: BuildInfo): Fn;
}

// ---- helpers ------------------------------------------------------------------------------------------------

function math1(f: (x: number) => number) {
  return (args: Compiled[]): Fn => {
    const a = args[0].fn;
    const key = args[0].key;
    if (key !== undefined) {
      return (c) => {
        const v = (c.payload as Record<string, unknown>)[key];
        const x = typeof v === 'number' ? v : toNum(v);
        return x === undefined ? undefined : finite(f(x));
      };
    }
    return (c) => {
      const v = a(c);
      const x = typeof v === 'number' ? v : toNum(v);
      return x === undefined ? undefined : finite(f(x));
    };
  };
}

function math2(f: (x: number, y: number) => number) {
  return (args: Compiled[]): Fn => {
    const a = args[0].fn;
    const b = args[1].fn;
    return (c) => {
      const x = toNum(a(c));
      if (x === undefined) return undefined;
      const y = toNum(b(c));
      return y === undefined ? undefined : finite(f(x, y));
    };
  };
}

/** A text → text function whose input and result are bounded (lower, upper: a result may be longer than its input). */
function text1(name: string, f: (s: string) => string) {
  const bounded = (s: string): string => {
    checkInput(name, s.length);
    const r = f(s);
    claimText(name, r.length);
    return r;
  };
  return (args: Compiled[]): Fn => {
    const a = args[0].fn;
    const key = args[0].key;
    if (key !== undefined) {
      return (c) => {
        const v = (c.payload as Record<string, unknown>)[key];
        const s = typeof v === 'string' ? v : toText(v);
        return s === undefined ? undefined : bounded(s);
      };
    }
    return (c) => {
      const s = toText(a(c));
      return s === undefined ? undefined : bounded(s);
    };
  };
}

/**
 * concat() of texts already made: the total length is checked while the parts are gathered (so many large parts
 * stop at the bound) and claimed before the join allocates it.
 */
function joinBounded(fns: readonly Fn[], c: Ctx): string | undefined {
  const parts: string[] = new Array<string>(fns.length);
  let total = 0;
  for (let i = 0; i < fns.length; i++) {
    const t = anyText(fns[i](c));
    if (t === undefined) return undefined;
    total += t.length;
    if (total > MAX_TEXT_LENGTH) claimText('concat', total);
    parts[i] = t;
  }
  claimText('concat', total);
  return parts.join('');
}

/**
 * replace(): the size of the result is computed from the number of matches before anything is built, so a result
 * beyond the bound is refused without allocating it (nested replace() grows exponentially).
 */
export function replaceBounded(s: string, find: string, rep: string): string {
  checkInput('replace', s.length, 'source');
  if (find === '') return s;
  let n = 0;
  for (let i = s.indexOf(find); i >= 0; i = s.indexOf(find, i + find.length)) n++;
  if (n === 0) return s;
  claimText('replace', s.length + n * (rep.length - find.length));
  return s.split(find).join(rep);
}

const ALGORITHMS: Record<string, string> = {
  MD2: 'md2', MD5: 'md5', SHA1: 'sha1', 'SHA-1': 'sha1', SHA: 'sha1', 'SHA-256': 'sha256', SHA256: 'sha256',
  'SHA-384': 'sha384', SHA384: 'sha384', 'SHA-512': 'sha512', SHA512: 'sha512',
};

function digest(alg: string, data: Buffer): string {
  if (alg === 'md2') {
    if (data.length > MAX_MD2_INPUT) {
      throw new LimitError('crypto', `crypto() with MD2 takes at most ${count(MAX_MD2_INPUT)} bytes, got ${count(data.length)}`);
    }
    charge('crypto()', data.length * MD2_WEIGHT);
    return md2(data).toString('hex');
  }
  return createHash(alg).update(data).digest('hex');
}

/** The bytes crypto() digests; a text is counted in the message's text budget (each digest is work on all of it). */
function bytesOf(v: unknown): Buffer | undefined {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') claimJson('crypto()', v.length, 'a text');
  const t = anyText(v, 'crypto()');
  return t === undefined ? undefined : Buffer.from(t, 'utf8');
}

/** payload(): a decoded text has at most one character per byte, so the byte count is claimed first. */
function decodeBounded(dec: TextDecoder, bytes: Buffer): string {
  claimText('payload', bytes.length);
  return dec.decode(bytes);
}

function makeDecoder(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(label);
  } catch {
    return undefined;
  }
}

/** Level `n` (1-based, after the leading '/') of a topic. */
function topicLevel(topic: string, n: number): string | undefined {
  if (!Number.isFinite(n)) return undefined;
  const i = Math.trunc(n);
  if (i < 1) return undefined;
  // Levels count from the first one after a leading '/'; a topic without one starts at level 1 ('' has none).
  if (topic === '') return undefined;
  return levelOf(topic, topic.charCodeAt(0) === 47 ? i : i - 1);
}

function cachedFormatter(): (pattern: string) => DateFormatter | undefined {
  const cache = new Map<string, DateFormatter | null>();
  return (pattern) => {
    let f = cache.get(pattern);
    if (f === undefined) {
      try { f = compileDatePattern(pattern); } catch { f = null; }
      if (cache.size > 100) cache.clear();
      cache.set(pattern, f);
    }
    return f ?? undefined;
  };
}

/** A result built by code whose output is bounded by a bounded input (a date pattern), counted afterwards. */
function claimed(name: string, s: string): string {
  claimText(name, s.length);
  return s;
}

function timestampBuilder(utc: boolean) {
  const name = utc ? 'timestamp_utc' : 'timestamp';
  return (args: Compiled[], info: BuildInfo): Fn => {
    if (args.length === 0) return (c) => now(c);
    const arg = args[0];
    if (arg.isConst) {
      let f: DateFormatter;
      const pattern = String(arg.value);
      if (pattern.length > MAX_DATE_PATTERN_LENGTH) {
        info.fail(`Date pattern is ${count(pattern.length)} characters, more than the ${count(MAX_DATE_PATTERN_LENGTH)} allowed`,
          info.node.args[0].pos);
      }
      try {
        f = compileDatePattern(pattern);
      } catch (e) {
        const at = info.node.args[0].pos;
        if (e instanceof DatePatternError) info.fail(e.message, at, 'see Java SimpleDateFormat patterns, e.g. yyyy-MM-dd HH:mm:ss');
        throw e;
      }
      return utc ? (c) => claimed(name, f.format(now(c), 'UTC')) : (c) => claimed(name, f.format(now(c), c.tz));
    }
    const get = cachedFormatter();
    const a = arg.fn;
    return (c) => {
      const p = a(c);
      if (typeof p !== 'string') return undefined;
      if (p.length > MAX_DATE_PATTERN_LENGTH) {
        throw new LimitError(name, `${name}() pattern is ${count(p.length)} characters, more than the ${count(MAX_DATE_PATTERN_LENGTH)} allowed`);
      }
      const f = get(p);
      return f ? claimed(name, f.format(now(c), utc ? 'UTC' : c.tz)) : undefined;
    };
  };
}

// ---- the table ----------------------------------------------------------------------------------------------

const SPECS: FunctionSpec[] = [
  {
    name: 'abs', signature: 'abs(number)', description: 'Absolute value.', min: 1, max: 1, args: ['num'], pure: true,
    build: (args) => {
      const key = args[0].key;
      if (key === undefined) return math1(Math.abs)(args);
      return (c) => {
        const v = (c.payload as Record<string, unknown>)[key];
        if (typeof v === 'number') return v < 0 ? -v : v;
        const x = toNum(v);
        return x === undefined ? undefined : Math.abs(x);
      };
    },
  },
  {
    name: 'asin', signature: 'asin(number)', description: 'Arcsine, in radians.', min: 1, max: 1, args: ['num'],
    pure: true, build: math1(Math.asin),
  },
  {
    name: 'attribute', signature: 'attribute(key)', description: 'Value of the device tag with this key.',
    min: 1, max: 1, args: ['str'], pure: false,
    build: (args) => {
      const a = args[0].fn;
      return (c) => {
        const k = toText(a(c));
        const tags = c.msg.tags;
        if (k === undefined || !tags || typeof tags !== 'object' || !Object.hasOwn(tags, k)) return undefined;
        const v = tags[k];
        return v === undefined || v === null ? undefined : String(v);
      };
    },
  },
  {
    name: 'concat', signature: 'concat(string1, string2, ...)', description: 'Joins the arguments as text.',
    min: 2, max: Infinity, args: ['any'], pure: true,
    build: (args) => {
      const fns = args.map((a) => a.fn);
      if (fns.length === 2 && args[0].key !== undefined && args[1].isConst && typeof args[1].value === 'string') {
        // concat(field, 'const'): read the field directly.
        const key = args[0].key;
        const suffix = args[1].value;
        return (c) => {
          const v = (c.payload as Record<string, unknown>)[key];
          const x = typeof v === 'string' ? v : anyText(v);
          if (x === undefined) return undefined;
          claimText('concat', x.length + suffix.length);
          return x + suffix;
        };
      }
      if (fns.length === 2) {
        const [a, b] = fns;
        return (c) => {
          const x = anyText(a(c));
          if (x === undefined) return undefined;
          const y = anyText(b(c));
          if (y === undefined) return undefined;
          claimText('concat', x.length + y.length);
          return x + y;
        };
      }
      return (c) => joinBounded(fns, c);
    },
  },
  {
    name: 'cos', signature: 'cos(number)', description: 'Cosine of an angle in radians.', min: 1, max: 1, args: ['num'], pure: true,
    build: math1(Math.cos),
  },
  {
    name: 'cosh', signature: 'cosh(number)', description: 'Hyperbolic cosine.', min: 1, max: 1, args: ['num'],
    pure: true, build: math1(Math.cosh),
  },
  {
    name: 'crypto', signature: "crypto(field, 'MD5')",
    description: 'Lower-case hex digest of the value: MD2, MD5, SHA1, SHA-256, SHA-384 or SHA-512.',
    min: 2, max: 2, args: ['any', 'str'], pure: true,
    build: (args, info) => {
      const a = args[0].fn;
      if (args[1].isConst) {
        const name = String(args[1].value);
        const alg = ALGORITHMS[name.toUpperCase()];
        if (!alg) {
          info.fail(`Unknown crypto algorithm '${clip(name)}'`, info.node.args[1].pos,
            'use one of MD2, MD5, SHA1, SHA-256, SHA-384, SHA-512');
        }
        return (c) => {
          const b = bytesOf(a(c));
          return b === undefined ? undefined : digest(alg, b);
        };
      }
      const g = args[1].fn;
      return (c) => {
        const n = g(c);
        const alg = typeof n === 'string' ? ALGORITHMS[n.toUpperCase()] : undefined;
        if (!alg) return undefined;
        const b = bytesOf(a(c));
        return b === undefined ? undefined : digest(alg, b);
      };
    },
  },
  {
    name: 'deviceName', signature: 'deviceName()', description: 'Name of the device that sent the message.',
    min: 0, max: 0, args: [], pure: false,
    build: () => (c) => {
      const dn = c.msg.deviceName;
      if (typeof dn === 'string' && dn !== '') return dn;
      // A new topic string comes with every message: reading the level costs less than comparing with the last one.
      return deviceNameOf(c.msg.topic);
    },
  },
  {
    name: 'endswith', signature: 'endswith(input, suffix)', description: 'True when input ends with suffix.',
    min: 2, max: 2, args: ['str', 'str'], pure: true,
    build: (args) => {
      const a = args[0].fn;
      const b = args[1].fn;
      return (c) => {
        const s = toText(a(c));
        if (s === undefined) return undefined;
        const x = toText(b(c));
        return x === undefined ? undefined : s.endsWith(x);
      };
    },
  },
  {
    name: 'exp', signature: 'exp(number)', description: 'e raised to the number.', min: 1, max: 1, args: ['num'],
    pure: true, build: math1(Math.exp),
  },
  {
    name: 'floor', signature: 'floor(number)', description: 'Largest integer not greater than the number.',
    min: 1, max: 1, args: ['num'], pure: true,
    build: (args) => {
      const key = args[0].key;
      if (key === undefined) return math1(Math.floor)(args);
      return (c) => {
        const v = (c.payload as Record<string, unknown>)[key];
        const x = typeof v === 'number' ? v : toNum(v);
        return x === undefined ? undefined : finite(Math.floor(x));
      };
    },
  },
  {
    name: 'log', signature: 'log(n[, base])', description: 'Logarithm of n, base 10 unless a base is given.',
    min: 1, max: 2, args: ['num', 'num'], pure: true,
    build: (args) => (args.length === 1 ? math1(Math.log10)(args) : math2((n, m) => Math.log(n) / Math.log(m))(args)),
  },
  {
    name: 'lower', signature: 'lower(string)', description: 'Lower-case text.', min: 1, max: 1, args: ['str'],
    pure: true, build: text1('lower', (s) => s.toLowerCase()),
  },
  {
    name: 'mod', signature: 'mod(n, m)', description: 'Remainder of n divided by m (same as n % m).', min: 2, max: 2,
    args: ['num', 'num'], pure: true, build: math2((n, m) => n % m),
  },
  {
    name: 'nanvl', signature: 'nanvl(value, default)', description: 'The value, or default when it is null or missing.',
    min: 2, max: 2, args: ['any', 'any'], pure: true,
    build: (args) => {
      const a = args[0].fn;
      const b = args[1].fn;
      return (c) => {
        const v = a(c);
        return v === null || v === undefined || (typeof v === 'number' && v !== v) ? b(c) : v;
      };
    },
  },
  {
    name: 'newuuid', signature: 'newuuid()', description: 'A random UUID.', min: 0, max: 0, args: [], pure: false,
    build: () => () => randomUUID(),
  },
  {
    name: 'payload', signature: "payload('utf-8')",
    description: 'The message payload decoded as text with the charset (default utf-8).',
    min: 0, max: 1, args: ['str'], pure: false,
    build: (args, info) => {
      if (args.length === 0 || args[0].isConst) {
        const label = args.length === 0 ? 'utf-8' : String(args[0].value);
        const dec = makeDecoder(label);
        if (!dec) return info.fail(`Unknown charset '${clip(label)}' for payload()`, info.node.args[0].pos, 'use e.g. utf-8, gbk or gb18030');
        return (c) => decodeBounded(dec, raw(c));
      }
      const a = args[0].fn;
      const decoders = new Map<string, TextDecoder | undefined>();
      return (c) => {
        const label = a(c);
        if (typeof label !== 'string') return undefined;
        let dec = decoders.get(label);
        if (!decoders.has(label)) { dec = makeDecoder(label); decoders.set(label, dec); }
        return dec ? decodeBounded(dec, raw(c)) : undefined;
      };
    },
  },
  {
    name: 'power', signature: 'power(n, m)', description: 'n raised to the power m.', min: 2, max: 2,
    args: ['num', 'num'], pure: true, build: math2(Math.pow),
  },
  {
    name: 'rand', signature: 'rand()', description: 'Random number in [0, 1).', min: 0, max: 0, args: [], pure: false,
    build: () => () => Math.random(),
  },
  {
    name: 'replace', signature: 'replace(source, substring, replacement)',
    description: 'Replaces every occurrence of substring in source.', min: 3, max: 3, args: ['str', 'str', 'str'],
    pure: true,
    build: (args) => {
      const [a, b, r] = args.map((x) => x.fn);
      return (c) => {
        const s = toText(a(c));
        if (s === undefined) return undefined;
        const find = toText(b(c));
        if (find === undefined) return undefined;
        const rep = toText(r(c));
        if (rep === undefined) return undefined;
        return replaceBounded(s, find, rep);
      };
    },
  },
  {
    name: 'sin', signature: 'sin(number)', description: 'Sine of an angle in radians.', min: 1, max: 1, args: ['num'], pure: true,
    build: math1(Math.sin),
  },
  {
    name: 'sinh', signature: 'sinh(number)', description: 'Hyperbolic sine.', min: 1, max: 1, args: ['num'],
    pure: true, build: math1(Math.sinh),
  },
  {
    name: 'tan', signature: 'tan(number)', description: 'Tangent of an angle in radians.', min: 1, max: 1, args: ['num'], pure: true,
    build: math1(Math.tan),
  },
  {
    name: 'tanh', signature: 'tanh(number)', description: 'Hyperbolic tangent.', min: 1, max: 1, args: ['num'],
    pure: true, build: math1(Math.tanh),
  },
  {
    name: 'thingPropertyFlatMap', signature: "thingPropertyFlatMap('Prop1', 'Prop2', ...)",
    description: 'Adds thing-model property values as keys (struct members joined with _); no argument = all.',
    min: 0, max: Infinity, args: ['strLit'], pure: false,
    build: () => {
      throw new Error('internal: thingPropertyFlatMap is compiled as a SELECT item');
    },
  },
  {
    name: 'timestamp', signature: "timestamp('yyyy-MM-dd HH:mm:ss')",
    description: 'Current time: epoch milliseconds, or formatted (Java SimpleDateFormat) in GMT+8 / the rule time zone.',
    min: 0, max: 1, args: ['str'], pure: false, build: timestampBuilder(false),
  },
  {
    name: 'timestamp_utc', signature: "timestamp_utc('yyyy-MM-dd HH:mm:ss')",
    description: 'Current time: epoch milliseconds, or formatted (Java SimpleDateFormat) in UTC.',
    min: 0, max: 1, args: ['str'], pure: false, build: timestampBuilder(true),
  },
  {
    name: 'topic', signature: 'topic([n])', description: 'The message topic, or its n-th level (1-based).',
    min: 0, max: 1, args: ['int'], pure: false,
    build: (args) => {
      if (args.length === 0) return (c) => c.msg.topic;
      const a = args[0].fn;
      return (c) => {
        const n = toNum(a(c));
        return n === undefined ? undefined : topicLevel(c.msg.topic, n);
      };
    },
  },
  {
    name: 'upper', signature: 'upper(string)', description: 'Upper-case text.', min: 1, max: 1, args: ['str'],
    pure: true, build: text1('upper', (s) => s.toUpperCase()),
  },
  {
    name: 'to_base64', signature: 'to_base64(*)', description: 'The raw payload bytes as Base64.', min: 1, max: 1,
    args: ['star'], pure: false,
    build: () => (c) => {
      const b = raw(c);
      claimText('to_base64', Math.ceil(b.length / 3) * 4);
      return b.toString('base64');
    },
  },
  {
    name: 'messageId', signature: 'messageId()', description: 'ID of the message.', min: 0, max: 0, args: [],
    pure: false,
    build: () => (c) => {
      const id = c.msg.messageId as unknown;
      return id === undefined || id === null || id === '' ? undefined : String(id);
    },
  },
  {
    name: 'substring', signature: 'substring(target, start[, end])',
    description: 'Characters from start (inclusive) to end (exclusive); indexes are clamped.', min: 2, max: 3,
    args: ['intOrStr', 'num', 'num'], pure: true,
    build: (args) => {
      const a = args[0].fn;
      const b = args[1].fn;
      const e = args.length > 2 ? args[2].fn : undefined;
      return (c) => {
        const v = a(c);
        let s: string;
        if (typeof v === 'string') s = v;
        else if (typeof v === 'number' && Number.isInteger(v)) s = String(v);
        else return undefined;
        const st = toNum(b(c));
        if (st === undefined || st !== st) return undefined;
        const len = s.length;
        const start = Math.min(Math.max(Math.trunc(st), 0), len);
        let end = len;
        if (e) {
          const en = toNum(e(c));
          if (en === undefined || en !== en) return undefined;
          end = Math.min(Math.max(Math.trunc(en), 0), len);
        }
        return start >= end ? '' : s.slice(start, end);
      };
    },
  },
  {
    name: 'to_hex', signature: 'to_hex(*)', description: 'The raw payload bytes as lower-case hex.', min: 1, max: 1,
    args: ['star'], pure: false,
    build: () => (c) => {
      const b = raw(c);
      claimText('to_hex', b.length * 2);
      return b.toString('hex');
    },
  },
];

export const FUNCTION_SPECS: ReadonlyMap<string, FunctionSpec> = new Map(SPECS.map((s) => [s.name, s]));

/** Names and one-line descriptions of the built-in functions (editor highlighting and help). */
export const FUNCTIONS: ReadonlyArray<{ name: string; signature: string; description: string }> = Object.freeze(
  SPECS.map((s) => Object.freeze({ name: s.name, signature: s.signature, description: s.description })),
);

// Names people reach for that the rule SQL does not have.
const KNOWN_MISSES: Record<string, string> = {
  productkey: 'use topic(1) on custom topics or topic(2) on /sys topics',
  deviceid: 'did you mean deviceName()?',
  startswith: "use LIKE 'prefix%'",
  substr: 'did you mean substring()?',
  now: 'did you mean timestamp()?',
  uuid: 'did you mean newuuid()?',
  md5: "use crypto(field, 'MD5')",
  sha256: "use crypto(field, 'SHA-256')",
  base64: 'did you mean to_base64(*)?',
  ln: 'use log(n, exp(1))',
  pow: 'did you mean power()?',
  random: 'did you mean rand()?',
};

function levenshtein(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** A "did you mean" hint for an unknown function name. */
export function suggestFunction(name: string): string | undefined {
  if (name.length > 64) return undefined;
  const lower = name.toLowerCase();
  for (const s of SPECS) if (s.name.toLowerCase() === lower) return `did you mean ${s.name}()?`;
  if (KNOWN_MISSES[lower]) return KNOWN_MISSES[lower];
  let best: string | undefined;
  let bestD = Infinity;
  for (const s of SPECS) {
    const d = levenshtein(lower, s.name.toLowerCase());
    if (d < bestD) { bestD = d; best = s.name; }
  }
  if (best && bestD <= Math.max(1, Math.floor(lower.length / 4))) return `did you mean ${best}()?`;
  return undefined;
}

export type { Ctx };
