// FROM topic filters (spec §1.2, §7.2, §8.15) and thing-model (TSL) parsing of raw Alink posts (§3.1, §8.3).
import assert from 'node:assert/strict';
import { PK, DN, PROP_FROM, PROP_TOPIC, out, run, compileRule, plain } from './helpers';

describe('conformance: FROM topic filters', () => {
  const outcome = (sql: string, topic: string) => compileRule(sql).evaluate({ topic, payload: { a: 1 } }).outcome;

  const cases: Array<[string, string, 'output' | 'no-match']> = [
    [`"/${PK}/+/user/update"`, `/${PK}/dev01/user/update`, 'output'],
    [`"/${PK}/+/user/update"`, `/${PK}/other-device/user/update`, 'output'],
    [`"/${PK}/+/user/update"`, `/${PK}/dev01/user/get`, 'no-match'],
    [`"/${PK}/+/user/update"`, `/${PK}/dev01/x/user/update`, 'no-match'], // + is exactly one level
    [`"/${PK}/+/user/update"`, `/${PK}/dev01/user/update/more`, 'no-match'],
    [`"/${PK}/+/user/update"`, `/b2B2c3D4e5F/dev01/user/update`, 'no-match'], // product key level is literal
    [`"/${PK}/dev01/user/update"`, `/${PK}/dev01/user/update`, 'output'],
    [`"/${PK}/dev01/user/update"`, `/${PK}/dev02/user/update`, 'no-match'],
    [`"/${PK}/dev01/user/#"`, `/${PK}/dev01/user/update`, 'output'],
    [`"/${PK}/dev01/user/#"`, `/${PK}/dev01/user/a/b/c`, 'output'], // # = this level and all below
    [`"/${PK}/dev01/user/#"`, `/${PK}/dev02/user/update`, 'no-match'],
    [`"/${PK}/+/user/#"`, `/${PK}/dev9/user/x/y`, 'output'],
    [`"/${PK}/${DN}/user/+/error"`, `/${PK}/${DN}/user/pump/error`, 'output'], // + at an inner level
    [`"/${PK}/${DN}/user/+/error"`, `/${PK}/${DN}/user/pump/ok`, 'no-match'],
    [`/ProductA/+/update`, `/ProductA/d1/update`, 'output'], // unquoted (documented)
    [`/ProductA/+/update`, `/ProductB/d1/update`, 'no-match'],
    [`'/${PK}/+/user/update'`, `/${PK}/d/user/update`, 'output'], // single-quoted (extension)
    [`"/topic/#"`, `/topic/a/b`, 'output'], // 2018 example
    [`"/sys/${PK}/+/thing/event/property/post"`, `/sys/${PK}/d1/thing/event/property/post`, 'output'],
    [`"/sys/${PK}/+/thing/event/property/post"`, `/sys/${PK}/d1/thing/event/alarm/post`, 'no-match'],
    [`"/sys/${PK}/${DN}/thing/event/+/post"`, `/sys/${PK}/${DN}/thing/event/alarm/post`, 'output'],
    [`"/as/mqtt/status/${PK}/+"`, `/as/mqtt/status/${PK}/d1`, 'output'],
    [`"/${PK}/+/user/update"`, `/${PK}/+/user/update/extra`, 'no-match'],
    [`"/${PK}/+/user/update"`, `${PK}/dev01/user/update`, 'no-match'], // leading / matters
  ];
  for (const [filter, topic, expected] of cases) {
    it(`FROM ${filter} on ${topic} → ${expected}`, () => assert.equal(outcome(`SELECT * FROM ${filter}`, topic), expected));
  }

  it('a no-match result carries no output', () => {
    const r = compileRule(`SELECT * FROM "/${PK}/+/user/update"`).evaluate({ topic: `/${PK}/d/user/get`, payload: { a: 1 } });
    assert.equal(r.outcome, 'no-match');
    assert.equal(r.output, undefined);
  });
  it('no-match is decided by the topic even when WHERE would pass', () => {
    assert.equal(outcome(`SELECT * FROM "/${PK}/+/user/update" WHERE a = 1`, `/${PK}/d/user/other`), 'no-match');
  });
  it('FROM keyword is case-insensitive and the filter may be followed by WHERE on the next line', () => {
    assert.equal(outcome(`select *\nfrom "/${PK}/+/user/update"\nwhere a = 1`, `/${PK}/d/user/update`), 'output');
  });
  it('topicFilter reports the filter without quotes for every quoting style', () => {
    for (const f of [`"/${PK}/+/user/u"`, `'/${PK}/+/user/u'`, `/${PK}/+/user/u`]) {
      assert.equal(compileRule(`SELECT * FROM ${f}`).topicFilter, `/${PK}/+/user/u`);
    }
  });
});

