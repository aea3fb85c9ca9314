import assert from 'node:assert/strict';
import { compileRule } from '../../../lib/sql';
import { CUSTOM_FILTER as F, out, run, value } from './helpers';

describe('sql engine: FROM topic matching', () => {
  const matches = (filter: string, topic: string) => compileRule(`SELECT a FROM ${filter}`).matchesTopic(topic);

  it('+ matches exactly one level, # this level and everything below', () => {
    assert.equal(matches('"/pk/+/user/update"', '/pk/dev1/user/update'), true);
    assert.equal(matches('"/pk/+/user/update"', '/pk/dev1/user/update/x'), false);
    assert.equal(matches('"/pk/+/user/update"', '/pk/user/update'), false);
    assert.equal(matches('"/pk/+/user/update"', '/other/dev1/user/update'), false);
    assert.equal(matches('"/pk/dev/user/#"', '/pk/dev/user/a/b/c'), true);
    assert.equal(matches('"/pk/dev/user/#"', '/pk/dev/user'), true);
    assert.equal(matches('"/pk/dev/user/#"', '/pk/dev/userx'), false);
    assert.equal(matches('"/pk/${dn}/user/+/error"'.replace('${dn}', '+'), '/pk/d/user/x/error'), true);
  });

  it('accepts quoted, unquoted and single-quoted filters alike', () => {
    for (const f of ['"/pk/+/user/a"', '/pk/+/user/a', "'/pk/+/user/a'"]) {
      assert.equal(matches(f, '/pk/d/user/a'), true, f);
      assert.equal(matches(f, '/pk/d/user/b'), false, f);
    }
  });

  it('reports a non-matching topic as no-match', () => {
    const r = compileRule(`SELECT a FROM ${F}`).evaluate({ topic: '/other/d/user/update', payload: { a: 1 } });
    assert.equal(r.outcome, 'no-match');
    assert.equal(r.output, undefined);
  });

  it('exposes the filter as written, without quotes', () => {
    assert.equal(compileRule('SELECT a FROM "/pk/+/user/a"').topicFilter, '/pk/+/user/a');
  });
});

describe('sql engine: paths and quotes', () => {
  const doc = { a: [{ v: 0 }, { v: 1 }, { v: 2 }] };

  it('follows the documented array examples (0-based, $. optional, leading . wraps)', () => {
    assert.deepEqual(value('"a[0]"', doc), { v: 0 });
    assert.deepEqual(value('"$.a[0]"', doc), { v: 0 });
    assert.deepEqual(value('".a[0]"', doc), [{ v: 0 }]);
    assert.equal(value('"a[1].v"', doc), 1);
    assert.equal(value('"$.a[1].v"', doc), 1);
    assert.deepEqual(value('".a[1].v"', doc), [1]);
  });

  it('accepts unquoted index paths (§8.2)', () => {
    assert.equal(value('a[2].v', doc), 2);
    assert.equal(value('x.b.c[1].d', { x: { b: { c: [{}, { d: 'deep' }] } } }), 'deep');
  });

  it("'single' is a constant, \"double\" and bare are field paths", () => {
    assert.deepEqual(out(`SELECT "a" a1, 'a' a2, a a3 FROM ${F}`, { a: 5 }), { a1: 5, a2: 'a', a3: 5 });
    assert.deepEqual(out(`SELECT 'a.key2' t, a.key2 p FROM ${F}`, { a: { key2: 7 } }), { t: 'a.key2', p: 7 });
  });

  it('omits missing fields and keeps JSON null', () => {
    assert.deepEqual(out(`SELECT a, b, c.d, "e[3]" FROM ${F}`, { a: null, c: {}, e: [1] }), { a: null });
  });

  it('names output keys by alias, else the last path segment, else the function name', () => {
    assert.deepEqual(
      out(`SELECT items.Temp.value, items.Temp.time AS t, deviceName() FROM ${F}`, { items: { Temp: { value: 3, time: 9 } } }),
      { value: 3, t: 9, deviceName: 'dev01' },
    );
  });

  it('does not read inherited object properties', () => {
    assert.deepEqual(out(`SELECT constructor, toString, a.length AS l, "__proto__" FROM ${F}`, { a: [1, 2] }), {});
  });

  it('field names are case-sensitive', () => {
    assert.deepEqual(out(`SELECT temp, Temp FROM ${F}`, { Temp: 1 }), { Temp: 1 });
  });
});

