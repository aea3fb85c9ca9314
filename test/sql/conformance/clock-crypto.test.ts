// timestamp()/timestamp_utc() against an independent formatter (Intl) over many instants and zones (§2 #26-27, §8.17),
// MD2 multi-block vectors (RFC 1319), and which /sys topics are TSL-parsed (§8.3).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FROM, PK, DN, compileRule, out, value, run } from './helpers';

function reference(ms: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const millis = String(((ms % 1000) + 1000) % 1000).padStart(3, '0');
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}.${millis}`;
}

describe('conformance: clock, crypto vectors, TSL topic scope', () => {
  describe('timestamp(fmt) matches an independent formatter', () => {
    let seed = 4242;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const instants = Array.from({ length: 200 }, () => Math.floor(rnd() * 4_000_000_000_000)); // 1970 … 2096
    const zones: Array<string | undefined> = [undefined, 'UTC', 'America/New_York', 'Europe/London', 'Australia/Adelaide', 'Asia/Kathmandu'];
    const pattern = "timestamp('yyyy-MM-dd HH:mm:ss.SSS')";
    for (const zone of zones) {
      it(`200 instants in ${zone ?? 'the default (Asia/Shanghai)'}`, () => {
        const rule = compileRule(`SELECT ${pattern} AS v, timestamp_utc('yyyy-MM-dd HH:mm:ss.SSS') AS u FROM ${FROM}`, zone ? { timezone: zone } : {});
        for (const now of instants) {
          const r = rule.evaluate({ topic: `/${PK}/${DN}/user/update`, payload: {}, now });
          const o = r.output as Record<string, unknown>;
          assert.equal(o.v, reference(now, zone ?? 'Asia/Shanghai'), `now=${now} zone=${zone ?? 'default'}`);
          assert.equal(o.u, new Date(now).toISOString().replace('T', ' ').replace('Z', ''), `utc now=${now}`);
        }
      });
    }
  });

  describe('MD2 multi-block vectors (RFC 1319)', () => {
    const vectors: Array<[string, string]> = [
      ['a', '32ec01ec4a6dac72c0ab96fb34c0b5d1'],
      ['abcdefghijklmnopqrstuvwxyz', '4e8ddff3650292ab5a4108c3aa47940b'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'da33def2a42df13975352846c30338cd'],
      ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'd5976f79d83d3a0dc9806c3c66f3efd8'],
    ];
    for (const [input, digest] of vectors) {
      it(`MD2(${JSON.stringify(input.slice(0, 20))}${input.length > 20 ? '…' : ''}) = ${digest}`, () => {
        assert.equal(value("crypto(s, 'MD2')", { s: input }), digest);
      });
    }
    it('SHA-256 of the empty string', () => {
      assert.equal(value("crypto(s, 'SHA-256')", { s: '' }), createHash('sha256').update('').digest('hex'));
    });
    it('a digest works in WHERE', () => {
      const md5 = createHash('md5').update('secret-ish').digest('hex');
      assert.equal(run(`SELECT * FROM ${FROM} WHERE crypto(s, 'MD5') = '${md5}'`, { s: 'secret-ish' }).outcome, 'output');
    });
  });

  describe('only property and event posts are TSL-parsed (§8.3)', () => {
    const alinkish = { id: '7', version: '1.0', method: 'thing.service.property.set', params: { Power: 'on' } };
    it('a property set on /sys/…/thing/service/property/set passes unchanged', () => {
      const topic = `/sys/${PK}/${DN}/thing/service/property/set`;
      assert.deepEqual(out(`SELECT * FROM "/sys/${PK}/+/thing/service/property/set"`, alinkish, { topic }), alinkish);
    });
    it('a lifecycle message passes unchanged', () => {
      const topic = `/sys/${PK}/${DN}/thing/lifecycle`;
      const p = { action: 'create', iotId: 'x', productKey: PK, deviceName: DN, deviceSecret: 'not-a-real-one', messageCreateTime: 1 };
      assert.deepEqual(out(`SELECT * FROM "/sys/${PK}/+/thing/lifecycle"`, p, { topic }), p);
    });
    it('a device status message passes unchanged', () => {
      const topic = `/as/mqtt/status/${PK}/${DN}`;
      const p = { status: 'online', productKey: PK, deviceName: DN, time: '2018-08-31 15:32:28.205', lastTime: '2018-08-31 15:32:28.195', clientIp: '10.0.0.1' };
      assert.deepEqual(out(`SELECT * FROM "/as/mqtt/status/${PK}/+"`, p, { topic }), p);
    });
    it('a filtered result carries no output', () => {
      const r = run(`SELECT * FROM ${FROM} WHERE a = 2`, { a: 1 });
      assert.equal(r.outcome, 'filtered');
      assert.equal(r.output, undefined);
    });
    it('thingPropertyFlatMap() forwards more than 50 properties (its documented purpose)', () => {
      const items = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`P${i}`, { value: i, time: 1 }]));
      const o = out(`SELECT thingPropertyFlatMap() FROM "/sys/${PK}/+/thing/event/property/post"`, { items }, {
        topic: `/sys/${PK}/${DN}/thing/event/property/post`,
      });
      assert.equal(Object.keys(o).length, 60);
      assert.equal(o.P59, 59);
    });
    it('thingPropertyFlatMap of a property the message lacks adds nothing', () => {
      const parsed = { items: { A: { value: 1, time: 1 } } };
      const o = out(`SELECT thingPropertyFlatMap('A', 'Missing') FROM "/sys/${PK}/+/thing/event/property/post"`, parsed, {
        topic: `/sys/${PK}/${DN}/thing/event/property/post`,
      });
      assert.deepEqual(o, { A: 1 });
    });
  });
});
