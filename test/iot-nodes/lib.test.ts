// lib/iot pieces the nodes stand on: device login computed per the spec's vectors, connection option checks,
// subscription merging for MQTT 3.1.1, payload decoding and msg.iot, the Pub endpoint, and two connections that
// share a client ID giving way instead of kicking each other forever.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { filterCovers, IotConnection, resolveConnection, type ConnectionStatus } from '../../lib/iot/connection';
import { alinkId, decodePayload, generateMessageId, iotMeta } from '../../lib/iot/alink';
import { iotEndpoint } from '../../lib/iot/openapi';
import { requireMosquitto, startMosquitto } from './mosquitto';

describe('lib/iot connection options', function () {
  it('computes the device login of spec §4.2 example 2 and the legacy endpoint, keeping the secret out of display', function () {
    const r = resolveConnection(
      { mode: 'device', region: 'cn-shanghai', productKey: 'a1B2c3D4e5F', deviceName: 'sensor01', deviceSecret: '0123456789abcdef0123456789abcdef', signMethod: 'hmacsha256', secureMode: 'tls' },
      1700000000000,
    );
    assert.equal(r.clientOptions.clientId, 'a1B2c3D4e5F.sensor01|securemode=2,signmethod=hmacsha256,timestamp=1700000000000|');
    assert.equal(r.clientOptions.username, 'sensor01&a1B2c3D4e5F');
    assert.equal(r.clientOptions.password, 'e1753e07b15c2a94f83cd7cbb16b1bcf656d8a7a314e97e5991a24641afd23ca');
    assert.equal(r.url, 'mqtts://a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883');
    assert.equal(r.clientOptions.keepalive, 300);
    assert.ok(!r.display.includes('0123456789abcdef'));
    assert.deepEqual(r.device, { productKey: 'a1B2c3D4e5F', deviceName: 'sensor01' });
  });

  it('instance endpoint with TCP and WebSocket; keepalive and sign method checked', function () {
    const base = { mode: 'device' as const, productKey: 'pk1', deviceName: 'd1', deviceSecret: 's3cret' };
    assert.equal(resolveConnection({ ...base, instanceEndpoint: 'iot-06z00abc.mqtt.iothub.aliyuncs.com', secureMode: 'tcp' }).url, 'mqtt://iot-06z00abc.mqtt.iothub.aliyuncs.com:1883');
    assert.equal(resolveConnection({ ...base, instanceEndpoint: 'iot-06z00abc.mqtt.iothub.aliyuncs.com', websocket: true }).url, 'wss://iot-06z00abc.mqtt.iothub.aliyuncs.com:443/mqtt');
    assert.throws(() => resolveConnection({ ...base, region: 'cn-shanghai', keepalive: 1201 }), /keepalive 1201 s is out of range: the platform accepts 30-1200 s/);
    assert.throws(() => resolveConnection({ ...base, region: 'cn-shanghai', signMethod: 'sha1' as never }), /sign method "sha1" is not supported/);
    assert.throws(() => resolveConnection({ ...base }), /set either the instance endpoint, or the region/);
    assert.throws(() => resolveConnection({ ...base, deviceSecret: '', region: 'cn-shanghai' }), /deviceSecret is empty/);
  });

  it('generic mode: URL scheme, credentials in the URL, persistent session without client ID, half a client certificate', function () {
    assert.throws(() => resolveConnection({ mode: 'mqtt', url: 'http://host:1883' }), /scheme "http" is not supported: use mqtt, mqtts, ws or wss/);
    assert.throws(() => resolveConnection({ mode: 'mqtt', url: 'mqtt://u:p@host' }), /the broker URL must not contain a user name or password.*their own fields/);
    assert.throws(() => resolveConnection({ mode: 'mqtt', url: 'mqtt://host', clean: false }), /needs a fixed client ID/);
    assert.throws(() => resolveConnection({ mode: 'mqtt', url: 'mqtt://host', tls: { cert: 'PEM' } }), /certificate and key go together/);
    // A client certificate or key that is not usable PEM is a setting to fix, said when the options are read: not a
    // bare OpenSSL error thrown out of start() (which left the connection "connecting" for ever).
    const key = '-----BEGIN PRIVATE KEY-----\nnot-a-key-but-secret-text\n-----END PRIVATE KEY-----\n';
    for (const tls of [{ cert: 'PEM', key: 'PEM' }, { cert: 'not a certificate', key }]) {
      assert.throws(
        () => new IotConnection({ mode: 'mqtt', url: 'mqtts://127.0.0.1:8883', tls }),
        (e: unknown) => e instanceof Error && e.name === 'ConnectionConfigError' && /TLS client certificate or key is not usable/.test(e.message) && !e.message.includes('secret-text'),
      );
    }
    const certs = path.join(__dirname, '../../emulators/sts/certs');
    const good = { cert: fs.readFileSync(path.join(certs, 'server.pem'), 'utf8'), key: fs.readFileSync(path.join(certs, 'server-key.pem'), 'utf8') };
    assert.equal(resolveConnection({ mode: 'mqtt', url: 'mqtts://host:8883', tls: good }).clientOptions.cert, good.cert);
    const r = resolveConnection({ mode: 'mqtt', url: 'mqtts://host:8883', username: 'u', password: 'topsecret', tls: { rejectUnauthorized: false } });
    assert.match(String(r.clientOptions.clientId), /^nodered_[0-9a-f]{12}$/);
    assert.equal(r.clientOptions.rejectUnauthorized, false);
    assert.equal(r.display, 'mqtts://host:8883');
  });
});