describe('sql engine: SELECT *', () => {
  it('merges the payload with other items; later keys win', () => {
    assert.deepEqual(out(`SELECT *, deviceName() as deviceName FROM ${F}`, { t: 1 }), { t: 1, deviceName: 'dev01' });
    assert.deepEqual(out(`SELECT 'x' AS t, * FROM ${F}`, { t: 1, u: 2 }), { t: 1, u: 2 });
    assert.deepEqual(out(`SELECT *, 'x' AS t FROM ${F}`, { t: 1, u: 2 }), { t: 'x', u: 2 });
  });

  it('returns a copy, not the caller object', () => {
    const payload = { a: 1 };
    const o = out(`SELECT * FROM ${F}`, payload);
    assert.deepEqual(o, payload);
    assert.notEqual(o, payload);
  });

  it('passes the raw bytes through in a BINARY rule as a Buffer', () => {
    const bytes = Buffer.from([0, 1, 0xfe, 0xff]);
    const r = compileRule(`SELECT * FROM ${F}`, { dataType: 'BINARY' }).evaluate({ topic: '/a1B2c3D4e5F/dev01/user/update', payload: bytes });
    assert.equal(r.outcome, 'output');
    assert.ok(Buffer.isBuffer(r.output));
    assert.deepEqual([...(r.output as Buffer)], [0, 1, 0xfe, 0xff]);
  });

  it('BINARY rules evaluate functions and WHERE on functions', () => {
    const rule = compileRule(`SELECT to_hex(*) AS h, to_base64(*) AS b, deviceName() AS d FROM ${F} WHERE deviceName() = 'dev01'`, { dataType: 'BINARY' });
    const r = rule.evaluate({ topic: '/a1B2c3D4e5F/dev01/user/update', payload: Buffer.from('hi') });
    assert.deepEqual(r.output, { h: '6869', b: 'aGk=', d: 'dev01' });
    assert.equal(rule.evaluate({ topic: '/a1B2c3D4e5F/dev02/user/update', payload: Buffer.from('hi') }).outcome, 'filtered');
  });
});

