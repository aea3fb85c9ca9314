// Quote rules, JSON path forms and output naming (spec §1.1, §1.3, §1.4, §8.2).
import assert from 'node:assert/strict';
import { FROM, PROP_FROM, PROP_TOPIC, PK, DN, out, run, compileRule, accepts, refuses } from './helpers';

describe('conformance: quotes, paths and output', () => {
  describe('quotes (§1.1)', () => {
    it(`select "a" a1, 'a' a2, a a3 — double quotes and bare names are fields, single quotes are text`, () => {
      assert.deepEqual(out(`select "a" a1, 'a' a2, a a3 from ${FROM}`, { a: 'field-a' }), { a1: 'field-a', a2: 'a', a3: 'field-a' });
    });
    it("'a.key2' is the text a.key2, a.key2 is a path", () => {
      assert.deepEqual(out(`SELECT 'a.key2' AS t, a.key2 AS p FROM ${FROM}`, { a: { key2: 42 } }), { t: 'a.key2', p: 42 });
    });
    it("\\' escapes a quote inside a string constant", () => {
      assert.deepEqual(out(`SELECT 'it\\'s' AS s FROM ${FROM}`, {}), { s: "it's" });
    });
    it('a string constant in WHERE', () => {
      assert.equal(run(`SELECT * FROM ${FROM} WHERE "name" = 'name'`, { name: 'name' }).outcome, 'output');
      assert.equal(run(`SELECT * FROM ${FROM} WHERE "name" = 'name'`, { name: 'other' }).outcome, 'filtered');
    });
    it('numeric constants: integers, decimals, negatives', () => {
      assert.deepEqual(out(`SELECT 2.745 AS d, -50 AS n, 7 AS i FROM ${FROM}`, {}), { d: 2.745, n: -50, i: 7 });
    });
    it('a SQL statement may span several lines', () => {
      assert.deepEqual(out(`SELECT\n  a,\n  b AS bee\nFROM ${FROM}\nWHERE a > 0`, { a: 1, b: 2 }), { a: 1, bee: 2 });
    });
  });

  describe('JSON paths — the documented table on {"a":[{"v":0},{"v":1},{"v":2}]} (§1.3)', () => {
    const payload = { a: [{ v: 0 }, { v: 1 }, { v: 2 }] };
    const cases: Array<[string, unknown]> = [
      ['"a[0]"', { v: 0 }],
      ['"$.a[0]"', { v: 0 }],
      ['".a[0]"', [{ v: 0 }]],
      ['"a[1].v"', 1],
      ['"$.a[1].v"', 1],
      ['".a[1].v"', [1]],
    ];
    for (const [path, expected] of cases) {
      it(`${path} → ${JSON.stringify(expected)}`, () => {
        assert.deepEqual(out(`SELECT ${path} AS r FROM ${FROM}`, payload), { r: expected });
      });
    }
    it('a[1].v without quotes means the same as "a[1].v" (§8.2)', () => {
      assert.deepEqual(out(`SELECT a[1].v AS r FROM ${FROM}`, payload), { r: 1 });
    });
    it('a.b.c[1].d unquoted (§8.2, §1.4 example)', () => {
      assert.deepEqual(out(`SELECT a.b.c[1].d AS r FROM ${FROM}`, { a: { b: { c: [{ d: 'x' }, { d: 'y' }] } } }), { r: 'y' });
    });
    it('"a.b.c[0].d" in WHERE', () => {
      const p = { a: { b: { c: [{ d: 5 }] } } };
      assert.equal(run(`SELECT * FROM ${FROM} WHERE "a.b.c[0].d" = 5`, p).outcome, 'output');
      assert.equal(run(`SELECT * FROM ${FROM} WHERE a.b.c[0].d = 6`, p).outcome, 'filtered');
    });
    it('"x[1].y" on {"x":[1,{"y":3},4]} → 3 (0-based, §5.1 #13)', () => {
      assert.deepEqual(out(`SELECT "x[1].y" as b FROM ${FROM}`, { x: [1, { y: 3 }, 4] }), { b: 3 });
    });
    it('an index past the end leaves the key out', () => {
      assert.deepEqual(out(`SELECT "a[5].v" AS r, "a[2].v" AS last FROM ${FROM}`, payload), { last: 2 });
    });
    it('a path through a non-object leaves the key out', () => {
      assert.deepEqual(out(`SELECT s.x AS r, n.y AS q, s FROM ${FROM}`, { s: 'text', n: 5 }), { s: 'text' });
    });
    it('$. addresses from the root for plain dotted paths too', () => {
      assert.deepEqual(out(`SELECT "$.state.desired.color" AS c FROM ${FROM}`, { state: { desired: { color: 'green' } } }), { c: 'green' });
    });
    it('a nested path returns whole objects and arrays', () => {
      assert.deepEqual(out(`SELECT state.desired AS d FROM ${FROM}`, { state: { desired: { color: 'green', list: [1, 2] } } }), {
        d: { color: 'green', list: [1, 2] },
      });
    });
  });

  describe('output naming (§1.3)', () => {
    it('alias with AS', () => assert.deepEqual(out(`SELECT t AS temperature FROM ${FROM}`, { t: 1 }), { temperature: 1 }));
    it('alias without AS', () => assert.deepEqual(out(`SELECT t temperature FROM ${FROM}`, { t: 1 }), { temperature: 1 }));
    it('lower-case as', () => assert.deepEqual(out(`SELECT t as temperature FROM ${FROM}`, { t: 1 }), { temperature: 1 }));
    it('un-aliased field keeps its name', () => assert.deepEqual(out(`SELECT t, h FROM ${FROM}`, { t: 1, h: 2, x: 3 }), { t: 1, h: 2 }));
    it('un-aliased nested path → last segment (items.X.value → value)', () => {
      const parsed = { items: { Temperature: { value: 36.6, time: 1 } } };
      assert.deepEqual(out(`SELECT items.Temperature.value FROM ${PROP_FROM}`, parsed, { topic: PROP_TOPIC }), { value: 36.6 });
    });
    it('un-aliased state.desired.color → color', () => {
      assert.deepEqual(out(`SELECT state.desired.color FROM ${FROM}`, { state: { desired: { color: 'red' } } }), { color: 'red' });
    });
    it('un-aliased "a[1].v" → v', () => {
      assert.deepEqual(out(`SELECT "a[1].v" FROM ${FROM}`, { a: [{ v: 0 }, { v: 1 }] }), { v: 1 });
    });
    it('SELECT * is the whole payload', () => {
      const p = { a: 1, b: { c: [1, 2] }, d: null };
      assert.deepEqual(out(`SELECT * FROM ${FROM}`, p), p);
    });
    it('SELECT *, deviceName() as deviceName — * merged with functions', () => {
      assert.deepEqual(out(`SELECT *, deviceName() as deviceName, topic(1) AS pk FROM ${FROM}`, { t: 20 }), { t: 20, deviceName: DN, pk: PK });
    });
    it('SELECT * does not let the rule change the caller\'s payload object', () => {
      const p = { t: 20 };
      out(`SELECT *, deviceName() as deviceName FROM ${FROM}`, p);
      assert.deepEqual(p, { t: 20 });
    });
    it('an alias in WHERE resolves when the payload has no such field (§1.4 DECISION, CreateRule sample)', () => {
      const sql = `SELECT items.Temperature.value as Temperature FROM ${PROP_FROM} WHERE Temperature>35`;
      const hot = { items: { Temperature: { value: 36, time: 1 } } };
      const cool = { items: { Temperature: { value: 30, time: 1 } } };
      assert.deepEqual(out(sql, hot, { topic: PROP_TOPIC }), { Temperature: 36 });
      assert.equal(run(sql, cool, { topic: PROP_TOPIC }).outcome, 'filtered');
    });
    it('a payload field wins over a SELECT alias of the same name in WHERE (§1.4: aliases only after failing on the payload)', () => {
      const sql = `SELECT x AS t FROM ${FROM} WHERE t > 50`;
      assert.equal(run(sql, { t: 1, x: 100 }).outcome, 'filtered');
      assert.deepEqual(out(sql, { t: 60, x: 100 }), { t: 100 });
    });
  });

  describe('SELECT item limit (§1.3: at most 50, * counts as one)', () => {
    const items = (n: number) => Array.from({ length: n }, (_, i) => `f${i + 1}`).join(', ');
    it('50 items are accepted and all appear', () => {
      const payload = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i + 1}`, i]));
      assert.equal(Object.keys(out(`SELECT ${items(50)} FROM ${FROM}`, payload)).length, 50);
    });
    it('51 items are refused at the 51st', () => {
      const sql = `SELECT ${items(51)} FROM ${FROM}`;
      refuses(sql, [['f51'], [', f51']], /50/);
    });
    it('* plus 49 items is accepted', () => accepts(`SELECT *, ${items(49)} FROM ${FROM}`));
    it('* plus 50 items is refused', () => {
      const sql = `SELECT *, ${items(50)} FROM ${FROM}`;
      refuses(sql, [['f50'], [', f50']], /50/);
    });
  });

  describe('the compiled rule object (lib/sql/types.ts contract)', () => {
    it('exposes sql, dataType and the unquoted topic filter', () => {
      const sql = `SELECT * FROM "/${PK}/+/user/update"`;
      const rule = compileRule(sql);
      assert.equal(rule.sql, sql);
      assert.equal(rule.dataType, 'JSON');
      assert.equal(rule.topicFilter, `/${PK}/+/user/update`);
      assert.equal(rule.matchesTopic(`/${PK}/x/user/update`), true);
      assert.equal(rule.matchesTopic(`/${PK}/x/user/other`), false);
    });
  });
});
