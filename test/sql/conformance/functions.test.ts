// The 33 documented functions (spec §2 table, with §8 decisions). One `it` per case.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FROM, PK, DN, TOPIC, PROP_FROM, PROP_TOPIC, out, value, omitted, run, plain } from './helpers';

function close(actual: unknown, expected: number) {
  assert.equal(typeof actual, 'number', `a number, got ${JSON.stringify(actual)}`);
  assert.ok(Math.abs((actual as number) - expected) < 1e-12, `${String(actual)} ≈ ${expected}`);
}

describe('conformance: functions (§2)', () => {
  describe('numeric functions', () => {
    const cases: Array<[string, Record<string, unknown>, number]> = [
      ['abs(-5)', {}, 5],
      ['abs(temperature)', { temperature: -3.5 }, 3.5],
      ['abs(temperature)', { temperature: 7 }, 7],
      ['asin(0.5)', {}, Math.asin(0.5)],
      ['asin(x)', { x: 1 }, Math.PI / 2],
      ['cos(0)', {}, 1],
      ['cos(x)', { x: 1 }, Math.cos(1)],
      ['cosh(x)', { x: 1 }, Math.cosh(1)],
      ['exp(0)', {}, 1],
      ['exp(x)', { x: 1 }, Math.E],
      ['floor(2.7)', {}, 2],
      ['floor(x)', { x: -2.5 }, -3],
      ['floor(x)', { x: 4 }, 4],
      ['log(100)', {}, 2], // §8.6: one argument = base 10
      ['log(x)', { x: 1000 }, 3],
      ['log(8, 2)', {}, 3], // §8.6: log(n, m) = log of n to base m
      ['log(x, 3)', { x: 81 }, 4],
      ['mod(7, 3)', {}, 1],
      ['mod(3, 2)', {}, 1], // §5.1 #9
      ['mod(x, 4)', { x: 10 }, 2],
      ['power(2, 10)', {}, 1024],
      ['power(x, 0.5)', { x: 9 }, 3],
      ['sin(0)', {}, 0],
      ['sin(x)', { x: 1 }, Math.sin(1)],
      ['sinh(x)', { x: 1 }, Math.sinh(1)],
      ['tan(x)', { x: 1 }, Math.tan(1)],
      ['tanh(x)', { x: 1 }, Math.tanh(1)],
    ];
    for (const [expr, payload, expected] of cases) {
      it(`${expr} on ${JSON.stringify(payload)} → ${expected}`, () => close(value(expr, payload), expected));
    }

    it('abs(temperature) tmr — the documented alias without AS (§1.3)', () => {
      assert.deepEqual(out(`SELECT abs(temperature) tmr FROM ${FROM}`, { temperature: -21 }), { tmr: 21 });
    });

    it('a numeric function on a missing field leaves the key out (§1.5)', () => {
      assert.ok(omitted('abs(nothing)', { a: 1 }));
    });

    it('a numeric function on a non-numeric string value leaves the key out (§8.13 data-driven type error)', () => {
      assert.ok(omitted('abs(s)', { s: 'abc' }));
    });

    it('a numeric function on an object value leaves the key out (§8.13)', () => {
      assert.ok(omitted('floor(o)', { o: { a: 1 } }));
    });
  });

  describe('string functions', () => {
    it("lower('ABC') → 'abc'", () => assert.equal(value("lower('ABC')"), 'abc'));
    it("lower(s) on '0ABC' → '0abc' (§5.1 #26)", () => assert.equal(value('lower(s)', { s: '0ABC' }), '0abc'));
    it("upper('alibaba') → 'ALIBABA' (documented example)", () => assert.equal(value("upper('alibaba')"), 'ALIBABA'));
    it("upper(s) on 'abc4' → 'ABC4' (§5.1 #26)", () => assert.equal(value('upper(s)', { s: 'abc4' }), 'ABC4'));
    it('upper on an object value leaves the key out (§8.13)', () => assert.ok(omitted('upper(o)', { o: { a: 1 } })));
    it('lower on a missing field leaves the key out', () => assert.ok(omitted('lower(nothing)', {})));

    it("endswith('abc', 'bc') → true", () => assert.equal(value("endswith('abc', 'bc')"), true));
    it("endswith(name, 'x') on 'abc' → false", () => assert.equal(value("endswith(name, 'x')", { name: 'abc' }), false));
    it("endswith in WHERE selects by suffix", () => {
      assert.equal(run(`SELECT * FROM ${FROM} WHERE endswith(file, '.jpg')`, { file: 'a.jpg' }).outcome, 'output');
      assert.equal(run(`SELECT * FROM ${FROM} WHERE endswith(file, '.jpg')`, { file: 'a.png' }).outcome, 'filtered');
    });

    // §8.10: concat converts each argument to text (numbers in JSON form); undefined argument → undefined.
    it("concat(field, 'a') — the documented example", () => assert.equal(value("concat(field, 'a')", { field: 'x' }), 'xa'));
    it("concat('a', 'b') → 'ab' (§5.1 #27)", () => assert.equal(value("concat('a', 'b')"), 'ab'));
    it("concat('', 'a') → 'a' (§5.1 #27)", () => assert.equal(value("concat('', 'a')"), 'a'));
    it("concat(n, 'x') with a number → its JSON text", () => assert.equal(value("concat(n, 'x')", { n: 1.5 }), '1.5x'));
    it("concat('id-', 42) → 'id-42'", () => assert.equal(value("concat('id-', 42)"), 'id-42'));
    it("concat(b, '!') with a boolean → 'true!'", () => assert.equal(value("concat(b, '!')", { b: true }), 'true!'));
    it('concat with a missing argument leaves the key out (§8.10)', () => assert.ok(omitted("concat(nothing, 'a')", { a: 1 })));

    // §2 #20 + §0 DECISION: replace replaces every occurrence.
    it("replace(field, 'a', '1') replaces all occurrences", () => {
      assert.equal(value("replace(field, 'a', '1')", { field: 'banana' }), 'b1n1n1');
    });
    it('replace(s, \' \', \'-\') on "ab c  " → "ab-c--" (§5.1 #28)', () => {
      assert.equal(value("replace(s, ' ', '-')", { s: 'ab c  ' }), 'ab-c--');
    });
    it('replace treats the search text literally, not as a pattern', () => {
      assert.equal(value("replace(s, '.', '-')", { s: 'a.b.c' }), 'a-b-c');
    });
    it('replace with no occurrence returns the source unchanged', () => {
      assert.equal(value("replace(s, 'z', '-')", { s: 'abc' }), 'abc');
    });
  });

  describe('substring — the nine documented examples (§2 #32)', () => {
    const cases: Array<[string, string]> = [
      ["substring('012345', 0)", '012345'],
      ["substring('012345', 2)", '2345'],
      ["substring('012345', 2.745)", '2345'],
      ['substring(123, 2)', '3'],
      ["substring('012345', -1)", '012345'],
      ["substring('012345', 1, 3)", '12'],
      ["substring('012345', -50, 50)", '012345'],
      ["substring('012345', 3, 1)", ''],
    ];
    for (const [expr, expected] of cases) {
      it(`${expr} → ${JSON.stringify(expected)}`, () => assert.equal(value(expr), expected));
    }
    // The ninth, substring(true, 1.2), is a refusal: see refusals.test.ts.
    it("substring('abcd', 1, 3) → 'bc' (§5.1 #29)", () => assert.equal(value("substring('abcd', 1, 3)"), 'bc'));
    it('substring on a field value', () => assert.equal(value('substring(sn, 0, 4)', { sn: 'ABCD-1234' }), 'ABCD'));
    it('substring on an integer field value converts it to text', () => assert.equal(value('substring(n, 1)', { n: 9876 }), '876'));
    it('substring on a boolean field value leaves the key out (only String and Int are supported)', () => {
      assert.ok(omitted('substring(b, 1)', { b: true }));
    });
  });

  describe('nanvl (§2 #15, §1.5)', () => {
    it('returns the value when present', () => assert.equal(value('nanvl(x, 0)', { x: 12 }), 12));
    it('returns the default for JSON null', () => assert.equal(value("nanvl(x, 'none')", { x: null }), 'none'));
    it('returns the default for a missing field (decision)', () => assert.equal(value("nanvl(x, 'none')", {}), 'none'));
    it('keeps a present 0', () => assert.equal(value('nanvl(x, 5)', { x: 0 }), 0));
    it('keeps a present empty string', () => assert.equal(value("nanvl(x, 'd')", { x: '' }), ''));
  });

  describe('crypto(field, alg) — lower-case hex digest (§2 #7)', () => {
    const text = 'hello 世界';
    for (const [alg, nodeAlg] of [['MD5', 'md5'], ['SHA1', 'sha1'], ['SHA-256', 'sha256'], ['SHA-384', 'sha384'], ['SHA-512', 'sha512']]) {
      it(`${alg} of a UTF-8 string field`, () => {
        const expected = createHash(nodeAlg).update(text, 'utf8').digest('hex');
        assert.equal(value(`crypto(s, '${alg}')`, { s: text }), expected);
      });
    }
    // RFC 1319 test vectors (Node's OpenSSL no longer has MD2).
    for (const [input, digest] of [
      ['abc', 'da853b0d3f88d99b30283a69e6ded6bb'],
      ['', '8350e5a3e24c153df2275c9f80692773'],
      ['message digest', 'ab4f496bfb2a530b219ff33031fe06b0'],
    ]) {
      it(`MD2 of ${JSON.stringify(input)} → ${digest} (RFC 1319)`, () => {
        assert.equal(value("crypto(s, 'MD2')", { s: input }), digest);
      });
    }
    it('crypto on a missing field leaves the key out', () => assert.ok(omitted("crypto(nothing, 'MD5')", {})));
  });

  describe('payload(charset) (§2 #17, §8.9)', () => {
    const json = '{"city":"hangzhou","n":1}';
    it('payload() returns the payload text (utf-8)', () => {
      assert.equal(value('payload()', Buffer.from(json)), json);
    });
    it("payload('utf-8') returns the payload text", () => {
      assert.equal(value("payload('utf-8')", Buffer.from('{"city":"杭州"}', 'utf8')), '{"city":"杭州"}');
    });
    it('payload() of a string payload is that string', () => {
      assert.equal(value('payload()', json), json);
    });
    it("payload('gbk') decodes GBK bytes", () => {
      // GBK: 杭 = BA BC, 州 = D6 DD
      const bytes = Buffer.concat([Buffer.from('{"city":"'), Buffer.from([0xba, 0xbc, 0xd6, 0xdd]), Buffer.from('"}')]);
      assert.equal(value("payload('gbk')", bytes), '{"city":"杭州"}');
    });
    it('the decoded payload is a plain string, JSON escaping only when serialized', () => {
      const text = '{"q":"say \\"hi\\""}';
      const v = value('payload()', Buffer.from(text));
      assert.equal(v, text);
    });
  });

  describe('to_base64(*) and to_hex(*) on a JSON rule (§2 #30, #33)', () => {
    const raw = Buffer.from('{"t":25}');
    it('to_base64(*) is the Base64 of the raw payload bytes', () => {
      assert.equal(value('to_base64(*)', raw), raw.toString('base64'));
    });
    it('to_hex(*) is the lower-case hex of the raw payload bytes', () => {
      assert.equal(value('to_hex(*)', raw), raw.toString('hex'));
    });
    it('to_base64(*) of a string payload uses its UTF-8 bytes', () => {
      assert.equal(value('to_base64(*)', '{"c":"杭州"}'), Buffer.from('{"c":"杭州"}').toString('base64'));
    });
  });

  describe('attribute(key) — device tags (§2 #3)', () => {
    it('returns the tag value (documented location example)', () => {
      assert.equal(value("attribute('location')", {}, { tags: { location: '西溪湿地-洪园' } }), '西溪湿地-洪园');
    });
    it('an absent tag leaves the key out', () => {
      assert.ok(omitted("attribute('floor')", {}, { tags: { location: 'x' } }));
    });
    it('no tag map at all leaves the key out', () => assert.ok(omitted("attribute('location')", {})));
    it('usable in WHERE', () => {
      const sql = `SELECT * FROM ${FROM} WHERE attribute('site') = 'north'`;
      assert.equal(run(sql, { a: 1 }, { tags: { site: 'north' } }).outcome, 'output');
      assert.equal(run(sql, { a: 1 }, { tags: { site: 'south' } }).outcome, 'filtered');
    });
  });

  describe('messageId() (§2 #31)', () => {
    it('returns the message id as a string', () => {
      assert.equal(value('messageId()', {}, { messageId: '1234567890123456789' }), '1234567890123456789');
    });
  });

  describe('deviceName() (§2 #8)', () => {
    it('custom topic: level 2', () => {
      assert.equal(value('deviceName()', {}, { topic: `/${PK}/sensor-7/user/update` }), 'sensor-7');
    });
    it('/sys topic: level 3', () => {
      const o = out(`SELECT deviceName() AS d FROM ${PROP_FROM}`, { items: {} }, { topic: `/sys/${PK}/meter_9/thing/event/property/post` });
      assert.deepEqual(o, { d: 'meter_9' });
    });
    it('status topic /as/mqtt/status/pk/dn: level 5', () => {
      const o = out(`SELECT deviceName() AS d, status FROM "/as/mqtt/status/${PK}/+"`, { status: 'online', productKey: PK, deviceName: 'gw3' }, {
        topic: `/as/mqtt/status/${PK}/gw3`,
      });
      assert.deepEqual(o, { d: 'gw3', status: 'online' });
    });
    it('the message deviceName, when given, overrides the topic (§3.1 (c))', () => {
      assert.equal(value('deviceName()', {}, { deviceName: 'from-msg' }), 'from-msg');
    });
    it('usable in WHERE', () => {
      const sql = `SELECT * FROM ${FROM} WHERE deviceName() = '${DN}'`;
      assert.equal(run(sql, { a: 1 }).outcome, 'output');
      assert.equal(run(sql, { a: 1 }, { topic: `/${PK}/other/user/update` }).outcome, 'filtered');
    });
    it('SELECT *, deviceName() as deviceName merges (§1.3)', () => {
      assert.deepEqual(out(`SELECT *, deviceName() as deviceName FROM ${FROM}`, { t: 1 }), { t: 1, deviceName: DN });
    });
  });

  describe('topic(n) (§2 #28, §8.14)', () => {
    const topic = '/alDbcLe1234/TestDevice/user/set';
    const from = '"/alDbcLe1234/+/user/set"';
    const topicOf = (expr: string) => out(`SELECT ${expr} AS v FROM ${from}`, {}, { topic }).v;
    it('topic() is the full topic', () => assert.equal(topicOf('topic()'), topic));
    it('topic(1) is the product key level (after the leading /)', () => assert.equal(topicOf('topic(1)'), 'alDbcLe1234'));
    it('topic(2) is the device level', () => assert.equal(topicOf('topic(2)'), 'TestDevice'));
    it('topic(4) is the last level', () => assert.equal(topicOf('topic(4)'), 'set'));
    it('topic(5) beyond the levels leaves the key out (§8.14)', () => {
      const o = out(`SELECT topic(5) AS v, topic(1) AS p FROM ${from}`, {}, { topic });
      assert.deepEqual(o, { p: 'alDbcLe1234' });
    });
    it("2018 example /abcdef/ghi: topic() and topic(2)", () => {
      const o = out('SELECT topic() AS t, topic(2) AS t2 FROM "/abcdef/ghi"', {}, { topic: '/abcdef/ghi' });
      assert.deepEqual(o, { t: '/abcdef/ghi', t2: 'ghi' });
    });
    it('topic(1) in WHERE (§5.1 #30: the leading / is skipped)', () => {
      assert.equal(run(`SELECT * FROM ${from} WHERE topic(1) = 'alDbcLe1234'`, { a: 1 }, { topic }).outcome, 'output');
    });
  });

  describe('timestamp / timestamp_utc (§2 #26-27, §3.2, §8.17)', () => {
    const at = 1540483200000; // 2018-10-25T16:00:00Z = 2018-10-26 00:00 in GMT+8
    const doc = 1543373798943; // 2018-11-28T02:56:38.943Z, the documented example instant
    const fmt = (expr: string, now: number | Date, message: Record<string, unknown> = {}, options = {}) =>
      out(`SELECT ${expr} AS v FROM ${FROM}`, {}, { now, ...message }, options).v;

    it('timestamp() is the epoch milliseconds of now', () => assert.equal(fmt('timestamp()', doc), doc));
    it('timestamp() without a given now is the current time', () => {
      const before = Date.now();
      const v = value('timestamp()');
      assert.ok(typeof v === 'number' && v >= before && v <= Date.now(), `timestamp() = ${String(v)}`);
    });
    it('timestamp_utc() is the epoch milliseconds of now', () => assert.equal(fmt('timestamp_utc()', doc), doc));
    it('now may be given as a Date', () => assert.equal(fmt("timestamp('yyyy-MM-dd HH:mm:ss.SSS')", new Date(at)), '2018-10-26 00:00:00.000'));

    const gmt8: Array<[string, number, string]> = [
      ["timestamp('yyyy-MM-dd HH:mm:ss.SSS')", at, '2018-10-26 00:00:00.000'],
      ["timestamp('yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'')", doc, '2018-11-28T10:56:38Z'],
      ["timestamp('yyyyMMddHHmmss')", doc, '20181128105638'],
      ["timestamp('yy/M/d H:m:s')", at + 3_723_000, '18/10/26 1:2:3'],
      ["timestamp('hh:mm')", at, '12:00'],
      ["timestamp('HH:mm:ss.SSS')", doc, '10:56:38.943'],
      ["timestamp('yyyy-MM-dd HH:mm Z')", doc, '2018-11-28 10:56 +0800'],
      ["timestamp('HH:mm XXX')", doc, '10:56 +08:00'],
    ];
    for (const [expr, now, expected] of gmt8) {
      it(`${expr} at ${now} in the default GMT+8 → ${expected}`, () => assert.equal(fmt(expr, now), expected));
    }

    const utc: Array<[string, number, string]> = [
      ["timestamp_utc('yyyy-MM-dd HH:mm:ss.SSS')", at, '2018-10-25 16:00:00.000'],
      ["timestamp_utc('yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'')", doc, '2018-11-28T02:56:38Z'],
      ["timestamp_utc('HH:mm Z')", doc, '02:56 +0000'],
    ];
    for (const [expr, now, expected] of utc) {
      it(`${expr} at ${now} → ${expected}`, () => assert.equal(fmt(expr, now), expected));
    }

    it("rule option timezone 'UTC' changes timestamp(fmt)", () => {
      assert.equal(fmt("timestamp('yyyy-MM-dd HH:mm')", at, {}, { timezone: 'UTC' }), '2018-10-25 16:00');
    });
    it("rule option timezone 'America/New_York' (EDT on that date)", () => {
      assert.equal(fmt("timestamp('yyyy-MM-dd HH:mm Z')", at, {}, { timezone: 'America/New_York' }), '2018-10-25 12:00 -0400');
    });
    it('the message timezone overrides the rule option', () => {
      assert.equal(fmt("timestamp('HH:mm')", at, { timezone: 'Asia/Tokyo' }, { timezone: 'UTC' }), '01:00');
    });
    it('timestamp_utc ignores the timezone option', () => {
      assert.equal(fmt("timestamp_utc('HH:mm')", at, { timezone: 'Asia/Tokyo' }, { timezone: 'Europe/Berlin' }), '16:00');
    });
  });

  describe('newuuid() and rand() (§2 #16, #19)', () => {
    it('newuuid() is a random (version 4) UUID string, different each call', () => {
      const o = out(`SELECT newuuid() AS a, newuuid() AS b FROM ${FROM}`, {});
      for (const id of [o.a, o.b]) {
        assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i);
      }
      assert.notEqual(o.a, o.b);
    });
    it('newuuid() differs between messages', () => {
      const rule = `SELECT newuuid() AS id FROM ${FROM}`;
      assert.notEqual(out(rule, {}).id, out(rule, {}).id);
    });
    it('rand() is a number in [0, 1), not constant', () => {
      const seen = new Set<number>();
      for (let i = 0; i < 50; i++) {
        const r = value('rand()');
        assert.equal(typeof r, 'number');
        assert.ok((r as number) >= 0 && (r as number) < 1, `rand() = ${String(r)}`);
        seen.add(r as number);
      }
      assert.ok(seen.size > 1, 'rand() varies');
    });
  });

  describe('thingPropertyFlatMap (§2 #25)', () => {
    const parsed = {
      productKey: PK,
      deviceName: DN,
      gmtCreate: 1540483200000,
      items: {
        Power: { value: 'On', time: 1540483200000 },
        Position: { value: { latitude: 39.9, longitude: 116.38 }, time: 1540483200000 },
        WF: { value: 23.6, time: 1540483200000 },
      },
    };
    const flat = (select: string, payload: unknown = parsed) => out(`SELECT ${select} FROM ${PROP_FROM}`, payload, { topic: PROP_TOPIC });

    it("thingPropertyFlatMap('Power', 'Position') — the documented example", () => {
      assert.deepEqual(flat("thingPropertyFlatMap('Power', 'Position')"), { Power: 'On', Position_latitude: 39.9, Position_longitude: 116.38 });
    });
    it('no argument = every property', () => {
      assert.deepEqual(flat('thingPropertyFlatMap()'), { Power: 'On', Position_latitude: 39.9, Position_longitude: 116.38, WF: 23.6 });
    });
    it('deeper nesting joins every level with _ (decision in §2 #25)', () => {
      const payload = { ...parsed, items: { Geo: { value: { pos: { lat: 1, lng: 2 }, alt: 3 }, time: 1 } } };
      assert.deepEqual(flat("thingPropertyFlatMap('Geo')", payload), { Geo_pos_lat: 1, Geo_pos_lng: 2, Geo_alt: 3 });
    });
    it('combines with other items', () => {
      assert.deepEqual(flat("deviceName() AS dn, thingPropertyFlatMap('WF')"), { dn: DN, WF: 23.6 });
    });
    it('works on a raw Alink property post too (§8.3)', () => {
      const raw = { id: '1', version: '1.0', method: 'thing.event.property.post', params: { Power: { value: 'Off', time: 5 }, WF: 1.5 } };
      assert.deepEqual(flat('thingPropertyFlatMap()', raw), { Power: 'Off', WF: 1.5 });
    });
  });

  describe('payload as bytes', () => {
    it('a Buffer JSON payload is parsed for field access', () => {
      assert.deepEqual(plain(run(`SELECT a FROM ${FROM}`, Buffer.from('{"a":1}'), { topic: TOPIC }).output), { a: 1 });
    });
  });
});