describe('sql engine: WHERE semantics', () => {
  const where = (cond: string, payload: unknown) => run(`SELECT 1 AS one FROM ${F} WHERE ${cond}`, payload).outcome;

  it('compares numbers by value and coerces numeric strings against numbers', () => {
    assert.equal(where('t > 38', { t: '39' }), 'output');
    assert.equal(where('t = 1', { t: 1.0 }), 'output');
    assert.equal(where("t = '39'", { t: 39 }), 'output');
    assert.equal(where('t > 38', { t: 'warm' }), 'filtered');
    assert.equal(where('t >= 39 AND t <= 39 AND t < 40 AND t <> 38', { t: 39 }), 'output');
  });

  it('strings compare case-sensitively', () => {
    assert.equal(where("color = 'red'", { color: 'red' }), 'output');
    assert.equal(where("color = 'red'", { color: 'Red' }), 'filtered');
  });

  it('a comparison with a missing field is never true (not even <>)', () => {
    assert.equal(where('t > 1', {}), 'filtered');
    assert.equal(where('t <> 1', {}), 'filtered');
    assert.equal(where('a = b', {}), 'filtered');
    assert.equal(where('NOT (t = 1)', {}), 'filtered');
  });

  it('AND / OR / NOT / parentheses', () => {
    const p = { color: 'red', siren: 'off', isTest: true };
    assert.equal(where("color = 'red' AND (siren = 'on' OR isTest)", p), 'output');
    assert.equal(where("color = 'red' AND siren = 'on'", p), 'filtered');
    assert.equal(where("NOT siren = 'on'", p), 'output');
    assert.equal(where("color = 'blue' OR missing = 1", p), 'filtered');
    assert.equal(where("missing = 1 OR color = 'red'", p), 'output');
  });

  it('a boolean field is a condition: only true passes', () => {
    assert.equal(where('ok', { ok: true }), 'output');
    assert.equal(where('ok', { ok: false }), 'filtered');
    assert.equal(where('ok', { ok: 'true' }), 'filtered');
    assert.equal(where('ok', { ok: 1 }), 'filtered');
    assert.equal(where('ok = true', { ok: true }), 'output');
  });

  it('!= is the same as <>', () => {
    assert.equal(where('t != 1', { t: 2 }), 'output');
    assert.equal(where('t != 1', { t: 1 }), 'filtered');
  });

  it('IS NULL / IS NOT NULL (missing counts as null)', () => {
    assert.equal(where('a IS NULL', { a: null }), 'output');
    assert.equal(where('a IS NULL', {}), 'output');
    assert.equal(where('a IS NULL', { a: 0 }), 'filtered');
    assert.equal(where('a IS NOT NULL', { a: 0 }), 'output');
    assert.equal(where('a IS NOT NULL', { a: null }), 'filtered');
  });

  it('IN tests a list of constants with the same equality as =', () => {
    assert.equal(where("c IN ('red', 'blue')", { c: 'blue' }), 'output');
    assert.equal(where("c IN ('red', 'blue')", { c: 'green' }), 'filtered');
    assert.equal(where('n IN (1, -2, 3.5)', { n: -2 }), 'output');
    assert.equal(where('n IN (1, 2)', { n: '2' }), 'output');
    assert.equal(where('n IN (1, 2)', {}), 'filtered');
  });

  it('LIKE matches the whole value, % only, case-sensitive', () => {
    const like = (v: unknown, pat: string) => where(`s LIKE '${pat}'`, { s: v });
    assert.equal(like('xabc', '%abc'), 'output');
    assert.equal(like('abcx', '%abc'), 'filtered');
    assert.equal(like('abc', 'abc'), 'output');
    assert.equal(like('abcd', 'abc'), 'filtered');
    assert.equal(like('a_c', 'a_c'), 'output');
    assert.equal(like('abc', 'a_c'), 'filtered');
    assert.equal(like('ABC', 'abc'), 'filtered');
    assert.equal(like('start-mid-end', 'start%mid%end'), 'output');
    assert.equal(like('start-end', 'start%mid%end'), 'filtered');
    assert.equal(like('aXa', 'a%a%a'), 'filtered');
    assert.equal(like('aXaYa', 'a%a%a'), 'output');
    assert.equal(like('anything', '%'), 'output');
    assert.equal(like(123, '12%'), 'output');
    assert.equal(where("s NOT LIKE '%def%'", { s: 'abcdefg' }), 'filtered');
    assert.equal(where("s NOT LIKE '%def%'", { s: 'abc' }), 'output');
    assert.equal(where("s NOT LIKE '%def%'", {}), 'filtered');
  });

  it('falls back to a SELECT alias for an identifier missing from the payload (§1.4)', () => {
    const sql = `SELECT items.Temperature.value as Temperature FROM ${F} WHERE Temperature > 35`;
    assert.deepEqual(run(sql, { items: { Temperature: { value: 36 } } }).output, { Temperature: 36 });
    assert.equal(run(sql, { items: { Temperature: { value: 30 } } }).outcome, 'filtered');
    // the payload wins when it has the field
    assert.equal(run(sql, { Temperature: 10, items: { Temperature: { value: 36 } } }).outcome, 'filtered');
  });

  it('WHERE and SELECT agree on a non-deterministic aliased value', () => {
    for (let i = 0; i < 20; i++) {
      const r = run(`SELECT rand() AS r FROM ${F} WHERE r < 0.5`, {});
      if (r.outcome === 'output') assert.ok((r.output as { r: number }).r < 0.5);
    }
  });

  it('says why a message was filtered', () => {
    assert.equal(run(`SELECT a FROM ${F} WHERE a = 1`, { a: 2 }).reason, 'WHERE condition is false');
    assert.match(run(`SELECT a FROM ${F} WHERE a = 1`, {}).reason ?? '', /missing or has the wrong type/);
  });
});