describe('lib/iot subscription merging (MQTT 3.1.1)', function () {
  it('filterCovers follows MQTT matching', function () {
    const cases: Array<[string, string, boolean]> = [
      ['/pk/#', '/pk/+/user/update', true],
      ['/pk/+/user/+', '/pk/dev1/user/update', true],
      ['/pk/+/user/update', '/pk/#', false],
      ['/pk/dev1/user/+', '/pk/+/user/update', false],
      ['#', '$SYS/x', false],
      ['/a/#', '/a', true],
      ['/a/+', '/a/+/b', false],
      ['/a/b', '/a/b', true],
    ];
    for (const [outer, inner, expected] of cases) assert.equal(filterCovers(outer, inner), expected, `${outer} ⊇ ${inner}`);
  });

  it('subscribes only the broadest filter, with the highest QoS; shared subscriptions stay apart', function () {
    const conn = new IotConnection({ mode: 'mqtt', url: 'mqtt://127.0.0.1:1' });
    const h = { onMessage: () => undefined };
    conn.subscribe('a', '/pk/+/user/update', 1, h);
    conn.subscribe('b', '/pk/#', 0, h);
    conn.subscribe('c', '/pk/+/user/update', 2, h);
    conn.subscribe('d', '$share/g/pk/#', 1, h);
    conn.subscribe('e', '/other/x', 0, h);
    assert.deepEqual([...conn.wantedSubscriptions().entries()].sort(), [['$share/g/pk/#', 1], ['/other/x', 0], ['/pk/#', 2]]);
    conn.unsubscribe('b');
    assert.deepEqual([...conn.wantedSubscriptions().entries()].sort(), [['$share/g/pk/#', 1], ['/other/x', 0], ['/pk/+/user/update', 2]]);
    assert.throws(() => conn.subscribe('f', '/pk/a+', 0, h), /"\+" must be a whole level/);
  });
});

