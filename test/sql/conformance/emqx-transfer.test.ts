// The EMQX examples of spec §5.1 whose Alibaba form the spec gives ("Alibaba same" or an Alibaba expectation).
import assert from 'node:assert/strict';
import { FROM, PK, out, run, value } from './helpers';

describe('conformance: §5.1 EMQX examples transferred to Alibaba', () => {
  it('#1 SELECT * … WHERE cmd.info = \'tt\' → the payload', () => {
    assert.deepEqual(out(`SELECT * FROM "/${PK}/+/user/t" WHERE cmd.info = 'tt'`, { cmd: { info: 'tt' } }, { topic: `/${PK}/d/user/t` }), {
      cmd: { info: 'tt' },
    });
  });
  it('#5 select 1-1 as a → 0', () => assert.deepEqual(out(`select 1-1 as a from ${FROM}`, {}), { a: 0 }));
  it('#6 select -1 + 1 as a → 0', () => assert.deepEqual(out(`select -1 + 1 as a from ${FROM}`, {}), { a: 0 }));
  it('#7 select 1 + 1 as a → 2', () => assert.deepEqual(out(`select 1 + 1 as a from ${FROM}`, {}), { a: 2 }));
  it('#9 2 % 2 → 0 and mod(3, 2) → 1', () => {
    assert.deepEqual(out(`SELECT 2 % 2 AS a, mod(3, 2) AS b FROM ${FROM}`, {}), { a: 0, b: 1 });
  });
  for (const [x, y] of [[1, 1], [0, 0], [-1, 0], [7, 7], [8, 7]]) {
    it(`#11 searched CASE (accepted extension) x=${x} → y=${y}`, () => {
      assert.deepEqual(out(`SELECT case when x < 0 then 0 when x > 7 then 7 else x end as y FROM ${FROM}`, { x }), { y });
    });
  }
  for (const [x, y] of [[1, 2], [2, 3], [3, 4]]) {
    it(`#12 CASE x WHEN 1 THEN 2 WHEN 2 THEN 3 ELSE 4 END, x=${x} → ${y}`, () => {
      assert.deepEqual(out(`SELECT CASE x WHEN 1 THEN 2 WHEN 2 THEN 3 ELSE 4 END as y FROM ${FROM}`, { x }), { y });
    });
  }
  it('#13 "x[1].y" as b on {"x":[1,{"y":3},4]} → 3 (0-based)', () => {
    assert.deepEqual(out(`SELECT "x[1].y" as b FROM ${FROM}`, { x: [1, { y: 3 }, 4] }), { b: 3 });
  });
  it('#16 select a, b where a = b on {} → filtered (differs from EMQX)', () => {
    assert.equal(run(`SELECT a, b FROM ${FROM} WHERE a = b`, {}).outcome, 'filtered');
  });
  it('#17 select a, b where a > b with only b=1 → filtered', () => {
    assert.equal(run(`SELECT a, b FROM ${FROM} WHERE a > b`, { b: 1 }).outcome, 'filtered');
  });
  it('#19 true as a, false as b → booleans (§8.1)', () => {
    assert.deepEqual(out(`SELECT true as a, false as b FROM ${FROM}`, {}), { a: true, b: false });
  });
  it('#21 invalid JSON {"x":[0,1,2,3,} → dropped', () => {
    const r = run(`SELECT * FROM ${FROM}`, Buffer.from('{"x":[0,1,2,3,}'));
    assert.equal(r.outcome, 'dropped');
    assert.ok(r.reason);
  });
  it('#26 upper / lower', () => {
    assert.deepEqual(out(`SELECT upper('abc4') AS u, lower('0ABC') AS l FROM ${FROM}`, {}), { u: 'ABC4', l: '0abc' });
  });
  it('#27 concat', () => {
    assert.deepEqual(out(`SELECT concat('a', 'b') AS x, concat('', 'a') AS y FROM ${FROM}`, {}), { x: 'ab', y: 'a' });
  });
  it('#28 replace all occurrences', () => assert.equal(value("replace('ab c  ', ' ', '-')"), 'ab-c--'));
  it("#29 substring('abcd', 1, 3) → 'bc'", () => assert.equal(value("substring('abcd', 1, 3)"), 'bc'));
  it('#30 topic(1) skips the leading /', () => assert.equal(value('topic(1)'), PK));
  it('#34 5/2 = 2.5', () => assert.equal(value('5/2'), 2.5));
});
