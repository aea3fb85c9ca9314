// Issue 9: hostile rule SQL or payloads never abort, hang or throw anything but SqlError. Every function that builds
// text has a bound on its result (lib/sql/limits.ts); beyond it compileRule refuses the rule at the call (constant
// folding runs functions on literals) and evaluate drops the message with a reason naming the function and the bound.
// The rule length is bounded too, and compile time is linear in it.
import assert from 'node:assert/strict';
import {
  compileRule, MAX_DATE_PATTERN_LENGTH, MAX_MD2_INPUT, MAX_RULE_LENGTH, MAX_TEXT_LENGTH, MAX_TEXT_PER_EVALUATION, SqlError,
} from '../../../lib/sql';
import { CUSTOM_FILTER, CUSTOM_TOPIC, refused, value } from './helpers';

const F = CUSTOM_FILTER;
const grouped = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Compile, and require it to take less than the issue's hard bound of 1 s. */
function timed<T>(f: () => T): { value?: T; error?: unknown; ms: number } {
  const t0 = performance.now();
  try {
    const v = f();
    return { value: v, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

function dropped(sql: string, payload: unknown, re: RegExp): string {
  const rule = compileRule(sql);
  const r = timed(() => rule.evaluate({ topic: CUSTOM_TOPIC, payload }));
  assert.ok(r.ms < 1000, `evaluate took ${r.ms} ms`);
  const result = r.value!;
  assert.equal(result.outcome, 'dropped', `expected dropped, got ${result.outcome}`);
  assert.match(result.reason ?? '', re);
  return result.reason!;
}

/** replace() nested `depth` times over `inner`, each time putting 16 a's for every a (the issue's rule). */
function nestedReplace(depth: number, inner: string): string {
  let e = inner;
  for (let i = 0; i < depth; i++) e = `replace(${e},'a','aaaaaaaaaaaaaaaa')`;
  return e;
}

describe('sql engine: bounded work and memory (issue 9)', function () {
  describe('constant folding at compile time', function () {
    it("refuses the issue's 8-deep replace() at the call that would break the bound, quickly, without aborting", function () {
      // Each level multiplies the length by 16: 16^6 = 16,777,216 characters at the 5th call from the inside,
      // which is the 4th written (column 8 + 3 × 8 = 32).
      const sql = `SELECT ${nestedReplace(8, "'aaaaaaaaaaaaaaaa'")} AS x FROM "/a/b/c"`;
      const r = timed(() => compileRule(sql));
      assert.ok(r.error instanceof SqlError, `expected SqlError, got ${String(r.error)}`);
      assert.equal(r.error.line, 1);
      assert.equal(r.error.column, 32);
      assert.match(r.error.message, /^replace\(\) result would be 16,777,216 characters, more than the 4,194,304 allowed at 1:32/);
      assert.ok(r.ms < 1000, `took ${r.ms} ms`);
      // On a later line the line is reported too.
      refused(`SELECT a\n  , ${nestedReplace(8, "'aaaaaaaaaaaaaaaa'")} AS x FROM "/a/b/c"`, /replace\(\) result would be/, 2, 29);
    });

    it('folds a replace() that stays within the bound as before', function () {
      assert.equal((value(nestedReplace(4, "'a'")) as string).length, 16 ** 4);
      assert.equal(value("replace('a-b-c', '-', '')"), 'abc');
      assert.equal(value("replace('abc', '', 'x')"), 'abc');
    });

    it('refuses concat(), upper() and lower() of folded values beyond the bound, at their call', function () {
      const big = nestedReplace(5, "'aaaa'"); // 4 × 16^5 = 4,194,304 characters: exactly the bound, allowed
      assert.equal((value(big) as string).length, MAX_TEXT_LENGTH);
      refused(`SELECT concat('b', ${big}) AS x FROM ${F}`, /^concat\(\) result would be 4,194,305 characters/, 1, 8);
      // 'ß' upper-cases to 'SS': a result longer than its input is bounded as well.
      const sharp = nestedReplace(4, `'${'ß'.repeat(33)}'`).replaceAll("'a'", "'ß'").replaceAll("'aaaaaaaaaaaaaaaa'", `'${'ß'.repeat(16)}'`);
      assert.equal((value(sharp) as string).length, 33 * 16 ** 4);
      refused(`SELECT upper(${sharp}) AS x FROM ${F}`, /^upper\(\) result would be 4,325,376 characters/, 1, 8);
      assert.equal((value(`lower(${sharp})`) as string).length, 33 * 16 ** 4);
    });

    it(`refuses more than ${grouped(MAX_TEXT_PER_EVALUATION)} characters of folded text in one rule`, function () {
      const items = Array.from({ length: 9 }, (_, i) => `${nestedReplace(5, "'aaaa'")} AS x${i}`).join(', ');
      refused(`SELECT ${items} FROM ${F}`, /would work on more than 33,554,432 characters of text/, 1);
    });

    it('refuses a date pattern longer than the bound at the pattern', function () {
      assert.equal(typeof value(`timestamp('${'y'.repeat(MAX_DATE_PATTERN_LENGTH)}')`), 'string');
      refused(`SELECT timestamp('${'y'.repeat(MAX_DATE_PATTERN_LENGTH + 1)}') AS t FROM ${F}`, /Date pattern is 1,025 characters, more than the 1,024 allowed/, 1, 18);
    });
  });

  describe('at run time', function () {
    it('drops a message whose field makes replace() too large, naming the function and the bound', function () {
      const sql = `SELECT replace(s, 'a', 'aaaaa') AS x FROM ${F}`;
      const reason = dropped(sql, { s: 'a'.repeat(1_000_000) }, /^replace\(\) result would be 5,000,000 characters, more than the 4,194,304 allowed/);
      assert.ok(reason.length < 200);
      assert.equal((compileRule(sql).evaluate({ topic: CUSTOM_TOPIC, payload: { s: 'bab' } }).output as { x?: string } | undefined)?.x, 'baaaaab');
      // Nested over a field: the growth is caught at the level that breaks the bound.
      dropped(`SELECT ${nestedReplace(8, 's')} AS x FROM ${F}`, { s: 'aaaa' }, /^replace\(\) result would be 67,108,864 characters/);
      // A huge input is refused before it is split (very many matches, even when the result would be short).
      dropped(`SELECT replace(s, 'a', '') AS x FROM ${F}`, { s: 'a'.repeat(MAX_TEXT_LENGTH + 1) }, /^replace\(\) source is 4,194,305 characters/);
    });

    it('drops a message whose concat() would be too large, and one that builds too much text in total', function () {
      const many = `SELECT concat(${Array(20_000).fill('s').join(',')}) AS x FROM ${F}`;
      const r = timed(() => compileRule(many));
      assert.ok(r.value && r.ms < 1000, `compiled in ${r.ms} ms: ${String(r.error)}`);
      assert.equal((r.value.evaluate({ topic: CUSTOM_TOPIC, payload: { s: 'ab' } }).output as { x: string }).x.length, 40_000);
      dropped(many, { s: 'x'.repeat(300) }, /^concat\(\) result would be 4,194,\d{3} characters, more than the 4,194,304 allowed/);
      dropped(`SELECT concat(s, s) AS x FROM ${F}`, { s: 'x'.repeat(3_000_000) }, /^concat\(\) result would be 6,000,000/);
      dropped(`SELECT concat(s, '!') AS x FROM ${F}`, { s: 'x'.repeat(MAX_TEXT_LENGTH) }, /^concat\(\) result would be 4,194,305/);
      const items = Array.from({ length: 9 }, (_, i) => `concat(s, s) AS x${i}`).join(', ');
      dropped(`SELECT ${items} FROM ${F}`, { s: 'x'.repeat(MAX_TEXT_LENGTH / 2) }, /would work on more than 33,554,432 characters of text for one message/);
      // The budget is per message: the next, smaller message is fine.
      const rule = compileRule(`SELECT ${items} FROM ${F}`);
      assert.equal(rule.evaluate({ topic: CUSTOM_TOPIC, payload: { s: 'x'.repeat(MAX_TEXT_LENGTH / 2) } }).outcome, 'dropped');
      assert.equal(rule.evaluate({ topic: CUSTOM_TOPIC, payload: { s: 'x'.repeat(1000) } }).outcome, 'output');
    });

    it('turns an object into text once per message, and bounds that text too', function () {
      const deep = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`; // slow to turn into text: ~3 ms each time
      const sql = `SELECT a FROM ${F} WHERE concat(${Array(3000).fill('a').join(',')}) = 'x' OR a = a`;
      const rule = compileRule(sql);
      const r = timed(() => rule.evaluate({ topic: CUSTOM_TOPIC, payload: deep }));
      assert.ok(r.ms < 1000, `took ${r.ms} ms`);
      assert.equal(r.value?.outcome, 'dropped');
      assert.match(r.value?.reason ?? '', /^concat\(\) result would be \d/);
      const big = { o: { s: 'x'.repeat(MAX_TEXT_LENGTH) } };
      dropped(`SELECT crypto(o, 'MD5') AS h FROM ${F}`, big, /^crypto\(\) needs an object as text of 4,194,\d{3} characters, more than the 4,194,304 allowed/);
      assert.match(String(value("crypto(o, 'MD5')", { o: { s: 'x' } })), /^[0-9a-f]{32}$/);
    });

    it('scans a long text once when it is compared with many numbers, and bounds the work of crypto()', function () {
      const digits = `${'1'.repeat(200_000)}x`;
      const list = `SELECT a FROM ${F} WHERE a IN (${Array.from({ length: 5000 }, (_, k) => k).join(',')})`;
      const chain = `SELECT CASE a ${Array.from({ length: 3000 }, (_, k) => `WHEN ${k} THEN 1`).join(' ')} END AS x FROM ${F}`;
      for (const sql of [list, chain]) {
        const rule = compileRule(sql);
        const r = timed(() => rule.evaluate({ topic: CUSTOM_TOPIC, payload: { a: digits } }));
        assert.ok(r.ms < 1000, `took ${r.ms} ms (was 5 to 15 s)`);
        assert.notEqual(r.value?.outcome, 'dropped');
        assert.equal(rule.evaluate({ topic: CUSTOM_TOPIC, payload: { a: '42' } }).outcome, 'output');
      }
      const hashes = (alg: string): string => `SELECT a FROM ${F} WHERE ${Array(250).fill(`crypto(a, '${alg}') = 'x'`).join(' OR ')}`;
      dropped(hashes('SHA-256'), { a: 'q'.repeat(200_000) }, /^crypto\(\): this rule would work on more than 33,554,432 characters/);
      dropped(hashes('MD2'), { a: 'q'.repeat(200_000) }, /^crypto\(\): this rule would work on more than 33,554,432 characters/);
      dropped(`SELECT crypto(a, 'MD2') AS h FROM ${F}`, { a: 'q'.repeat(MAX_MD2_INPUT + 1) }, /^crypto\(\) with MD2 takes at most 262,144 bytes, got 262,145/);
      assert.match(String(value("crypto(a, 'MD2')", { a: 'q'.repeat(MAX_MD2_INPUT) })), /^[0-9a-f]{32}$/, 'MD2 up to the bound works');
    });

    it('drops a binary payload too large for to_hex(*), to_base64(*) or payload()', function () {
      const hex = compileRule(`SELECT to_hex(*) AS h, to_base64(*) AS b FROM ${F}`, { dataType: 'BINARY' });
      assert.equal(hex.evaluate({ topic: CUSTOM_TOPIC, payload: Buffer.alloc(1000) }).outcome, 'output');
      const r = hex.evaluate({ topic: CUSTOM_TOPIC, payload: Buffer.alloc(2_500_000) });
      assert.equal(r.outcome, 'dropped');
      assert.match(r.reason ?? '', /^to_hex\(\) result would be 5,000,000 characters/);
      const b64 = compileRule(`SELECT to_base64(*) AS b FROM ${F}`, { dataType: 'BINARY' });
      assert.match(b64.evaluate({ topic: CUSTOM_TOPIC, payload: Buffer.alloc(3_500_000) }).reason ?? '', /^to_base64\(\) result would be 4,666,668/);
      const text = compileRule(`SELECT payload() AS p FROM ${F}`, { dataType: 'BINARY' });
      assert.match(text.evaluate({ topic: CUSTOM_TOPIC, payload: Buffer.alloc(MAX_TEXT_LENGTH + 1, 0x61) }).reason ?? '', /^payload\(\) result would be 4,194,305/);
    });

    it('drops a message whose date pattern field is longer than the bound', function () {
      dropped(`SELECT timestamp(p) AS t FROM ${F}`, { p: 'y'.repeat(MAX_DATE_PATTERN_LENGTH + 1) }, /^timestamp\(\) pattern is 1,025 characters/);
    });
  });

  describe('rule length and compile time', function () {
    it(`refuses a rule longer than ${grouped(MAX_RULE_LENGTH)} characters at once, at the first character beyond`, function () {
      const mb = `SELECT a FROM ${F} WHERE a = '${'x'.repeat(1 << 20)}'`;
      const r = timed(() => compileRule(mb));
      assert.ok(r.error instanceof SqlError, String(r.error));
      assert.match(r.error.message, /^The rule is 1,048,\d{3} characters long, more than the 65,536 allowed at 1:65537/);
      assert.ok(r.ms < 1000, `took ${r.ms} ms`);
      refused(`SELECT a\nFROM ${F}\nWHERE a = '${'x'.repeat(MAX_RULE_LENGTH)}'`, /more than the 65,536 allowed/, 3, MAX_RULE_LENGTH - (9 + 5 + F.length + 1) + 1);
      // 100,000 concat() arguments: refused by length, quickly.
      const c = timed(() => compileRule(`SELECT concat(${Array(100_000).fill("'a'").join(',')}) AS x FROM ${F}`));
      assert.ok(c.error instanceof SqlError && c.ms < 1000, `${String(c.error)} in ${c.ms} ms`);
    });

    it('compiles a rule of exactly the maximum length, made of quoted tokens, in linear time', function () {
      const head = `SELECT a FROM ${F} WHERE a IN (`;
      const items: string[] = [];
      let len = head.length + 1;
      for (let i = 0; len + 9 <= MAX_RULE_LENGTH; i++) { const s = `'s${String(i).padStart(5, '0')}'`; items.push(s); len += s.length + 1; }
      let sql = `${head}${items.join(',')})`;
      sql = sql.replace('WHERE', `${' '.repeat(MAX_RULE_LENGTH - sql.length)}WHERE`);
      assert.equal(sql.length, MAX_RULE_LENGTH);
      const r = timed(() => compileRule(sql));
      assert.ok(r.value, String(r.error));
      assert.ok(r.ms < 1000, `took ${r.ms} ms`);
      assert.equal(r.value.evaluate({ topic: CUSTOM_TOPIC, payload: { a: 's00042' } }).outcome, 'output');
    });

    it('reports positions after multi-line strings correctly', function () {
      refused(`SELECT 'a\nbc' AS x,\n  'd\ne' AS y, @ FROM ${F}`, /Unexpected character '@'/, 4, 10);
      refused(`SELECT a FROM ${F} WHERE a = 'never\nclosed`, /Unterminated string constant/, 1, `SELECT a FROM ${F} WHERE a = `.length + 1);
    });

    it('quotes long names and values in error messages only in part', function () {
      const e = refused(`SELECT ${'f'.repeat(50_000)}() AS x FROM ${F}`, /Unknown function 'f{40}… \(50,000 characters\)'/, 1, 8);
      assert.ok(e.message.length < 200);
      const n = refused(`SELECT 'x' AS a FROM ${F} WHERE '${'y'.repeat(50_000)}' 'z'`, /found string 'z'/);
      assert.ok(n.message.length < 200);
      assert.ok(refused(`SELECT ${'9'.repeat(50_000)}x AS a FROM ${F}`, /Malformed number/).message.length < 300);
    });
  });
});
