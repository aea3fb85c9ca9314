// BINARY rules (spec §1.2, §1.3, §7.9, §8.12) and bad data on JSON rules (§1.2, §8.4, §8.13).
import assert from 'node:assert/strict';
import { FROM, PK, DN, TOPIC, PROP_FROM, PROP_TOPIC, compileRule, refuses, accepts, out, run, plain } from './helpers';

const BINARY = { dataType: 'BINARY' as const };
const BIN_FROM = `"/${PK}/+/user/bin"`;
const BIN_TOPIC = `/${PK}/${DN}/user/bin`;

describe('conformance: BINARY rules', () => {
  const bytes = Buffer.from([0x00, 0x01, 0x02, 0xff, 0x7b, 0x80, 0x0a]);

  it('SELECT * returns a Buffer identical to the input bytes (§8.12)', () => {
    const rule = compileRule(`SELECT * FROM ${BIN_FROM}`, BINARY);
    assert.equal(rule.dataType, 'BINARY');
    const r = rule.evaluate({ topic: BIN_TOPIC, payload: bytes });
    assert.equal(r.outcome, 'output');
    assert.ok(Buffer.isBuffer(r.output), 'output is a Buffer');
    assert.ok(bytes.equals(r.output as Buffer), `bytes unchanged: ${(r.output as Buffer).toString('hex')}`);
  });
  it('SELECT * does not parse JSON-looking bytes', () => {
    const json = Buffer.from('{"a":1}');
    const r = compileRule(`SELECT * FROM ${BIN_FROM}`, BINARY).evaluate({ topic: BIN_TOPIC, payload: json });
    assert.ok(Buffer.isBuffer(r.output) && json.equals(r.output));
  });
  it('SELECT * passes bytes that are not valid UTF-8 or JSON', () => {
    const junk = Buffer.from([0xc3, 0x28, 0xa0, 0xa1]);
    const r = compileRule(`SELECT * FROM ${BIN_FROM}`, BINARY).evaluate({ topic: BIN_TOPIC, payload: junk });
    assert.equal(r.outcome, 'output');
    assert.ok(Buffer.isBuffer(r.output) && junk.equals(r.output));
  });
  it('to_base64(*), to_hex(*) and deviceName() (§1.3)', () => {
    const r = compileRule(`SELECT to_base64(*) AS b, to_hex(*) AS h, deviceName() AS d FROM ${BIN_FROM}`, BINARY).evaluate({
      topic: BIN_TOPIC,
      payload: bytes,
    });
    assert.equal(r.outcome, 'output');
    assert.deepEqual(plain(r.output), { b: bytes.toString('base64'), h: '000102ff7b800a', d: DN });
  });
  it('WHERE with functions and constants filters', () => {
    const rule = compileRule(`SELECT * FROM ${BIN_FROM} WHERE deviceName() = '${DN}'`, BINARY);
    assert.equal(rule.evaluate({ topic: BIN_TOPIC, payload: bytes }).outcome, 'output');
    assert.equal(rule.evaluate({ topic: `/${PK}/other/user/bin`, payload: bytes }).outcome, 'filtered');
  });
  it('WHERE may use any function, e.g. topic(2) (§1.4: functions and constants)', () => {
    const rule = compileRule(`SELECT to_base64(*) AS b FROM ${BIN_FROM} WHERE topic(2) = '${DN}'`, BINARY);
    assert.deepEqual(plain(rule.evaluate({ topic: BIN_TOPIC, payload: bytes }).output), { b: bytes.toString('base64') });
    assert.equal(rule.evaluate({ topic: `/${PK}/zz/user/bin`, payload: bytes }).outcome, 'filtered');
  });
  it('# on a custom topic works for binary rules', () => {
    const r = compileRule(`SELECT * FROM "/${PK}/+/user/#"`, BINARY).evaluate({ topic: `/${PK}/${DN}/user/a/b`, payload: bytes });
    assert.ok(Buffer.isBuffer(r.output) && bytes.equals(r.output));
  });
  it('a non-matching topic is no-match', () => {
    assert.equal(compileRule(`SELECT * FROM ${BIN_FROM}`, BINARY).evaluate({ topic: TOPIC, payload: bytes }).outcome, 'no-match');
  });

  describe('refusals', () => {
    it('* followed by a function is refused', () => {
      const sql = `SELECT *, deviceName() AS d FROM ${BIN_FROM}`;
      refuses(sql, [[','], ['deviceName']], undefined, BINARY);
    });
    it('a payload field in SELECT is refused', () => refuses(`SELECT temperature FROM ${BIN_FROM}`, [['temperature']], undefined, BINARY));
    it('a payload path in SELECT is refused', () => refuses(`SELECT to_hex(*) AS h, "a[0]" AS x FROM ${BIN_FROM}`, [['"a[0]"']], undefined, BINARY));
    it('a payload field in WHERE is refused', () => {
      refuses(`SELECT * FROM ${BIN_FROM} WHERE temperature > 1`, [['temperature']], undefined, BINARY);
    });
    it('a /sys topic is refused', () => {
      const topic = `"/sys/${PK}/+/thing/event/property/post"`;
      refuses(`SELECT * FROM ${topic}`, [[topic]], undefined, BINARY);
    });
    it('the same SQL is fine as a JSON rule', () => {
      accepts(`SELECT *, deviceName() AS d FROM ${BIN_FROM}`);
      accepts(`SELECT * FROM "/sys/${PK}/+/thing/event/property/post"`);
    });
  });
});