describe('lib/iot payloads and msg.iot', function () {
  it('decodes auto / string / buffer', function () {
    assert.deepEqual(decodePayload(Buffer.from(' {"a":1}'), 'auto'), { a: 1 });
    assert.equal(decodePayload(Buffer.from('42'), 'auto'), 42);
    assert.equal(decodePayload(Buffer.from('hello'), 'auto'), 'hello');
    assert.equal(decodePayload(Buffer.from('{broken'), 'auto'), '{broken');
    assert.equal(decodePayload(Buffer.from(''), 'auto'), '');
    const bin = Buffer.from([0x7b, 0xff, 0xfe]);
    assert.equal(decodePayload(bin, 'auto'), bin, 'bytes that are not UTF-8 stay a Buffer');
    assert.equal(decodePayload(Buffer.from('\uFFFD ok'), 'auto'), '\uFFFD ok', 'a real U+FFFD is text');
    assert.equal(decodePayload(Buffer.from('{"a":1}'), 'string'), '{"a":1}');
    assert.ok(Buffer.isBuffer(decodePayload(Buffer.from('x'), 'buffer')));
  });

  it('takes the Alink id as messageId, else generates unique increasing IDs', function () {
    assert.equal(alinkId({ id: '123' }), '123');
    assert.equal(alinkId({ id: 4294967295 }), '4294967295');
    assert.equal(alinkId({ id: 'abc' }), undefined);
    assert.equal(alinkId({ id: -1 }), undefined);
    const ids = Array.from({ length: 2000 }, () => generateMessageId(1700000000000));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids, 'increasing');
    const raw = Buffer.from('{"id":"55","params":{}}');
    const meta = iotMeta('/as/mqtt/status/pk1/dev9', raw, 1, 1700000000000);
    assert.deepEqual({ ...meta, raw: undefined }, { topic: '/as/mqtt/status/pk1/dev9', topicClass: 'status', productKey: 'pk1', deviceName: 'dev9', messageId: '55', receivedAt: 1700000000000, qos: 1, raw: undefined });
  });

  it('Pub endpoint from a region or a URL', function () {
    assert.equal(iotEndpoint('cn-shanghai'), 'https://iot.cn-shanghai.aliyuncs.com');
    assert.equal(iotEndpoint('http://127.0.0.1:9000'), 'http://127.0.0.1:9000/');
    assert.throws(() => iotEndpoint('shanghai'), /neither a region .* nor an endpoint URL/);
  });
});

describe('lib/iot publish while disconnected', function () {
  it('waits a bounded time for the connection, then fails without sending later', async function () {
    const conn = new IotConnection({ mode: 'mqtt', url: 'mqtt://127.0.0.1:1', backoff: { initialMs: 10_000 } });
    conn.start();
    try {
      await assert.rejects(conn.publish('/a/b', 'x', { qos: 1, waitMs: 200 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'NOT_CONNECTED');
        assert.match(err.message, /not connected to mqtt:\/\/127\.0\.0\.1:1 after 200 ms .*message not sent/);
        return true;
      });
      await assert.rejects(conn.publish('/a/+', 'x'), /wildcard/);
    } finally {
      await conn.stop();
    }
    await assert.rejects(conn.publish('/a/b', 'x'), /closed/);
  });
});

describe('lib/iot connection against Mosquitto', function () {
  before(function () {
    requireMosquitto(this);
  });

  it('two connections with one client ID stop taking turns: one gives way after two short-lived logins', async function () {
    const mosq = await startMosquitto();
    const backoff = { initialMs: 50, maxMs: 200, stableMs: 5000, kickedMs: 60_000 };
    const a = new IotConnection({ mode: 'mqtt', url: mosq.url, clientId: 'same-id', backoff });
    const b = new IotConnection({ mode: 'mqtt', url: mosq.url, clientId: 'same-id', backoff });
    const firstUp = (c: IotConnection): Promise<void> =>
      new Promise((resolve) => {
        const on = (st: ConnectionStatus): void => {
          if (st.state === 'connected') {
            c.off('status', on);
            resolve();
          }
        };
        c.on('status', on);
      });
    try {
      const up = firstUp(a);
      a.start();
      await up;
      const kicked = new Promise<[IotConnection, ConnectionStatus]>((resolve) => {
        for (const c of [a, b]) c.on('status', (st: ConnectionStatus) => st.state === 'kicked' && resolve([c, st]));
      });
      b.start();
      const [loser, st] = await kicked;
      assert.equal(st.reason, 'kicked: another connection uses this client ID');
      assert.ok((st.retryInMs ?? 0) >= 30_000, `holds off (${st.retryInMs} ms)`);
      const winner = loser === a ? b : a;
      if (!winner.connected) await firstUp(winner);
      assert.ok(a.connects + b.connects <= 5, `few logins in all (${a.connects} + ${b.connects})`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await mosq.stop();
    }
  });
});
