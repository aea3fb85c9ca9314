import assert from 'node:assert/strict';
import { compileRule, isRawAlink, parseTopic, parseTslPayload } from '../../../lib/sql';

const PROP = '/sys/a1B2c3D4e5F/dev01/thing/event/property/post';

describe('sql engine: TSL parsing (§3.1, §8.3)', () => {
  const alink = {
    id: '123', version: '1.0', method: 'thing.event.property.post',
    params: { Power: { value: 'on', time: 1524448722000 }, WF: 23.6, Position: { latitude: 39.9, longitude: 116.38 } },
  };

  it('turns a raw property post into items.X.value/time with gmtCreate, productKey, deviceName', () => {
    assert.deepEqual(parseTslPayload(PROP, alink, { now: 1000 }), {
      productKey: 'a1B2c3D4e5F', deviceName: 'dev01', gmtCreate: 1000,
      items: {
        Power: { value: 'on', time: 1524448722000 },
        WF: { value: 23.6, time: 1000 },
        Position: { value: { latitude: 39.9, longitude: 116.38 }, time: 1000 },
      },
    });
  });

  it('takes iotId/deviceType and overrides when supplied', () => {
    const p = parseTslPayload(PROP, alink, { now: 5, iotId: 'iot-1', deviceType: 'Sensor', deviceName: 'other' }) as Record<string, unknown>;
    assert.equal(p.iotId, 'iot-1');
    assert.equal(p.deviceType, 'Sensor');
    assert.equal(p.deviceName, 'other');
  });

  it('turns a raw event post into identifier/value/time', () => {
    const ev = { id: '1', version: '1.0', method: 'thing.event.alarm.post', params: { value: { level: 3 }, time: 77 } };
    assert.deepEqual(parseTslPayload('/sys/pk/dn/thing/event/alarm/post', ev, { now: 9 }), {
      identifier: 'alarm', productKey: 'pk', deviceName: 'dn', gmtCreate: 9, value: { level: 3 }, time: 77,
    });
  });

  it('passes already-parsed payloads and other topics unchanged', () => {
    const parsed = { items: { Power: { value: 'on', time: 1 } }, method: 'x', params: {} };
    assert.equal(parseTslPayload(PROP, parsed), parsed);
    assert.equal(parseTslPayload('/pk/dn/user/update', alink), alink);
    assert.equal(parseTslPayload('/sys/pk/dn/thing/service/property/set', alink), alink);
    assert.equal(isRawAlink({ method: 'm', params: [] }), false);
    assert.equal(isRawAlink(alink), true);
  });

  it('the engine evaluates rules on /sys topics against the parsed form', () => {
    const rule = compileRule('SELECT items.Power.value AS power, items.WF.value AS wf, items.WF.time AS t, gmtCreate, deviceName, productKey '
      + 'FROM "/sys/a1B2c3D4e5F/+/thing/event/property/post" WHERE items.WF.value > 20');
    const r = rule.evaluate({ topic: PROP, payload: Buffer.from(JSON.stringify(alink)), now: 1234 });
    assert.deepEqual(r.output, { power: 'on', wf: 23.6, t: 1234, gmtCreate: 1234, deviceName: 'dev01', productKey: 'a1B2c3D4e5F' });
    assert.equal(rule.evaluate({ topic: PROP, payload: { ...alink, params: { WF: 1 } } }).outcome, 'filtered');
  });

  it('takes iotId, deviceType and the event name/type from message.tsl; without them those keys are absent', () => {
    const sql = 'SELECT identifier, name, type, iotId, deviceType, value.level AS level FROM "/sys/a1B2c3D4e5F/+/thing/event/+/post" '
      + "WHERE type = 'alert'";
    const rule = compileRule(sql);
    const topic = '/sys/a1B2c3D4e5F/dev01/thing/event/overheat/post';
    const ev = { id: '7', version: '1.0', method: 'thing.event.overheat.post', params: { value: { level: 3 }, time: 77 } };
    const r = rule.evaluate({
      topic, payload: ev, now: 9, tsl: { iotId: 'iot-9', deviceType: 'Oven', eventName: 'Overheat', eventType: 'alert' },
    });
    assert.deepEqual(r.output, { identifier: 'overheat', name: 'Overheat', type: 'alert', iotId: 'iot-9', deviceType: 'Oven', level: 3 });
    // Unknown to Node-RED unless supplied: the WHERE on type is then not true, and nothing is invented.
    assert.equal(rule.evaluate({ topic, payload: ev, now: 9 }).outcome, 'filtered');
    const bare = compileRule('SELECT * FROM "/sys/a1B2c3D4e5F/+/thing/event/+/post"').evaluate({ topic, payload: ev, now: 9 });
    assert.deepEqual(bare.output, { identifier: 'overheat', productKey: 'a1B2c3D4e5F', deviceName: 'dev01', gmtCreate: 9, value: { level: 3 }, time: 77 });
    // Property posts carry iotId and deviceType too; non-text values are ignored, never thrown on.
    const prop = compileRule(`SELECT iotId, deviceType, items.WF.value AS wf FROM "${PROP}"`);
    assert.deepEqual(prop.evaluate({ topic: PROP, payload: alink, tsl: { iotId: 'iot-1', deviceType: 'Sensor' } }).output,
      { iotId: 'iot-1', deviceType: 'Sensor', wf: 23.6 });
    assert.deepEqual(prop.evaluate({ topic: PROP, payload: alink, tsl: { iotId: 5, deviceType: null } as never }).output, { wf: 23.6 });
    assert.deepEqual(prop.evaluate({ topic: PROP, payload: alink, tsl: 'x' as never }).output, { wf: 23.6 });
  });

  it('no params in SQL: raw Alink fields are not visible after parsing', () => {
    const r = compileRule(`SELECT params, method FROM "${PROP}"`).evaluate({ topic: PROP, payload: alink });
    assert.deepEqual(r.output, {});
  });
});

describe('sql engine: parseTopic', () => {
  it('classifies topics and finds productKey / deviceName', () => {
    assert.deepEqual(parseTopic('/pk/dn/user/update'), { productKey: 'pk', deviceName: 'dn', topicClass: 'custom' });
    assert.deepEqual(parseTopic(PROP), { productKey: 'a1B2c3D4e5F', deviceName: 'dev01', topicClass: 'system' });
    assert.deepEqual(parseTopic('/as/mqtt/status/pk/dn'), { productKey: 'pk', deviceName: 'dn', topicClass: 'status' });
    assert.deepEqual(parseTopic('/ota/device/upgrade/pk/dn'), { productKey: 'pk', deviceName: 'dn', topicClass: 'system' });
    assert.deepEqual(parseTopic('/ext/ntp/pk/dn/request'), { productKey: 'pk', deviceName: 'dn', topicClass: 'system' });
    assert.deepEqual(parseTopic('/abcdef/ghi'), { topicClass: 'other' });
    assert.deepEqual(parseTopic('no/leading/slash'), { topicClass: 'other' });
  });
});