describe('conformance: bad data never throws (§8.4, §8.13)', () => {
  const sql = `SELECT * FROM ${FROM} WHERE a > 0`;
  const payloads: Array<[string, unknown]> = [
    ['bytes that are not JSON', Buffer.from('not json')],
    ['text that is not JSON', 'not json'],
    ['truncated JSON (§5.1 #21)', '{"x":[0,1,2,3,}'],
    ['an empty Buffer', Buffer.alloc(0)],
    ['an empty string', ''],
    ['a JSON array text', '[1,2]'],
    ['a JSON number text', '42'],
    ['a JSON string text', '"str"'],
    ['a JSON boolean text', 'true'],
    ['a JSON null text', 'null'],
    ['a JSON array as bytes', Buffer.from('[{"a":1}]')],
    ['a parsed array', [{ a: 1 }]],
    ['parsed null', null],
    ['a parsed number', 42],
  ];
  for (const [what, payload] of payloads) {
    it(`${what} → dropped with a reason`, () => {
      let r;
      assert.doesNotThrow(() => {
        r = compileRule(sql).evaluate({ topic: TOPIC, payload });
      });
      const result = r as unknown as { outcome: string; reason?: string; output?: unknown };
      assert.equal(result.outcome, 'dropped');
      assert.equal(typeof result.reason, 'string');
      assert.ok((result.reason as string).length > 0, 'a non-empty reason');
      assert.equal(result.output, undefined);
    });
  }
  it('garbage on a /sys property topic → dropped', () => {
    const r = run(`SELECT * FROM ${PROP_FROM}`, 'garbage', { topic: PROP_TOPIC });
    assert.equal(r.outcome, 'dropped');
    assert.ok(r.reason);
  });
  it('a dropped message does not disturb the next one', () => {
    const rule = compileRule(`SELECT a FROM ${FROM}`);
    assert.equal(rule.evaluate({ topic: TOPIC, payload: '{' }).outcome, 'dropped');
    assert.deepEqual(plain(rule.evaluate({ topic: TOPIC, payload: '{"a":2}' }).output), { a: 2 });
  });

  describe('data-driven type errors leave only that key out', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['abs(s)', { s: 'abc' }],
      ['log(s)', { s: 'abc' }],
      ['power(s, 2)', { s: { x: 1 } }],
      ['s * 2', { s: 'abc' }],
      ['s - 1', { s: { x: 1 } }],
      ['substring(s, 1)', { s: { x: 1 } }],
      ['substring(s, 1)', { s: [1, 2] }],
      ["replace(s, 'a', 'b')", { s: { x: 1 } }],
      ["endswith(s, 'a')", { s: { x: 1 } }],
      ['lower(s)', { s: [1] }],
      ["crypto(s, 'MD5')", {}],
    ];
    for (const [expr, payload] of cases) {
      it(`${expr} on ${JSON.stringify(payload)}`, () => {
        const o = out(`SELECT ${expr} AS bad, 1 AS good FROM ${FROM}`, payload);
        assert.deepEqual(o, { good: 1 });
      });
    }
  });
});
