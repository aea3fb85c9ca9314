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
