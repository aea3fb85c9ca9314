// Edge cases that follow directly from the spec's decisions (cited per case), plus a seeded
// "evaluate never throws" sweep over odd payload values (§8.13).
import assert from 'node:assert/strict';
import { FROM, PK, DN, TOPIC, PROP_FROM, PROP_TOPIC, compileRule, out, value, omitted, where, run, plain } from './helpers';

describe('conformance: edge cases', () => {
  describe('LIKE: % is any run of characters (§1.5)', () => {
    it('% spans a newline', () => assert.equal(where("s like 'a%b'", { s: 'a\nb' }), 'output'));
    it('% spans non-ASCII text', () => assert.equal(where("s like '%世界'", { s: '你好世界' }), 'output'));
    it("'%%' matches anything", () => assert.equal(where("s like '%%'", { s: 'x' }), 'output'));
    it("'' matches only the empty string", () => {
      assert.equal(where("s like ''", { s: '' }), 'output');
      assert.equal(where("s like ''", { s: 'x' }), 'filtered');
    });
    it('brackets, carets, dollars and backslashes are literal', () => {
      assert.equal(where("s like '[a]^$%'", { s: '[a]^$x' }), 'output');
      assert.equal(where("s like 'a*'", { s: 'aaa' }), 'filtered');
      assert.equal(where("s like 'a+'", { s: 'a+' }), 'output');
    });
  });

  describe('numeric-string coercion in ordered comparisons (§1.5)', () => {
    const cases: Array<[string, Record<string, unknown>, 'output' | 'filtered']> = [
      ['s >= 39', { s: '39' }, 'output'],
      ['s < 40', { s: '39.5' }, 'output'],
      ['s <= -1', { s: '-2' }, 'output'],
      ['38 < s', { s: '39' }, 'output'],
      ['s > 38', { s: 'abc' }, 'filtered'],
      ["'39' > 38", {}, 'output'],
    ];
    for (const [cond, payload, outcome] of cases) {
      it(`WHERE ${cond} on ${JSON.stringify(payload)} → ${outcome}`, () => assert.equal(where(cond, payload), outcome));
    }
  });

  describe('paths', () => {
    it('a leading . wraps a plain field too: ".a" → [5] (§1.3)', () => {
      assert.deepEqual(out(`SELECT ".a" AS r FROM ${FROM}`, { a: 5 }), { r: [5] });
    });
    it('"$.a" is the same as a', () => assert.deepEqual(out(`SELECT "$.a" AS r FROM ${FROM}`, { a: { b: 1 } }), { r: { b: 1 } }));
    it('a field holding JSON null inside an object stays null', () => {
      assert.deepEqual(out(`SELECT a.b AS r FROM ${FROM}`, { a: { b: null } }), { r: null });
    });
    it('a path through null leaves the key out', () => {
      assert.deepEqual(out(`SELECT a.b.c AS r FROM ${FROM}`, { a: { b: null } }), {});
    });
  });

  describe('CASE (§8.5)', () => {
    it('searched CASE without ELSE and no true WHEN leaves the key out', () => {
      assert.ok(omitted("CASE WHEN x > 10 THEN 'hot' END", { x: 1 }));
    });
    it('searched CASE on a missing field falls to ELSE', () => {
      assert.equal(value("CASE WHEN x > 10 THEN 'hot' ELSE 'n/a' END", {}), 'n/a');
    });
    it('a CASE whose THEN is a missing field leaves the key out', () => assert.ok(omitted('CASE a WHEN 1 THEN b END', { a: 1 })));
  });

  describe('topic(n) on other topic classes (§2 #28)', () => {
    it('topic(2) on a /sys topic is the product key', () => {
      assert.deepEqual(out(`SELECT topic(2) AS pk, topic(3) AS dn FROM ${PROP_FROM}`, { items: {} }, { topic: PROP_TOPIC }), { pk: PK, dn: DN });
    });
    it('topic() on a /sys topic is the full topic', () => {
      assert.deepEqual(out(`SELECT topic() AS t FROM ${PROP_FROM}`, { items: {} }, { topic: PROP_TOPIC }), { t: PROP_TOPIC });
    });
  });

  describe('payload(charset) labels (§8.9)', () => {
    const bytes = Buffer.concat([Buffer.from('{"c":"'), Buffer.from([0xba, 0xbc, 0xd6, 0xdd]), Buffer.from('"}')]);
    it("payload('GBK') — charset labels are case-insensitive like TextDecoder's", () => {
      assert.equal(value("payload('GBK')", bytes), '{"c":"杭州"}');
    });
    it("payload('gb18030') decodes the same GBK bytes", () => assert.equal(value("payload('gb18030')", bytes), '{"c":"杭州"}'));
    it("payload('UTF-8')", () => assert.equal(value("payload('UTF-8')", Buffer.from('{"c":"é"}')), '{"c":"é"}'));
  });

  describe('timestamp pattern details (§3.2, Java SimpleDateFormat)', () => {
    const doc = 1543373798943;
    const fmt = (pattern: string) => out(`SELECT timestamp('${pattern}') AS v FROM ${FROM}`, {}, { now: doc }).v;
    it("'' inside a pattern is one literal quote", () => assert.equal(fmt("HH\\'\\'mm"), "10'56"));
    it('quoted text may hold pattern letters', () => assert.equal(fmt("\\'at\\' HH"), 'at 10'));
    it('punctuation passes through', () => assert.equal(fmt('dd/MM/yyyy, HH:mm'), '28/11/2018, 10:56'));
    it('timestamp(fmt) in WHERE', () => {
      assert.equal(run(`SELECT * FROM ${FROM} WHERE timestamp('yyyy') = '2018'`, { a: 1 }, { now: doc }).outcome, 'output');
    });
  });

  describe('the clock of TSL parsing (§8.3)', () => {
    it('now given as a Date gives gmtCreate in epoch ms', () => {
      const raw = { id: '1', version: '1.0', params: { A: 1 }, method: 'thing.event.property.post' };
      const o = out(`SELECT gmtCreate, items.A.time AS t FROM ${PROP_FROM}`, raw, { topic: PROP_TOPIC, now: new Date(1540483200000) });
      assert.deepEqual(o, { gmtCreate: 1540483200000, t: 1540483200000 });
    });
    it('params that is not an object → the payload passes unchanged', () => {
      const p = { id: '1', method: 'thing.event.property.post', params: [1, 2] };
      assert.deepEqual(out(`SELECT * FROM ${PROP_FROM}`, p, { topic: PROP_TOPIC }), p);
    });
    it('method that is not a string → the payload passes unchanged', () => {
      const p = { id: '1', method: 7, params: { A: 1 } };
      assert.deepEqual(out(`SELECT * FROM ${PROP_FROM}`, p, { topic: PROP_TOPIC }), p);
    });
    it('a raw post that also carries deviceName data keeps the topic device in the parsed form', () => {
      const raw = { id: '1', version: '1.0', params: { A: 1 }, method: 'thing.event.property.post' };
      const o = out(`SELECT deviceName, productKey FROM ${PROP_FROM}`, raw, { topic: `/sys/${PK}/pump-3/thing/event/property/post` });
      assert.deepEqual(o, { deviceName: 'pump-3', productKey: PK });
    });
  });

  describe('byte inputs', () => {
    it('a Uint8Array JSON payload is parsed', () => {
      assert.deepEqual(out(`SELECT a FROM ${FROM}`, new Uint8Array(Buffer.from('{"a":"u8"}'))), { a: 'u8' });
    });
    it('a binary SELECT * on a Uint8Array returns a Buffer of the same bytes (§8.12)', () => {
      const u8 = new Uint8Array([9, 8, 7, 0, 255]);
      const r = compileRule(`SELECT * FROM "/${PK}/+/user/bin"`, { dataType: 'BINARY' }).evaluate({ topic: `/${PK}/${DN}/user/bin`, payload: u8 });
      assert.equal(r.outcome, 'output');
      assert.ok(Buffer.isBuffer(r.output));
      assert.deepEqual([...(r.output as Buffer)], [9, 8, 7, 0, 255]);
    });
    it('a UTF-8 BOM-free Chinese JSON payload keeps its text', () => {
      assert.deepEqual(out(`SELECT city FROM ${FROM}`, Buffer.from('{"city":"杭州"}')), { city: '杭州' });
    });
  });

  describe('SELECT aliases in WHERE (§1.4 DECISION)', () => {
    it('a function alias', () => {
      const sql = `SELECT deviceName() AS dn FROM ${FROM} WHERE dn = '${DN}'`;
      assert.deepEqual(out(sql, { a: 1 }), { dn: DN });
      assert.equal(run(sql, { a: 1 }, { topic: `/${PK}/zz/user/update` }).outcome, 'filtered');
    });
    it('an arithmetic alias', () => {
      const sql = `SELECT t * 2 AS d FROM ${FROM} WHERE d > 10`;
      assert.deepEqual(out(sql, { t: 6 }), { d: 12 });
      assert.equal(run(sql, { t: 5 }).outcome, 'filtered');
    });
  });

  describe('* merged with thingPropertyFlatMap (§1.3, §7.4)', () => {
    it('adds the flattened keys to the parsed payload', () => {
      const parsed = { deviceName: DN, items: { Power: { value: 'On', time: 1 } } };
      assert.deepEqual(out(`SELECT *, thingPropertyFlatMap('Power') FROM ${PROP_FROM}`, parsed, { topic: PROP_TOPIC }), { ...parsed, Power: 'On' });
    });
  });

  describe('names that are not in the payload stay missing, whatever JavaScript says (§1.5)', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
      it(`SELECT "${name}" on {} leaves the key out`, () => {
        assert.deepEqual(out(`SELECT "${name}" AS v, 1 AS one FROM ${FROM}`, { a: 1 }), { one: 1 });
      });
      it(`"a.${name}" leaves the key out`, () => {
        assert.deepEqual(out(`SELECT "a.${name}" AS v, 1 AS one FROM ${FROM}`, { a: { b: 1 } }), { one: 1 });
      });
      it(`attribute('${name}') with no such tag leaves the key out`, () => {
        assert.deepEqual(out(`SELECT attribute('${name}') AS v, 1 AS one FROM ${FROM}`, {}, { tags: { site: 'x' } }), { one: 1 });
      });
    }
    it('WHERE constructor IS NULL / = is not satisfied by inherited members', () => {
      assert.equal(where("toString = 'x' OR constructor > 0", { a: 1 }), 'filtered');
    });
    it('a payload with a __proto__ key does not pollute objects', () => {
      const o = out(`SELECT * FROM ${FROM}`, '{"__proto__":{"polluted":1},"a":1}');
      assert.equal(o.a, 1);
      assert.equal((({}) as Record<string, unknown>).polluted, undefined);
    });
  });

  describe('lexical details (§1.1)', () => {
    it('every keyword in mixed case', () => {
      const sql = `Select Case x When 1 Then 'one' Else 'other' End As r, y aS yy From ${FROM} Where x Is Not Null And y Not Like 'z%' And x In (1, 2) Or Not (x = 3)`;
      assert.deepEqual(out(sql, { x: 1, y: 'a' }), { r: 'one', yy: 'a' });
    });
    it('double-quoted keywords are field paths: "from", "select", "case"', () => {
      assert.deepEqual(out(`SELECT "from" AS f, "select" AS s, "case" AS c FROM ${FROM}`, { from: 1, select: 2, case: 3 }), { f: 1, s: 2, c: 3 });
    });
    it('a double-quoted non-ASCII field name', () => assert.deepEqual(out(`SELECT "温度" AS t FROM ${FROM}`, { 温度: 21 }), { t: 21 }));
    it('identifiers with digits and underscores', () => assert.deepEqual(out(`SELECT t_1, Temp2 FROM ${FROM}`, { t_1: 1, Temp2: 2 }), { t_1: 1, Temp2: 2 }));
    it('double quotes inside a string constant are text', () => assert.equal(value("'say \"hi\"'"), 'say "hi"'));
    it('an empty string constant', () => assert.equal(value("''"), ''));
    it("an escaped quote inside a LIKE pattern", () => assert.equal(where("s like 'it\\'s%'", { s: "it's here" }), 'output'));
    it('negative numbers in an IN list', () => assert.equal(where('n IN (-1, 2)', { n: -1 }), 'output'));
    it('tabs, CRLF line ends and extra spaces between tokens', () => {
      assert.deepEqual(out(`SELECT\t a ,\r\n  b\r\nFROM   ${FROM}\r\nWHERE\ta\t=\t1`, { a: 1, b: 2 }), { a: 1, b: 2 });
    });
    it('CRLF line ends count lines for error positions', () => {
      const sql = `SELECT a\r\nFROM ${FROM}\r\nWHERE bogus(a) = 1`;
      let err: { line?: number; column?: number } = {};
      try {
        compileRule(sql);
      } catch (e) {
        err = e as { line: number; column: number };
      }
      assert.equal(err.line, 3);
      assert.equal(err.column, 7);
    });
  });

  describe('more precedence and literals', () => {
    it('arithmetic binds tighter than comparison: a + 1 > 2 * b', () => {
      assert.equal(where('a + 1 > 2 * b', { a: 2, b: 1 }), 'output');
      assert.equal(where('a + 1 > 2 * b', { a: 1, b: 1 }), 'filtered');
    });
    it('comment-like text inside a string constant is text', () => assert.equal(value("'a--b /* c */'"), 'a--b /* c */'));
    it('timestamp() with now given as a Date is epoch ms', () => assert.equal(value('timestamp()', {}, { now: new Date(1540483200000) }), 1540483200000));
  });

  describe('timezones with half hours (§8.17)', () => {
    it("Asia/Kolkata: Z → +0530", () => {
      assert.equal(out(`SELECT timestamp('HH:mm Z') AS v FROM ${FROM}`, {}, { now: 1540483200000 }, { timezone: 'Asia/Kolkata' }).v, '21:30 +0530');
    });
    it('the message timezone alone (no rule option) applies', () => {
      assert.equal(out(`SELECT timestamp('yyyy-MM-dd HH:mm') AS v FROM ${FROM}`, {}, { now: 1540483200000, timezone: 'UTC' }).v, '2018-10-25 16:00');
    });
  });

  describe('one rule, many messages: no state leaks between evaluations', () => {
    it('a rule gives the same answer for the same message every time and depends only on it', () => {
      const rule = compileRule(`SELECT t, deviceName() AS d, attribute('k') AS k FROM ${FROM} WHERE t > 1`);
      const a = rule.evaluate({ topic: TOPIC, payload: { t: 2 }, tags: { k: 'x' } });
      const b = rule.evaluate({ topic: `/${PK}/other/user/update`, payload: { t: 3 } });
      const c = rule.evaluate({ topic: TOPIC, payload: { t: 2 }, tags: { k: 'x' } });
      assert.deepEqual(plain(a.output), { t: 2, d: DN, k: 'x' });
      assert.deepEqual(plain(b.output), { t: 3, d: 'other' });
      assert.deepEqual(plain(c.output), plain(a.output));
    });
  });

  describe('evaluate never throws on odd values (§8.13)', () => {
    // A seeded generator of JSON values of every type, fed to a rule that uses every function and operator.
    let seed = 20260607;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    const atoms = [0, -1, 1.5, 1e308, -1e-308, '', 'abc', '42', '-7.5', '%', 'null', true, false, null];
    const gen = (depth: number): unknown => {
      const k = rnd();
      if (depth > 2 || k < 0.6) return pick(atoms);
      if (k < 0.8) return Array.from({ length: Math.floor(rnd() * 3) }, () => gen(depth + 1));
      return { a: gen(depth + 1), v: gen(depth + 1), items: gen(depth + 1) };
    };
    const sql = `SELECT abs(a) AS f1, asin(a) AS f2, attribute('x') AS f3, concat(a, v) AS f4, cos(a) AS f5, cosh(a) AS f6,
      crypto(a, 'SHA-256') AS f7, deviceName() AS f8, endswith(a, v) AS f9, exp(a) AS f10, floor(a) AS f11, log(a, v) AS f12,
      lower(a) AS f13, mod(a, v) AS f14, nanvl(a, v) AS f15, newuuid() AS f16, payload() AS f17, power(a, v) AS f18,
      rand() AS f19, replace(a, v, 'x') AS f20, sin(a) AS f21, sinh(a) AS f22, tan(a) AS f23, tanh(a) AS f24,
      timestamp('yyyy') AS f26, timestamp_utc() AS f27, topic(2) AS f28, upper(a) AS f29, to_base64(*) AS f30,
      messageId() AS f31, substring(a, v) AS f32, to_hex(*) AS f33, a + v AS o1, a - v AS o2, a * v AS o3, a / v AS o4, a % v AS o5,
      "a[0]" AS p1, ".a[1].v" AS p2, items.X.value AS p3, CASE a WHEN 1 THEN v ELSE a END AS c1
      FROM ${FROM}
      WHERE (a = v OR a <> v OR a < v OR a <= v OR a > v OR a >= v OR a IN (1, 'abc') OR a LIKE '%b%' OR a NOT LIKE 'x'
             OR NOT (a = 1) OR a != v OR a IS NULL OR v IS NOT NULL OR a OR v) OR true`;
    const rule = compileRule(sql);
    const flat = compileRule(`SELECT thingPropertyFlatMap() FROM ${PROP_FROM}`);
    it('300 seeded payloads, each as an object, as text and as bytes: always output, never a throw', () => {
      for (let i = 0; i < 300; i++) {
        const payload = { a: gen(0), v: gen(0), items: gen(0) };
        const what = `case ${i}: ${JSON.stringify(payload)}`;
        for (const p of [payload, JSON.stringify(payload), Buffer.from(JSON.stringify(payload))]) {
          let r;
          assert.doesNotThrow(() => {
            r = rule.evaluate({ topic: TOPIC, payload: p, now: 1540483200000 });
          }, what);
          const result = r as unknown as { outcome: string; reason?: string; output?: unknown };
          assert.equal(result.outcome, 'output', `${what}: ${result.reason ?? ''}`);
          const keys = Object.keys(plain(result.output));
          assert.ok(keys.includes('f8') && keys.includes('f16'), `${what}: data-independent functions are present`);
        }
        assert.doesNotThrow(() => flat.evaluate({ topic: PROP_TOPIC, payload }), what);
      }
    });
  });
});
