// Seeded fuzzer of the rule SQL engine, run in a child process by test/sql/fuzz.test.ts (so that a V8 abort fails
// the test instead of killing mocha). It mutates the SQL texts of the conformance suite and checks, for every
// mutant: compileRule throws nothing but SqlError (1-based numeric line/column), evaluate never throws, no single
// compile or evaluate takes more than 1 s, and Object.prototype / Array.prototype never change.
//
// Reproduce a run:  SQL_FUZZ_SEED=<seed> node --import tsx test/sql/fuzz/fuzz-worker.ts
// Budgets:          SQL_FUZZ_SECONDS (default 20), SQL_FUZZ_ITERATIONS (default 1,000,000) — whichever ends first.
// Prints one JSON summary line on stdout; exits 1 when it found anything.
import fs from 'node:fs';
import path from 'node:path';
import { compileRule, FUNCTIONS, SqlError, type CompiledRule, type CompileOptions, type RuleMessage } from '../../../lib/sql';

const SLOW_MS = Number(process.env.SQL_FUZZ_SLOW_MS ?? 1000);
const seed = process.env.SQL_FUZZ_SEED ? Number(process.env.SQL_FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
const seconds = Number(process.env.SQL_FUZZ_SECONDS ?? 20);
const maxIterations = Number(process.env.SQL_FUZZ_ITERATIONS ?? 1_000_000);

// ---- seeded randomness (mulberry32) ----------------------------------------------------------------------------
let state = seed;
function rnd(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)];
/** Mostly small, sometimes large: for sizes and repeat counts. */
const size = (): number => (rnd() < 0.9 ? pick([1, 2, 3, 5, 8, 16, 40, 100, 300, 1000]) : pick([5000, 20_000, 70_000]));

// ---- the corpus: SQL texts of the conformance suite ------------------------------------------------------------
const PK = 'a1B2c3D4e5F';
const DN = 'dev01';
const SUBST: Record<string, string> = {
  FROM: `"/${PK}/+/user/update"`, PROP_FROM: `"/sys/${PK}/+/thing/event/property/post"`, BIN_FROM: `"/${PK}/+/user/bin"`,
  PK, DN, TOPIC: `/${PK}/${DN}/user/update`,
};

