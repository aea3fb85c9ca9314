import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { compileRule, FUNCTIONS } from '../../../lib/sql';
import { md2 } from '../../../lib/sql/md2';
import { CUSTOM_FILTER as F, CUSTOM_TOPIC, out, value } from './helpers';

describe('sql engine: functions', () => {
  it('FUNCTIONS lists exactly the 33 documented functions with descriptions', () => {
    assert.equal(FUNCTIONS.length, 33);
    assert.deepEqual([...FUNCTIONS.map((f) => f.name)].sort(), [
      'abs', 'asin', 'attribute', 'concat', 'cos', 'cosh', 'crypto', 'deviceName', 'endswith', 'exp', 'floor', 'log',
      'lower', 'messageId', 'mod', 'nanvl', 'newuuid', 'payload', 'power', 'rand', 'replace', 'sin', 'sinh',
      'substring', 'tan', 'tanh', 'thingPropertyFlatMap', 'timestamp', 'timestamp_utc', 'to_base64', 'to_hex', 'topic',
      'upper',
    ]);
    for (const f of FUNCTIONS) assert.ok(f.description.length > 5 && f.signature.startsWith(f.name), f.name);
  });

  it('math functions', () => {
    assert.equal(value('abs(t)', { t: -2.5 }), 2.5);
    assert.equal(value('asin(1)'), Math.PI / 2);
    assert.equal(value('cos(0)'), 1);
    assert.equal(value('cosh(0)'), 1);
    assert.equal(value('exp(1)'), Math.E);
    assert.equal(value('floor(t)', { t: -1.5 }), -2);
    assert.equal(value('sin(0)'), 0);
    assert.equal(value('sinh(0)'), 0);
    assert.equal(value('tan(0)'), 0);
    assert.equal(value('tanh(0)'), 0);
    assert.equal(value('power(2, 10)'), 1024);
    assert.equal(value('mod(7, 3)'), 1);
    assert.equal(value('mod(t, 3) = t % 3', { t: 8 }), true);
    assert.equal(value('abs(t)', { t: '-3' }), 3);
    assert.equal(value('abs(t)', { t: 'x' }), undefined);
    assert.equal(value('asin(2)'), undefined);
  });

  it('log(n) is base 10, log(n, m) base m (§8.6)', () => {
    assert.equal(value('log(100)'), 2);
    assert.equal(value('log(8, 2)'), 3);
    assert.equal(value('log(0)'), undefined);
  });

  it('string functions', () => {
    assert.equal(value("upper('alibaba')"), 'ALIBABA');
    assert.equal(value('lower(s)', { s: '0ABC' }), '0abc');
    assert.equal(value("endswith(s, 'fix')", { s: 'suffix' }), true);
    assert.equal(value("endswith(s, 'pre')", { s: 'suffix' }), false);
    assert.equal(value("replace(s, ' ', '-')", { s: 'ab c  ' }), 'ab-c--');
    assert.equal(value("replace(s, 'a', '$&1')", { s: 'aa' }), '$&1$&1');
    assert.equal(value('upper(s)', {}), undefined);
  });

  it('concat converts each argument to text; undefined if any argument is missing (§8.10)', () => {
    assert.equal(value("concat(field, 'a')", { field: 'x' }), 'xa');
    assert.equal(value("concat('', 'a')"), 'a');
    assert.equal(value('concat(n, b, o, z)', { n: 1.5, b: true, o: { k: [1] }, z: null }), '1.5true{"k":[1]}null');
    assert.equal(value("concat(missing, 'a')", {}), undefined);
    assert.equal(value("concat('a', 'b', 'c')"), 'abc');
  });

  it('substring follows the documented examples', () => {
    const cases: [string, string][] = [
      ["'012345', 0", '012345'], ["'012345', 2", '2345'], ["'012345', 2.745", '2345'], ['123, 2', '3'],
      ["'012345', -1", '012345'], ["'012345', 1, 3", '12'], ["'012345', -50, 50", '012345'], ["'012345', 3, 1", ''],
    ];
    for (const [args, want] of cases) assert.equal(value(`substring(${args})`), want, args);
    assert.equal(value('substring(s, 1)', { s: true }), undefined);
    assert.equal(value('substring(s, 1)', { s: 1.5 }), undefined);
  });

  it('nanvl substitutes for null and for missing values', () => {
    assert.equal(value("nanvl(a, 'd')", { a: null }), 'd');
    assert.equal(value("nanvl(a, 'd')", {}), 'd');
    assert.equal(value("nanvl(a, 'd')", { a: 0 }), 0);
  });

  it('newuuid() and rand()', () => {
    const o = out(`SELECT newuuid() AS u1, newuuid() AS u2, rand() AS r FROM ${F}`, {});
    assert.match(String(o.u1), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(o.u1, o.u2);
    assert.ok(typeof o.r === 'number' && o.r >= 0 && o.r < 1);
  });

  it('crypto gives lower-case hex for every documented algorithm, MD2 included', () => {
    const text = 'hello';
    for (const [alg, node] of [['MD5', 'md5'], ['SHA1', 'sha1'], ['SHA-256', 'sha256'], ['SHA-384', 'sha384'], ['SHA-512', 'sha512']]) {
      assert.equal(value(`crypto(s, '${alg}')`, { s: text }), createHash(node).update(text).digest('hex'), alg);
    }
    assert.equal(value("crypto(s, 'MD2')", { s: 'abc' }), 'da853b0d3f88d99b30283a69e6ded6bb');
    assert.equal(value("crypto(n, 'md5')", { n: 42 }), createHash('md5').update('42').digest('hex'));
    assert.equal(value("crypto(s, 'MD5')", {}), undefined);
  });

  it('MD2 matches the RFC 1319 test suite', () => {
    const suite: [string, string][] = [
      ['', '8350e5a3e24c153df2275c9f80692773'], ['a', '32ec01ec4a6dac72c0ab96fb34c0b5d1'],
      ['message digest', 'ab4f496bfb2a530b219ff33031fe06b0'],
      ['abcdefghijklmnopqrstuvwxyz', '4e8ddff3650292ab5a4108c3aa47940b'],
      ['1234567890'.repeat(8), 'd5976f79d83d3a0dc9806c3c66f3efd8'],
    ];
    for (const [input, hex] of suite) assert.equal(md2(Buffer.from(input)).toString('hex'), hex, input);
  });

  it('deviceName() from the message, else from the topic of each topic class', () => {
    const dn = (topic: string, extra = {}) => compileRule('SELECT deviceName() AS d FROM "#"'.replace('"#"', `"${topic}"`))
      .evaluate({ topic, payload: {}, ...extra }).output;
    assert.deepEqual(dn('/pk/dev1/user/x'), { d: 'dev1' });
    assert.deepEqual(dn('/sys/pk/dev2/thing/event/property/post'), { d: 'dev2' });
    assert.deepEqual(dn('/as/mqtt/status/pk/dev3'), { d: 'dev3' });
    assert.deepEqual(dn('/pk/dev1/user/x', { deviceName: 'given' }), { d: 'given' });
  });

  it('topic() and topic(n), 1-based after the leading /; beyond the levels → omitted (§8.14)', () => {
    const o = out(`SELECT topic() AS t, topic(1) AS t1, topic(2) AS t2, topic(4) AS t4, topic(5) AS t5 FROM ${F}`, {});
    assert.deepEqual(o, { t: CUSTOM_TOPIC, t1: 'a1B2c3D4e5F', t2: 'dev01', t4: 'update' });
    const r = compileRule('SELECT topic() AS t, topic(2) AS t2 FROM /abcdef/ghi').evaluate({ topic: '/abcdef/ghi', payload: {} });
    assert.deepEqual(r.output, { t: '/abcdef/ghi', t2: 'ghi' });
  });

  it('messageId() is a string; attribute(key) reads device tags', () => {
    const extra = { messageId: '1234567890123456789', tags: { location: '西溪湿地-洪园' } };
    assert.deepEqual(out(`SELECT messageId() AS id, attribute('location') AS loc, attribute('none') AS n FROM ${F}`, {}, undefined, extra),
      { id: '1234567890123456789', loc: '西溪湿地-洪园' });
    assert.deepEqual(out(`SELECT messageId() AS id, attribute('location') AS loc FROM ${F}`, {}), {});
  });

  it('payload(charset) decodes the raw bytes; default utf-8', () => {
    const gbk = Buffer.from([0xc4, 0xe3, 0xba, 0xc3]); // 你好 in GBK
    const rule = compileRule(`SELECT payload('gbk') AS g FROM ${F}`, { dataType: 'BINARY' });
    assert.deepEqual(rule.evaluate({ topic: CUSTOM_TOPIC, payload: gbk }).output, { g: '你好' });
    assert.deepEqual(out(`SELECT payload() AS p FROM ${F}`, Buffer.from('{"a": "é"}')), { p: '{"a": "é"}' });
  });

  it('to_base64(*) / to_hex(*) of the raw payload', () => {
    assert.deepEqual(out(`SELECT to_base64(*) AS b, to_hex(*) AS h FROM ${F}`, Buffer.from('{"a":1}')),
      { b: Buffer.from('{"a":1}').toString('base64'), h: Buffer.from('{"a":1}').toString('hex') });
  });

  it('timestamp() is epoch ms of the message time; timestamp(fmt) formats in GMT+8 or the time zone', () => {
    const now = 1540483200000;
    assert.equal(value('timestamp()', {}, undefined, { now }), now);
    assert.equal(value('timestamp_utc()', {}, undefined, { now: new Date(now) }), now);
    assert.equal(value("timestamp('yyyy-MM-dd HH:mm:ss.SSS')", {}, undefined, { now }), '2018-10-26 00:00:00.000');
    assert.equal(value("timestamp_utc('yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'')", {}, undefined, { now: 1543373798943 }), '2018-11-28T02:56:38Z');
    assert.equal(value("timestamp('yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'')", {}, undefined, { now: 1543373798943 }), '2018-11-28T10:56:38Z');
    assert.equal(value("timestamp('HH:mm')", {}, { timezone: 'Europe/Berlin' }, { now }), '18:00');
    assert.equal(value("timestamp('HH:mm')", {}, { timezone: 'Europe/Berlin' }, { now, timezone: 'America/New_York' }), '12:00');
    const before = Date.now();
    const t = value('timestamp()') as number;
    assert.ok(t >= before && t <= Date.now());
  });

  it('thingPropertyFlatMap adds property keys, flattening structs with _ (§2 #25)', () => {
    const payload = {
      items: {
        Power: { value: 'On', time: 1 },
        Position: { value: { latitude: 39.9, longitude: 116.38 }, time: 1 },
        Deep: { value: { a: { b: 1 }, c: [1, 2] }, time: 1 },
      },
    };
    assert.deepEqual(out(`SELECT thingPropertyFlatMap('Power', 'Position', 'Missing') FROM ${F}`, payload),
      { Power: 'On', Position_latitude: 39.9, Position_longitude: 116.38 });
    assert.deepEqual(out(`SELECT deviceName() AS d, thingPropertyFlatMap() FROM ${F}`, payload),
      { d: 'dev01', Power: 'On', Position_latitude: 39.9, Position_longitude: 116.38, Deep_a_b: 1, Deep_c: [1, 2] });
    assert.deepEqual(out(`SELECT thingPropertyFlatMap() FROM ${F}`, { other: 1 }), {});
  });

  it('constant expressions are folded once at compile time', () => {
    assert.equal(value("upper(concat('a', 'b'))"), 'AB');
    assert.equal(value("substring(lower('XYZ'), 1)"), 'yz');
  });
});
