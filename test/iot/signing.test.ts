import assert from 'node:assert/strict';
import { checkKeepalive, DeviceConfigError, deviceEndpoint, signDevice } from '../../lib/iot/signing';

describe('lib/iot signing: device MQTT login (spec iot-device §4.2 vectors)', () => {
  describe('vector 1: the official doc example', () => {
    const base = { productKey: 'pk', deviceName: 'device', deviceSecret: 'secret', clientId: '12345', timestamp: 789, secureMode: 3 as const };

    it('hmacsha1 gives the documented clientId, username and password', () => {
      const login = signDevice({ ...base, signMethod: 'hmacsha1' });
      assert.equal(login.clientId, '12345|securemode=3,signmethod=hmacsha1,timestamp=789|');
      assert.equal(login.username, 'device&pk');
      assert.equal(login.password, 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14'.toLowerCase());
    });

    it('hmacsha256 and hmacmd5 give the recomputed values', () => {
      assert.equal(
        signDevice({ ...base, signMethod: 'hmacsha256' }).password,
        '6074a46a91b1ebb2cc4ea42790ad0e80202c9843859fc292e57c4eb19fad9e57',
      );
      assert.equal(signDevice({ ...base, signMethod: 'hmacmd5' }).password, '14b198324fe55e1d3c88f2e705e201ee');
    });
  });

  it('vector 2: console-style defaults (clientId pk.dn, hmacsha256, TLS)', () => {
    const login = signDevice({
      productKey: 'a1B2c3D4e5F',
      deviceName: 'sensor01',
      deviceSecret: '0123456789abcdef0123456789abcdef',
      timestamp: '1700000000000',
    });
    assert.deepEqual(login, {
      clientId: 'a1B2c3D4e5F.sensor01|securemode=2,signmethod=hmacsha256,timestamp=1700000000000|',
      username: 'sensor01&a1B2c3D4e5F',
      password: 'e1753e07b15c2a94f83cd7cbb16b1bcf656d8a7a314e97e5991a24641afd23ca',
    });
  });

  it('timestamp null leaves it out of the clientId and of the signed content', () => {
    const withTs = signDevice({ productKey: 'pk', deviceName: 'device', deviceSecret: 'secret', clientId: '12345', timestamp: 789 });
    const without = signDevice({ productKey: 'pk', deviceName: 'device', deviceSecret: 'secret', clientId: '12345', timestamp: null });
    assert.equal(without.clientId, '12345|securemode=2,signmethod=hmacsha256|');
    assert.notEqual(without.password, withTs.password);
    assert.match(without.password, /^[0-9a-f]{64}$/);
  });

  it('defaults the timestamp to now', () => {
    const before = Date.now();
    const login = signDevice({ productKey: 'pk', deviceName: 'device', deviceSecret: 'secret' });
    const ts = Number(/timestamp=(\d+)\|$/.exec(login.clientId)?.[1]);
    assert.ok(ts >= before && ts <= Date.now());
  });

  it('refuses bad settings with a message that says what to fix and never shows the secret', () => {
    const secret = 'TopSecretValue42';
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ productKey: '', deviceName: 'd' }, /productKey/],
      [{ productKey: 'pk', deviceName: 'a/b' }, /deviceName/],
      [{ productKey: 'pk', deviceName: 'd', deviceSecret: '' }, /deviceSecret is empty/],
      [{ productKey: 'pk', deviceName: 'd', signMethod: 'hmacsha512' }, /hmacsha256, hmacsha1 or hmacmd5/],
      [{ productKey: 'pk', deviceName: 'd', secureMode: 1 }, /2 \(TLS\) or 3 \(TCP\)/],
      [{ productKey: 'pk', deviceName: 'd', clientId: 'a|b' }, /client ID/],
      [{ productKey: 'pk', deviceName: 'd', clientId: 'x'.repeat(65) }, /1-64/],
      [{ productKey: 'pk', deviceName: 'd', timestamp: 'soon' }, /timestamp/],
    ];
    for (const [overrides, message] of cases) {
      assert.throws(
        () => signDevice({ deviceSecret: secret, ...overrides } as never),
        (err: Error) => err instanceof DeviceConfigError && message.test(err.message) && !err.message.includes(secret),
        JSON.stringify(overrides),
      );
    }
  });
});

describe('lib/iot signing: endpoints and keepalive', () => {
  it('builds the legacy public endpoint from region and productKey', () => {
    assert.deepEqual(deviceEndpoint({ region: 'cn-shanghai', productKey: 'a1B2c3D4e5F' }), {
      host: 'a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com',
      port: 1883,
      url: 'mqtts://a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883',
      secureMode: 2,
    });
    const tcp = deviceEndpoint({ region: 'cn-shanghai', productKey: 'a1B2c3D4e5F', transport: 'mqtt' });
    assert.equal(tcp.secureMode, 3);
    assert.equal(tcp.port, 1883);
  });

  it('prefers the instance host, accepting a pasted URL, and uses 443 for WebSocket', () => {
    const ep = deviceEndpoint({ instanceHost: 'mqtts://iot-06z00abc.mqtt.iothub.aliyuncs.com:8883', region: 'cn-shanghai', productKey: 'pk' });
    assert.equal(ep.host, 'iot-06z00abc.mqtt.iothub.aliyuncs.com');
    assert.equal(ep.port, 8883, 'a port in a pasted URL is kept');
    assert.equal(deviceEndpoint({ instanceHost: 'iot-06z00abc.mqtt.iothub.aliyuncs.com' }).port, 1883);
    const wss = deviceEndpoint({ instanceHost: 'iot-06z00abc.mqtt.iothub.aliyuncs.com', transport: 'wss' });
    assert.equal(wss.port, 443);
    assert.equal(wss.secureMode, 2);
    assert.equal(deviceEndpoint({ instanceHost: 'h.example', port: 8883 }).url, 'mqtts://h.example:8883');
  });

  it('explains a missing region or productKey', () => {
    assert.throws(() => deviceEndpoint({}), /instance endpoint, or the region/);
    assert.throws(() => deviceEndpoint({ region: 'cn-shanghai' }), /needs the productKey/);
  });

  it('accepts keepalive 30-1200 s only', () => {
    assert.equal(checkKeepalive(30), 30);
    assert.equal(checkKeepalive(1200), 1200);
    assert.throws(() => checkKeepalive(29), /30-1200/);
    assert.throws(() => checkKeepalive(1201), /30-1200/);
    assert.throws(() => checkKeepalive('60'), /30-1200/);
  });
});