function unescapeJs(s: string): string {
  return s.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/gs, (_, e: string) => {
    if (e[0] === 'u' && e.length > 1) return String.fromCodePoint(parseInt(e.replace(/[u{}]/g, ''), 16));
    if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

function loadCorpus(): string[] {
  const dir = path.join(__dirname, '..', 'conformance');
  const out = new Set<string>();
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
    const src = fs.readFileSync(path.join(dir, f), 'utf8');
    const literals = [
      ...src.matchAll(/`((?:[^`\\]|\\.)*)`/gs),
      ...src.matchAll(/'((?:[^'\\\n]|\\.)*)'/g),
      ...src.matchAll(/"((?:[^"\\\n]|\\.)*)"/g),
    ];
    for (const m of literals) {
      if (!/\bSELECT\b/i.test(m[1])) continue;
      out.add(unescapeJs(m[1].replace(/\$\{([^}]*)\}/g, (_, name: string) => SUBST[name.trim()] ?? pick(['a', "'x'", '1', 'items.Temperature.value']))));
    }
  }
  return [...out];
}

// ---- mutations ---------------------------------------------------------------------------------------------------
const TOKEN = /'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?|[A-Za-z_$][\w$]*|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\s+|<>|!=|<=|>=|[\s\S]/g;
const tokenize = (s: string): string[] => s.match(TOKEN) ?? [];
const isWord = (t: string): boolean => /^['"A-Za-z_$\d]/.test(t);

const NAMES = FUNCTIONS.map((f) => f.name);
const KEYWORDS = ['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'IN', 'LIKE',
  'IS', 'NULL', 'AS', 'TRUE', '*', ',', '(', ')', '.', '[0]', '"', "'", '$', ';', '-', '+', '%', '=', '<>',
  'thingPropertyFlatMap()', 'to_base64(*)', 'to_hex(*)', '"$.a[0]"', '".a"', '__proto__', 'constructor', '"__proto__"'];
const ODD = ["'", '"', '\\', '\n', '\r\n', '\0', '\uD800', '\uDFFF', '😀', '，', '（', '）', '“', '”', '\u3000', '\uFEFF',
  '\u2028', '$', '[', ']', '.', '%', '*', '#', '+', '/', '`', '\u00A0', 'é', '中'];
const BIG = ['a', 'ß', '%', "''", '\\', '中', 'aaaaaaaaaaaaaaaa'];

/** The fuzzer's own texts stay below ~2 MB (the engine refuses anything over 64 KiB anyway). */
const CAP = 2_000_000;
/** `n` copies of `x` joined by `sep`, fewer when that would pass CAP. */
function times(x: string, n: number, sep: string): string {
  return Array<string>(Math.max(1, Math.min(n, Math.floor(CAP / (x.length + sep.length + 1))))).fill(x).join(sep);
}

function growers(x: string): string {
  if (x.length > CAP / 4) return x;
  switch (int(9)) {
    case 0: return `replace(${x}, 'a', '${'a'.repeat(pick([2, 16, 100]))}')`;
    case 1: return `replace(${x}, '${pick(['', 'a', '%', 'x', ' '])}', '${pick(['', 'ab', 'ß'.repeat(8), 'a'.repeat(1000)])}')`;
    case 2: return `concat(${x}, ${x})`;
    case 3: return `upper(${x})`;
    case 4: return `lower(${x})`;
    case 5: return `substring(${x}, ${int(5)}${rnd() < 0.5 ? `, ${int(1e6)}` : ''})`;
    case 6: return `crypto(${x}, '${pick(['MD5', 'SHA-256', 'MD2', 'nope'])}')`;
    case 7: return `timestamp(${x})`;
    default: return `${pick(NAMES)}(${x}${rnd() < 0.5 ? `, ${x}` : ''})`;
  }
}

/** One structural mutation of a token list, in place (entries may become whole sub-expressions). */
function mutate(t: string[], corpus: readonly string[]): void {
  if (t.length === 0) return;
  const i = int(t.length);
  const j = Math.min(t.length, i + 1 + int(8));
  const words = t.map((x, k) => (isWord(x) ? k : -1)).filter((k) => k >= 0);
  const w = words.length ? pick(words) : i;
  switch (int(15)) {
    case 0: { t[w] = growers(t[w]); break; } // wrap a value in a function
    case 1: { let x = t[w]; for (let k = 1 + int(12); k > 0; k--) x = growers(x); t[w] = x; break; } // nest deeply
    case 2: { // duplicate / nest a function call
      const open = t.findIndex((x, k) => k >= i && x === '(' && k > 0 && /^[A-Za-z_]/.test(t[k - 1]));
      if (open < 0) break;
      let depth = 0;
      let close = open;
      for (; close < t.length; close++) { if (t[close] === '(') depth++; else if (t[close] === ')' && --depth === 0) break; }
      const call = t.slice(open - 1, close + 1).join('');
      if (call.length > CAP / 4) break;
      t.splice(open - 1, close - open + 2, pick([`concat(${call}, ${call})`, `${t[open - 1]}(${call})`, `replace(${call}, 'a', 'aaaaaaaaaaaaaaaa')`]));
      break;
    }
    case 3: t.splice(i, 0, ` '${pick(BIG).repeat(size())}' `); break; // huge literal
    case 4: t.splice(i, 0, ` "${pick(BIG).repeat(size())}" `); break; // huge quoted path
    case 5: t[w] = times(t[w], size(), pick(['', ' ', ', ', ' AND ', ' OR ', ' + ', '.', '\n'])); break; // repeat
    case 6: { // splice odd characters / random unicode / random bytes
      let s = '';
      for (let k = 1 + int(6); k > 0; k--) s += rnd() < 0.7 ? pick(ODD) : String.fromCharCode(int(0x10000));
      t.splice(i, 0, s);
      break;
    }
    case 7: { const n = pick([1, 5, 100, 255, 256, 300, 5000]); t[w] = `${'('.repeat(n)}${t[w]}${')'.repeat(n)}`; break; }
    case 8: t.splice(i, j - i); break; // delete a span
    case 9: { const o = tokenize(pick(corpus)); const a = int(o.length); t.splice(i, 0, ...o.slice(a, a + 1 + int(10))); break; }
    case 10: t[w] = `concat(${times(t[w], Math.max(2, size()), ',')})`; break; // many arguments
    case 11: t[w] = `${t[w]} IN (${Array.from({ length: size() }, (_, k) => (rnd() < 0.5 ? k : `'${k}'`)).join(',')})`; break;
    case 12: t[w] = `CASE ${t[w]} ${Array.from({ length: size() }, (_, k) => `WHEN ${k} THEN '${k}'`).join(' ')} END`; break;
    case 13: t[i] = pick(KEYWORDS); break;
    default: t[w] = `${pick(['-', 'NOT ', '- -'])}${t[w]}`; break;
  }
}

// ---- messages ------------------------------------------------------------------------------------------------
const PROTO_JSON = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1},'
  + '"a":"__proto__","s":"aaaa","items":{"__proto__":{"value":{"polluted":1}},"constructor":{"value":{"prototype":{"polluted":1}}}}}';

// Large payloads are made once: the engine must not change them, and the fuzzer makes no needless garbage (a long
// GC pause would be counted against the 1 s bound of the next compile or evaluate).
const LARGE = [100, 100_000, 1_100_000].map((n) => ({ s: 'a'.repeat(n), a: 'ß'.repeat(1000), n: 1e308 }))
  .concat([{ s: `${'1'.repeat(300_000)}x`, a: ` ${'9'.repeat(300_000)}`, n: 1 }]);
const DEEP = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`;

function payloadFor(): unknown {
  switch (int(12)) {
    case 0: return PROTO_JSON;
    case 1: return JSON.parse(PROTO_JSON) as unknown;
    case 2: return pick(LARGE);
    case 3: return DEEP;
    case 4: return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    case 5: return pick(['not json', '[1,2]', 'null', '42', '', '\uFEFF{"a":1}', '{"a":']);
    case 6: return { id: '1', version: '1.0', method: 'thing.event.property.post', params: { Temperature: 36.6, __proto__x: 1, s: { a: 'aaaa' } } };
    case 7: return { items: { Temperature: { value: 36.6, time: 1 }, Pos: { value: { lat: 1, lng: { a: 'a' } } } }, a: [1, 'a'], s: '%a%' };
    case 8: return { a: 1, b: 'x', s: 'a%b', t: 'yyyy-MM-dd', n: -0, arr: [[1]], o: { 'a.b': 1, '': 2 } };
    case 9: return undefined;
    default: return { a: int(100), b: 'aaaa', s: 'a'.repeat(int(50)), items: {}, c: null, d: true };
  }
}

function topicFor(rule: CompiledRule): string {
  if (rnd() < 0.1) return pick(['', '/', `/${PK}/${DN}/user/other`, '/sys//thing']);
  return rule.topicFilter.replace(/\+/g, DN).replace(/#$/, pick(['x', 'x/y', '']));
}

function messageFor(rule: CompiledRule): RuleMessage {
  const m: RuleMessage = { topic: topicFor(rule), payload: payloadFor(), now: 1_700_000_000_000 };
  if (rnd() < 0.1) m.timezone = pick(['UTC', 'Nope/Zone', 'Asia/Shanghai', '']);
  if (rnd() < 0.1) m.tags = JSON.parse('{"__proto__":"x","location":"here"}') as Record<string, string>;
  if (rnd() < 0.05) m.now = pick([NaN, Infinity, -1e20]);
  return m;
}

// ---- checks ------------------------------------------------------------------------------------------------------
const snapshot = (): string => [Object.prototype, Array.prototype, Function.prototype, String.prototype]
  .map((p) => Object.getOwnPropertyNames(p).sort().join(',')).join('|');
const before = snapshot();

interface Finding { iteration: number; kind: string; detail: string; sql: string; }
const findings: Finding[] = [];
const clip = (s: string, n = 300): string => (s.length <= n ? s : `${s.slice(0, n)}… (${s.length} chars)`);
let iteration = -1;
const stats = { seed, iterations: 0, corpus: 0, compiled: 0, refused: 0, evaluations: 0, outcomes: {} as Record<string, number>, maxCompileMs: 0, maxEvaluateMs: 0, seconds: 0 };

function report(kind: string, detail: string, sql: string): void {
  findings.push({ iteration, kind, detail: clip(detail, 500), sql: clip(sql) });
}

function check(sql: string, options: CompileOptions): void {
  let rule: CompiledRule | undefined;
  const t0 = performance.now();
  try {
    rule = compileRule(sql, options);
    stats.compiled++;
  } catch (e) {
    if (!(e instanceof SqlError)) report('compile threw a non-SqlError', `${(e as Error)?.name}: ${(e as Error)?.message ?? String(e)}`, sql);
    else if (!Number.isInteger(e.line) || !Number.isInteger(e.column) || e.line < 1 || e.column < 1) {
      report('SqlError without a 1-based position', `${e.line}:${e.column} ${e.message}`, sql);
    } else stats.refused++;
  }
  const ms = performance.now() - t0;
  stats.maxCompileMs = Math.max(stats.maxCompileMs, ms);
  if (ms > SLOW_MS) report('slow compile', `${ms.toFixed(0)} ms`, sql);
  if (rule) {
    for (let k = 1 + int(3); k > 0; k--) {
      const m = messageFor(rule);
      const e0 = performance.now();
      try {
        const r = rule.evaluate(m);
        stats.evaluations++;
        stats.outcomes[r.outcome] = (stats.outcomes[r.outcome] ?? 0) + 1;
        if (!['output', 'filtered', 'no-match', 'dropped'].includes(r.outcome)) report('unknown outcome', String(r.outcome), sql);
        if (r.outcome === 'dropped' && typeof r.reason !== 'string') report('dropped without a reason', '', sql);
      } catch (e) {
        report('evaluate threw', `${(e as Error)?.name}: ${(e as Error)?.message ?? String(e)}`, sql);
      }
      const ems = performance.now() - e0;
      stats.maxEvaluateMs = Math.max(stats.maxEvaluateMs, ems);
      if (ems > SLOW_MS) report('slow evaluate', `${ems.toFixed(0)} ms on payload ${clip(String(typeof m.payload === 'object' ? JSON.stringify(m.payload) : m.payload), 100)}`, sql);
    }
  }
  const polluted = ({} as Record<string, unknown>).polluted !== undefined || snapshot() !== before;
  if (polluted) {
    report('prototype changed', 'Object/Array/Function/String.prototype gained or lost a property', sql);
    throw new Error('stop: prototypes changed');
  }
}

// ---- run ---------------------------------------------------------------------------------------------------------
const corpus = loadCorpus();
stats.corpus = corpus.length;
const start = performance.now();
process.stderr.write(`sql fuzz: seed ${seed} (reproduce with SQL_FUZZ_SEED=${seed}), corpus ${corpus.length} statements\n`);

// Fixed regression cases from issue 9 first.
let eight = "'aaaaaaaaaaaaaaaa'";
for (let k = 0; k < 8; k++) eight = `replace(${eight},'a','aaaaaaaaaaaaaaaa')`;
const FIXED = [
  `SELECT ${eight} AS x FROM "/a/b/c"`,
  `SELECT a FROM "/a/b/c" WHERE a = '${'x'.repeat(1 << 20)}'`,
  `SELECT concat(${Array(100_000).fill("'a'").join(',')}) AS x FROM "/a/b/c"`,
  `SELECT replace(replace(replace(s,'a','aaaaaaaaaaaaaaaa'),'a','aaaaaaaaaaaaaaaa'),'a','aaaaaaaaaaaaaaaa') AS x FROM "/a/b/c"`,
];
try {
  for (const sql of FIXED) check(sql, {});
  for (iteration = 0; iteration < maxIterations && performance.now() - start < seconds * 1000; iteration++) {
    // Mostly one or two mutations; one statement in eight unchanged (hostile payloads on valid rules).
    const tokens = tokenize(pick(corpus));
    const r = rnd();
    for (let k = r < 0.125 ? 0 : r < 0.6 ? 1 : r < 0.9 ? 2 : 3; k > 0; k--) mutate(tokens, corpus);
    const sql = tokens.join('');
    const options: CompileOptions = rnd() < 0.15 ? { dataType: 'BINARY' } : rnd() < 0.1 ? { strict: true } : {};
    check(sql, options);
    stats.iterations = iteration + 1;
  }
} catch (e) {
  if (!findings.length) report('fuzzer stopped', String((e as Error)?.stack ?? e), '');
}
stats.seconds = Math.round((performance.now() - start) / 100) / 10;
process.stdout.write(`${JSON.stringify({ ...stats, findings: findings.slice(0, 20), findingCount: findings.length })}\n`);
process.exitCode = findings.length ? 1 : 0;