describe('sql engine: arithmetic and CASE', () => {
  it('has standard precedence and float division', () => {
    assert.equal(value('5 / 2'), 2.5);
    assert.equal(value('1 + 2 * 3'), 7);
    assert.equal(value('(1 + 2) * 3'), 9);
    assert.equal(value('10 - 4 - 3'), 3);
    assert.equal(value('7 % 3'), 1);
    assert.equal(value('-1 + 1'), 0);
    assert.equal(value('t * 2', { t: '4' }), 8);
    assert.equal(value('-t', { t: 4 }), -4);
  });

  it('yields undefined (key omitted) for non-numbers and division by zero', () => {
    assert.equal(value("t + 1", { t: 'x' }), undefined);
    assert.equal(value('1 / 0'), undefined);
    assert.equal(value('t + 1', {}), undefined);
  });

  it('simple CASE', () => {
    const c = (x: unknown) => value('CASE x WHEN 1 THEN 2 WHEN 2 THEN 3 ELSE 4 END', { x });
    assert.deepEqual([c(1), c(2), c(3)], [2, 3, 4]);
    assert.equal(value("CASE c WHEN 'red' THEN 'R' END", { c: 'blue' }), undefined);
  });

  it('searched CASE (extension)', () => {
    const c = (x: number) => value('CASE WHEN x < 0 THEN 0 WHEN x > 7 THEN 7 ELSE x END', { x });
    assert.deepEqual([c(1), c(0), c(-1), c(7), c(8)], [1, 0, 0, 7, 7]);
  });

  it('comparison and boolean values can be selected', () => {
    assert.equal(value('t > 1', { t: 2 }), true);
    assert.equal(value('true'), true);
    assert.equal(value('false'), false);
  });
});

describe('sql engine: payload handling', () => {
  const sql = `SELECT a FROM ${F}`;

  it('accepts a Buffer, a string or an already-parsed object', () => {
    assert.deepEqual(run(sql, Buffer.from('{"a":1}')).output, { a: 1 });
    assert.deepEqual(run(sql, '{"a":1}').output, { a: 1 });
    assert.deepEqual(run(sql, new Uint8Array(Buffer.from('\ufeff{"a":1}'))).output, { a: 1 });
    assert.deepEqual(run(sql, { a: 1 }).output, { a: 1 });
  });

  it('drops non-JSON and non-object JSON with a reason, never throws', () => {
    const bad = run(sql, Buffer.from('not json'));
    assert.equal(bad.outcome, 'dropped');
    assert.match(bad.reason ?? '', /not valid JSON/);
    for (const p of ['[1,2]', '42', '"s"', 'true', 'null', [1], 3, null]) {
      const r = run(sql, p);
      assert.equal(r.outcome, 'dropped', JSON.stringify(p));
      assert.match(r.reason ?? '', /not a JSON object/);
    }
    assert.equal(run(sql, undefined).outcome, 'dropped');
    const rule = compileRule(sql);
    assert.equal(rule.evaluate(null as never).outcome, 'dropped');
    assert.equal(rule.evaluate({} as never).outcome, 'no-match');
  });

  it('drops a message with an unknown time zone', () => {
    const r = run(sql, { a: 1 }, undefined, { timezone: 'Nowhere/Land' });
    assert.equal(r.outcome, 'dropped');
    assert.match(r.reason ?? '', /Unknown timezone 'Nowhere\/Land'/);
  });

  it('a rule can be evaluated many times with different messages', () => {
    const rule = compileRule(`SELECT a, deviceName() AS d FROM ${F} WHERE a > 1`);
    const results = [1, 2, 3].map((a) => rule.evaluate({ topic: `/a1B2c3D4e5F/d${a}/user/update`, payload: { a } }));
    assert.deepEqual(results.map((r) => r.outcome), ['filtered', 'output', 'output']);
    assert.deepEqual(results.map((r) => r.output), [undefined, { a: 2, d: 'd2' }, { a: 3, d: 'd3' }]);
  });
});
