// Operators, precedence, comparison, coercion, missing/null semantics, IN, LIKE, CASE, extensions
// (spec §1.1, §1.4, §1.5, §8.1, §8.5, §8.8, §8.11).
import assert from 'node:assert/strict';
import { FROM, out, value, omitted, where, run } from './helpers';

describe('conformance: operators and conditions', () => {
  describe('arithmetic (§1.5)', () => {
    const cases: Array<[string, Record<string, unknown>, number]> = [
      ['1 + 1', {}, 2], // §5.1 #7
      ['1 - 1', {}, 0], // §5.1 #5
      ['-1 + 1', {}, 0], // §5.1 #6
      ['5 / 2', {}, 2.5], // DECISION: 2.5, not 2
      ['x / y', { x: 5, y: 2 }, 2.5],
      ['7 % 3', {}, 1],
      ['2 % 2', {}, 0], // §5.1 #9
      ['3 * 4', {}, 12],
      ['2 + 3 * 4', {}, 14],
      ['(2 + 3) * 4', {}, 20],
      ['10 - 4 - 3', {}, 3], // left-associative
      ['8 / 4 / 2', {}, 1],
      ['10 % 4 * 3', {}, 6], // * and % share a level, left to right
      ['2 * 7 % 4', {}, 2],
      ['10 - 2 * 3 + 1', {}, 5],
      ['t * 1.8 + 32', { t: 25 }, 77],
      ['a.b + a.c', { a: { b: 1.5, c: 2.25 } }, 3.75],
      ['-50 + 2.745', {}, -47.255],
    ];
    for (const [expr, payload, expected] of cases) {
      it(`${expr} → ${expected}`, () => {
        const v = value(expr, payload);
        assert.equal(typeof v, 'number');
        assert.ok(Math.abs((v as number) - expected) < 1e-9, `${String(v)} ≈ ${expected}`);
      });
    }
    it('1 = 1.0 (numbers compare by value)', () => assert.equal(where('1 = 1.0', {}), 'output'));
    it('arithmetic on a missing field leaves the key out (§1.5)', () => assert.ok(omitted('t + 1', { a: 1 })));
    it('arithmetic in WHERE', () => {
      assert.equal(where('t * 2 > 10', { t: 6 }), 'output');
      assert.equal(where('t * 2 > 10', { t: 5 }), 'filtered');
    });
  });

  describe('comparison (§1.4, §1.5)', () => {
    const cases: Array<[string, Record<string, unknown>, 'output' | 'filtered']> = [
      ['t = 30', { t: 30 }, 'output'],
      ['t = 30', { t: 31 }, 'filtered'],
      ['t <> 30', { t: 31 }, 'output'],
      ['t <> 30', { t: 30 }, 'filtered'],
      ['t < 30', { t: 29.9 }, 'output'],
      ['t < 30', { t: 30 }, 'filtered'],
      ['t <= 30', { t: 30 }, 'output'],
      ['t <= 30', { t: 30.1 }, 'filtered'],
      ['t > 30', { t: 30.1 }, 'output'],
      ['t > 30', { t: 30 }, 'filtered'],
      ['t >= 30', { t: 30 }, 'output'],
      ['t >= 30', { t: 29 }, 'filtered'],
      ['t > -5', { t: -4 }, 'output'],
      ["color = 'red'", { color: 'red' }, 'output'],
      ["color = 'red'", { color: 'Red' }, 'filtered'], // §8.8 case-sensitive
      ["color <> 'red'", { color: 'RED' }, 'output'],
      ["color = 'red' AND siren = 'on'", { color: 'red', siren: 'on' }, 'output'],
      ["color = 'red' AND siren = 'on'", { color: 'red', siren: 'off' }, 'filtered'],
      ["color = 'red' OR siren = 'on'", { color: 'blue', siren: 'on' }, 'output'],
      ["color = 'red' OR siren = 'on'", { color: 'blue', siren: 'off' }, 'filtered'],
      ['s > 38', { s: '39' }, 'output'], // numeric string coerced to number
      ['s > 38', { s: '37.5' }, 'filtered'],
      ['state.desired.color = \'green\'', { state: { desired: { color: 'green' } } }, 'output'],
      ['x = y', { x: 'a', y: 'a' }, 'output'],
      ['a = 1 OR b = 1 AND c = 1', { a: 1, b: 0, c: 0 }, 'output'], // AND binds tighter than OR
      ['(a = 1 OR b = 1) AND c = 1', { a: 1, b: 0, c: 0 }, 'filtered'],
      ['a = 2 AND b = 2 OR c = 2', { a: 0, b: 0, c: 2 }, 'output'],
    ];
    for (const [cond, payload, outcome] of cases) {
      it(`WHERE ${cond} on ${JSON.stringify(payload)} → ${outcome}`, () => assert.equal(where(cond, payload), outcome));
    }
    it('keywords are case-insensitive (§1.1)', () => {
      const sql = `select t from ${FROM} where t > 1 and t < 5 Or t = 10`;
      assert.deepEqual(out(sql, { t: 3 }), { t: 3 });
      assert.equal(run(sql, { t: 7 }).outcome, 'filtered');
    });
  });

  describe('missing fields and null (§1.5, EMQX transfers #16-17)', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['missing > 1', { a: 1 }],
      ['missing < 1', { a: 1 }],
      ['missing = 1', { a: 1 }],
      ['missing <> 1', { a: 1 }],
      ["missing = 'x'", { a: 1 }],
      ['a = b', {}], // §5.1 #16: both missing → filtered (unlike EMQX)
      ['a > b', { b: 1 }], // §5.1 #17
      ['x = 1', { x: null }],
      ['x > 0', { x: null }],
      ['missing IN (1, 2)', { a: 1 }],
      ["missing LIKE '%a%'", { a: 1 }],
      ["missing NOT LIKE '%a%'", { a: 1 }],
    ];
    for (const [cond, payload] of cases) {
      it(`WHERE ${cond} on ${JSON.stringify(payload)} → filtered`, () => assert.equal(where(cond, payload), 'filtered'));
    }
    it('a missing field in SELECT is omitted, explicit null stays null', () => {
      assert.deepEqual(out(`SELECT a, b, c FROM ${FROM}`, { a: 1, c: null }), { a: 1, c: null });
    });
    it('field names are case-sensitive (§8.7)', () => {
      assert.deepEqual(out(`SELECT temp, Temp FROM ${FROM}`, { Temp: 20 }), { Temp: 20 });
    });
  });

  describe('IN (§1.4)', () => {
    it("color IN ('red', 'green') matches a listed value", () => assert.equal(where("color IN ('red', 'green')", { color: 'green' }), 'output'));
    it("color IN ('red', 'green') filters another value", () => assert.equal(where("color IN ('red', 'green')", { color: 'blue' }), 'filtered'));
    it('numbers IN (1, 2, 3)', () => assert.equal(where('n in (1, 2, 3)', { n: 2 }), 'output'));
    it('IN with a single item', () => assert.equal(where("s IN ('x')", { s: 'x' }), 'output'));
    it('IN is case-sensitive for strings', () => assert.equal(where("s IN ('x')", { s: 'X' }), 'filtered'));
  });

  describe("LIKE / NOT LIKE — whole value, % only, case-sensitive (§1.4, §1.5, §8.8)", () => {
    const cases: Array<[string, string, 'output' | 'filtered']> = [
      ["name like '%abc'", 'xxabc', 'output'], // documented shape
      ["name like '%abc'", 'abcx', 'filtered'],
      ["name like '%abc'", 'abc', 'output'],
      ["name like 'abc%'", 'abcdef', 'output'],
      ["name like 'a%c'", 'abbbc', 'output'],
      ["name like 'a%c'", 'abbbd', 'filtered'],
      ["name like 'b'", 'abc', 'filtered'], // whole-value match
      ["name like 'abc'", 'abc', 'output'],
      ["name like '%abc'", 'xxABC', 'filtered'], // case-sensitive
      ["name like 'a_c'", 'abc', 'filtered'], // _ is a literal character
      ["name like 'a_c'", 'a_c', 'output'],
      ["name like 'a.c'", 'abc', 'filtered'], // regex characters are literal
      ["name like '(x)%'", '(x)y', 'output'],
      ["name like '%'", '', 'output'],
      ["name not like '%def%'", 'abcdefgh', 'filtered'], // documented shape
      ["name not like '%def%'", 'abcdxefgh', 'output'],
      ["name NOT LIKE 'a%'", 'ba', 'output'],
    ];
    for (const [cond, name, outcome] of cases) {
      it(`WHERE ${cond} on ${JSON.stringify(name)} → ${outcome}`, () => assert.equal(where(cond, { name }), outcome));
    }
  });

  describe('CASE (§1.1, §8.5, §8.11)', () => {
    const simple = "CASE col WHEN 1 THEN 'Y' WHEN 0 THEN 'N' ELSE 'U' END";
    it('simple CASE picks the first matching WHEN', () => assert.equal(value(simple, { col: 1 }), 'Y'));
    it('simple CASE second WHEN', () => assert.equal(value(simple, { col: 0 }), 'N'));
    it('simple CASE falls to ELSE', () => assert.equal(value(simple, { col: 7 }), 'U'));
    it('simple CASE on a missing field falls to ELSE', () => assert.equal(value(simple, {}), 'U'));
    it('simple CASE on strings', () => {
      assert.equal(value("CASE s WHEN 'on' THEN 1 WHEN 'off' THEN 0 ELSE -1 END", { s: 'off' }), 0);
    });
    for (const [x, y] of [[1, 2], [2, 3], [3, 4]]) {
      it(`CASE x WHEN 1 THEN 2 WHEN 2 THEN 3 ELSE 4 END on x=${x} → ${y} (§5.1 #12)`, () => {
        assert.deepEqual(out(`SELECT CASE x WHEN 1 THEN 2 WHEN 2 THEN 3 ELSE 4 END as y FROM ${FROM}`, { x }), { y });
      });
    }
    it('THEN may be an expression over fields', () => {
      assert.equal(value("CASE unit WHEN 'F' THEN (t - 32) / 1.8 ELSE t END", { unit: 'F', t: 212 }), 100);
    });
    it('CASE without ELSE and no matching WHEN leaves the key out (§8.5)', () => {
      assert.deepEqual(out(`SELECT CASE col WHEN 1 THEN 'Y' END AS r, col FROM ${FROM}`, { col: 2 }), { col: 2 });
    });
    it('CASE without ELSE and a matching WHEN gives the value', () => assert.equal(value("CASE col WHEN 1 THEN 'Y' END", { col: 1 }), 'Y'));
    it('CASE in WHERE', () => {
      assert.equal(where("CASE col WHEN 1 THEN 'Y' ELSE 'N' END = 'Y'", { col: 1 }), 'output');
      assert.equal(where("CASE col WHEN 1 THEN 'Y' ELSE 'N' END = 'Y'", { col: 2 }), 'filtered');
    });
    const searched = 'case when x < 0 then 0 when x > 7 then 7 else x end';
    for (const [x, y] of [[1, 1], [0, 0], [-1, 0], [7, 7], [8, 7]]) {
      it(`searched CASE clamps x=${x} → ${y} (§5.1 #11, §8.11 extension)`, () => {
        assert.deepEqual(out(`SELECT ${searched} as y FROM ${FROM}`, { x }), { y });
      });
    }
  });

  describe('booleans, NOT, !=, IS NULL (§1.1, §1.5, §8.1, §8.11)', () => {
    const cases: Array<[string, Record<string, unknown>, 'output' | 'filtered']> = [
      ['isTest', { isTest: true }, 'output'],
      ['isTest', { isTest: false }, 'filtered'],
      ['isTest', { isTest: 'true' }, 'filtered'], // anything but boolean true fails
      ['isTest', { isTest: 1 }, 'filtered'],
      ['isTest', {}, 'filtered'],
      ["color = 'red' AND (siren = 'on' OR isTest)", { color: 'red', siren: 'off', isTest: true }, 'output'], // 2018 doc
      ["color = 'red' AND (siren = 'on' OR isTest)", { color: 'red', siren: 'off', isTest: false }, 'filtered'],
      ["color = 'red' AND (siren = 'on' OR isTest)", { color: 'blue', siren: 'on', isTest: true }, 'filtered'],
      ['flag = true', { flag: true }, 'output'],
      ['flag = false', { flag: true }, 'filtered'],
      ['flag = TRUE', { flag: true }, 'output'], // any letter case
      ['flag = False', { flag: false }, 'output'],
      ['NOT (a = 1)', { a: 2 }, 'output'],
      ['NOT (a = 1)', { a: 1 }, 'filtered'],
      ['NOT isTest', { isTest: false }, 'output'],
      ['a != 1', { a: 2 }, 'output'],
      ['a != 1', { a: 1 }, 'filtered'],
      ["s != 'x'", { s: 'X' }, 'output'],
      ['x IS NULL', { x: null }, 'output'],
      ['x IS NULL', { x: 0 }, 'filtered'],
      ['x IS NOT NULL', { x: 0 }, 'output'],
      ['x IS NOT NULL', { x: null }, 'filtered'],
      ['x is not null AND x > 1', { x: 2 }, 'output'],
    ];
    for (const [cond, payload, outcome] of cases) {
      it(`WHERE ${cond} on ${JSON.stringify(payload)} → ${outcome}`, () => assert.equal(where(cond, payload), outcome));
    }
    it('true as a, false as b → booleans (§5.1 #19, §8.1)', () => {
      assert.deepEqual(out(`SELECT true as a, false as b FROM ${FROM}`, { true: 'field', false: 'field' }), { a: true, b: false });
    });
    it('a boolean field passes through SELECT', () => assert.deepEqual(out(`SELECT ok FROM ${FROM}`, { ok: false }), { ok: false }));
  });

  describe('parentheses', () => {
    it('(a OR b) AND c', () => {
      assert.equal(where('(a = 1 OR b = 1) AND c = 1', { a: 0, b: 1, c: 1 }), 'output');
    });
    it('nested parentheses in arithmetic', () => assert.equal(value('((1 + 2) * (3 + 4)) / 3'), 7));
  });
});