describe('conformance: TSL parsing of Alink posts (§3.1, §8.3)', () => {
  const now = 1540483200000;
  const rawProperty = {
    id: '123',
    version: '1.0',
    params: { Power: { value: 'on', time: 1524448722000 }, WF: { value: 23.6, time: 1524448723000 } },
    method: 'thing.event.property.post',
  };

  it('a raw property post is seen in the parsed form (items, productKey, deviceName, gmtCreate)', () => {
    const o = out(`SELECT * FROM ${PROP_FROM}`, rawProperty, { topic: PROP_TOPIC, now });
    assert.equal(o.productKey, PK);
    assert.equal(o.deviceName, DN);
    assert.equal(o.gmtCreate, now);
    assert.deepEqual(o.items, { Power: { value: 'on', time: 1524448722000 }, WF: { value: 23.6, time: 1524448723000 } });
  });
  it('the parsed form has no Alink params/method/id/version and no iotId/deviceType unless supplied', () => {
    const o = out(`SELECT * FROM ${PROP_FROM}`, rawProperty, { topic: PROP_TOPIC, now });
    for (const key of ['params', 'method', 'id', 'version', 'iotId', 'deviceType']) {
      assert.ok(!(key in o), `no ${key} in ${JSON.stringify(o)}`);
    }
  });
  it('raw JSON bytes are parsed the same way as an object', () => {
    const o = out(`SELECT items.WF.value AS wf, gmtCreate FROM ${PROP_FROM}`, Buffer.from(JSON.stringify(rawProperty)), { topic: PROP_TOPIC, now });
    assert.deepEqual(o, { wf: 23.6, gmtCreate: now });
  });
  it('plain params {"Power":"on"} become {value, time: now}', () => {
    const raw = { id: '1', version: '1.0', params: { Power: 'on', Temp: 21.5 }, method: 'thing.event.property.post' };
    const o = out(`SELECT items FROM ${PROP_FROM}`, raw, { topic: PROP_TOPIC, now });
    assert.deepEqual(o, { items: { Power: { value: 'on', time: now }, Temp: { value: 21.5, time: now } } });
  });
  it('a struct property value without value/time keys is kept whole as value', () => {
    const raw = { id: '1', version: '1.0', params: { Position: { latitude: 39.9, longitude: 116.38 } }, method: 'thing.event.property.post' };
    const o = out(`SELECT items.Position.value AS p, items.Position.time AS t FROM ${PROP_FROM}`, raw, { topic: PROP_TOPIC, now });
    assert.deepEqual(o, { p: { latitude: 39.9, longitude: 116.38 }, t: now });
  });
  it('gmtCreate and items time default to the evaluation time when now is not given', () => {
    const before = Date.now();
    const raw = { id: '1', version: '1.0', params: { Power: 'on' }, method: 'thing.event.property.post' };
    const o = out(`SELECT gmtCreate, items.Power.time AS t FROM ${PROP_FROM}`, raw, { topic: PROP_TOPIC });
    const after = Date.now();
    assert.ok(typeof o.gmtCreate === 'number' && o.gmtCreate >= before && o.gmtCreate <= after, `gmtCreate ${String(o.gmtCreate)}`);
    assert.equal(o.t, o.gmtCreate);
  });
  it('an already-parsed payload passes unchanged', () => {
    const parsed = {
      iotId: 'abc',
      productKey: PK,
      deviceName: DN,
      deviceType: 'CustomCategory',
      gmtCreate: 1510292739881,
      items: { Power: { value: 'on', time: 1510292697470 } },
      checkFailedData: {},
    };
    assert.deepEqual(out(`SELECT * FROM ${PROP_FROM}`, parsed, { topic: PROP_TOPIC, now }), parsed);
  });
  it('a rule on items.X.value works on both the raw and the parsed form', () => {
    const sql = `SELECT items.WF.value AS wf, deviceName() AS dn FROM ${PROP_FROM} WHERE items.WF.value > 20`;
    const parsed = { productKey: PK, deviceName: DN, gmtCreate: now, items: { WF: { value: 23.6, time: now } } };
    assert.deepEqual(out(sql, rawProperty, { topic: PROP_TOPIC, now }), { wf: 23.6, dn: DN });
    assert.deepEqual(out(sql, parsed, { topic: PROP_TOPIC, now }), { wf: 23.6, dn: DN });
    const cold = { ...rawProperty, params: { WF: { value: 10, time: 1 } } };
    assert.equal(run(sql, cold, { topic: PROP_TOPIC, now }).outcome, 'filtered');
  });
  it('params is never visible on a /sys property topic after parsing', () => {
    const r = run(`SELECT params FROM ${PROP_FROM}`, rawProperty, { topic: PROP_TOPIC, now });
    assert.equal(r.outcome, 'output');
    assert.deepEqual(plain(r.output), {});
  });
  it('an Alink-shaped payload on a custom topic passes unchanged', () => {
    const o = out(`SELECT * FROM "/${PK}/+/user/update"`, rawProperty, { topic: `/${PK}/${DN}/user/update`, now });
    assert.deepEqual(o, rawProperty);
  });
  it('a raw event post is parsed: identifier, productKey, deviceName, gmtCreate; no params', () => {
    const raw = { id: '9', version: '1.0', params: { value: { level: 3 }, time: 1524448722000 }, method: 'thing.event.alarm.post' };
    const topic = `/sys/${PK}/${DN}/thing/event/alarm/post`;
    const o = out(`SELECT * FROM "/sys/${PK}/+/thing/event/+/post"`, raw, { topic, now });
    assert.equal(o.identifier, 'alarm');
    assert.equal(o.productKey, PK);
    assert.equal(o.deviceName, DN);
    assert.equal(o.gmtCreate, now);
    assert.ok(!('params' in o) && !('method' in o), JSON.stringify(o));
  });
  it('a rule selecting events by identifier', () => {
    const raw = { id: '9', version: '1.0', params: { value: { level: 3 }, time: 1 }, method: 'thing.event.alarm.post' };
    const sql = `SELECT deviceName() AS d FROM "/sys/${PK}/+/thing/event/+/post" WHERE identifier = 'alarm'`;
    assert.deepEqual(out(sql, raw, { topic: `/sys/${PK}/${DN}/thing/event/alarm/post`, now }), { d: DN });
    assert.equal(run(sql, { ...raw, method: 'thing.event.fault.post' }, { topic: `/sys/${PK}/${DN}/thing/event/fault/post`, now }).outcome, 'filtered');
  });
  it('a JSON object with items on a property topic is not treated as raw even with method/params', () => {
    const parsed = { method: 'x', params: {}, items: { A: { value: 1, time: 2 } } };
    assert.deepEqual(out(`SELECT * FROM ${PROP_FROM}`, parsed, { topic: PROP_TOPIC, now }), parsed);
  });
});
