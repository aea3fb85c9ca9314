import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { signDevice } from '../../../lib/iot/signing';
import { startIotPlatform, type IotPlatform, type Refusal } from '../../../emulators/iot';
import { connectClient, endAll, nextMessage, once, refusalCode, subackCodes } from './helpers';

const PK = 'a1B2c3D4e5F';
const SECRET1 = '0123456789abcdef0123456789abcdef';
const SECRET2 = 'fedcba9876543210fedcba9876543210';
const APP = { username: 'node-red-app', password: 'app-password-123' };

describe('local IoT platform: MQTT broker with device login', () => {
  let platform: IotPlatform;
  let clients: Array<MqttClient | undefined>;

  beforeEach(async () => {
    clients = [];
    platform = await startIotPlatform({
      devices: [
        { productKey: PK, deviceName: 'sensor01', deviceSecret: SECRET1 },
        { productKey: PK, deviceName: 'sensor02', deviceSecret: SECRET2 },
      ],
      application: APP,
      openApiPort: false,
    });
  });

  afterEach(async () => {
    await endAll(clients);
    await platform.stop();
  });

  const login1 = (over: Partial<Parameters<typeof signDevice>[0]> = {}) =>
    signDevice({ productKey: PK, deviceName: 'sensor01', deviceSecret: SECRET1, secureMode: 3, ...over });

  async function app(): Promise<MqttClient> {
    const c = await connectClient(platform.mqttUrl, { clientId: 'app-1', ...APP });
    clients.push(c);
    return c;
  }

  it('logs a device in over TCP and over WebSocket with every sign method', async () => {
    for (const signMethod of ['hmacsha256', 'hmacsha1', 'hmacmd5'] as const) {
      const c = await connectClient(platform.mqttUrl, login1({ signMethod }));
      clients.push(c);
      assert.deepEqual(
        platform.connectedDevices().map((d) => [d.productKey, d.deviceName, d.transport]),
        [[PK, 'sensor01', 'tcp']],
      );
      await c.endAsync();
    }
    const ws = await connectClient(platform.wsUrl, login1());
    clients.push(ws);
    assert.equal(platform.connectedDevices()[0]?.transport, 'ws');
  });

  it('refuses a wrong secret and a mismatched sign method with CONNACK 5, a malformed login with 4', async () => {
    assert.equal(await refusalCode(platform.mqttUrl, login1({ deviceSecret: SECRET2 })), 5);
    // Signed with hmacsha1 but announced as hmacsha256.
    const sha1 = login1({ signMethod: 'hmacsha1', timestamp: 1700000000000 });
    const lying = { ...sha1, clientId: sha1.clientId.replace('signmethod=hmacsha1', 'signmethod=hmacsha256') };
    assert.equal(await refusalCode(platform.mqttUrl, lying), 5);
    assert.equal(await refusalCode(platform.mqttUrl, { ...login1(), username: 'sensor01' }), 4);
    assert.equal(await refusalCode(platform.mqttUrl, signDevice({ productKey: PK, deviceName: 'ghost', deviceSecret: SECRET1 })), 5);
    assert.equal(platform.connectedDevices().length, 0);
    const reasons = platform.refusals().map((r) => r.reason);
    assert.match(reasons[0], /signature does not match/);
    assert.match(reasons[3], /does not exist/);
    for (const r of reasons) assert.ok(!r.includes(SECRET1) && !r.includes(SECRET2), 'no secret in refusal reasons');
  });

  it('refuses a keepalive outside 30-1200 s', async () => {
    assert.equal(await refusalCode(platform.mqttUrl, login1(), { keepalive: 10 }), 2);
    assert.match(platform.refusals()[0].reason, /keepalive 10 s/);
  });

  it('kicks the older connection of a device that logs in again, and the old client does not come back', async () => {
    const observer = await app();
    await observer.subscribeAsync([`/as/mqtt/status/${PK}/sensor01`, `/${PK}/sensor01/user/marker`]);
    const statuses: Array<{ status: string }> = [];
    observer.on('message', (t, p) => {
      if (t.startsWith('/as/')) statuses.push(JSON.parse(p.toString()) as { status: string });
    });

    const first = await connectClient(platform.mqttUrl, login1({ timestamp: 1 }));
    clients.push(first);
    let firstConnects = 1;
    first.on('connect', () => firstConnects++);
    const firstClosed = once(first, 'close');
    const kicked = once(platform.broker.events, 'offline');

    // Same device, different clientId string (another timestamp): still the same device.
    const second = await connectClient(platform.mqttUrl, login1({ timestamp: 2 }));
    clients.push(second);
    await firstClosed;
    const [, reason] = await kicked;
    assert.equal(reason, 'Kicked by the same device');
    assert.equal(platform.connectedDevices().length, 1);
    assert.equal(platform.connectedDevices()[0].mqttClientId, second.options.clientId);

    // The exact same client ID is kicked too (aedes' own rule, MQTT-3.1.4-2).
    const secondClosed = once(second, 'close');
    const third = await connectClient(platform.mqttUrl, login1({ timestamp: 2 }));
    clients.push(third);
    await secondClosed;
    assert.equal(platform.connectedDevices().length, 1);

    // A round trip through the broker proves the status messages before it have arrived.
    const marker = nextMessage(observer, `/${PK}/sensor01/user/marker`);
    await third.publishAsync(`/${PK}/sensor01/user/marker`, 'm', { qos: 1 });
    await marker;
    assert.deepEqual(
      statuses.map((s) => s.status),
      ['online', 'offline', 'online', 'offline', 'online'],
    );
    assert.equal(firstConnects, 1, 'reconnect disabled: the kicked client stays down');
    assert.equal(first.connected, false);
    assert.equal(first.reconnecting, false);
  });

  it('keeps a persistent session per device across logins with new timestamps (clean off, QoS 1 queued)', async () => {
    const first = await connectClient(platform.mqttUrl, login1({ timestamp: 1000 }), { clean: false });
    await first.subscribeAsync(`/${PK}/sensor01/user/get`, { qos: 1 });
    await first.endAsync();
    const observer = await app();
    await observer.publishAsync(`/${PK}/sensor01/user/get`, 'while-away', { qos: 1 });

    let queued: Promise<{ payload: Buffer }> | undefined;
    const c = await connectClient(platform.mqttUrl, login1({ timestamp: 2000 }), { clean: false }, (client) => {
      queued = nextMessage(client, `/${PK}/sensor01/user/get`); // listening before the CONNACK arrives
    });
    clients.push(c);
    assert.equal((await queued!).payload.toString(), 'while-away');
  });

  it('publishes online/offline status messages in the spec shape', async () => {
    const observer = await app();
    await observer.subscribeAsync('/as/mqtt/status/#');
    const online = nextMessage(observer, `/as/mqtt/status/${PK}/sensor02`);
    const dev = await connectClient(platform.mqttUrl, signDevice({ productKey: PK, deviceName: 'sensor02', deviceSecret: SECRET2 }));
    const body = JSON.parse((await online).payload.toString()) as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), ['clientIp', 'deviceName', 'lastTime', 'productKey', 'status', 'time', 'utcLastTime', 'utcTime']);
    assert.equal(body.status, 'online');
    assert.equal(body.deviceName, 'sensor02');
    assert.equal(body.clientIp, '127.0.0.1');
    assert.match(body.time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    assert.match(body.utcTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const offline = nextMessage(observer, `/as/mqtt/status/${PK}/sensor02`);
    await dev.endAsync();
    assert.equal((JSON.parse((await offline).payload.toString()) as { status: string }).status, 'offline');
  });

  it('keeps a device to its own topics: foreign subscribe gets 0x80, foreign publish is dropped', async () => {
    const observer = await app();
    await observer.subscribeAsync('#');
    const dev = await connectClient(platform.mqttUrl, login1());
    clients.push(dev);

    const granted = await subackCodes(dev, [
      `/${PK}/sensor01/user/get`,
      `/sys/${PK}/sensor01/thing/service/property/set`,
      `/${PK}/sensor02/user/get`,
      `/${PK}/+/user/get`,
      '#',
      `/broadcast/${PK}/news`,
    ]);
    assert.deepEqual(granted, [0, 0, 128, 128, 128, 0]);

    const seen: string[] = [];
    observer.on('message', (t) => {
      if (!t.startsWith('/as/mqtt/status/')) seen.push(t);
    });
    await dev.publishAsync(`/${PK}/sensor02/user/update`, 'spoof', { qos: 1 });
    await dev.publishAsync(`/sys/${PK}/sensor02/thing/event/property/post`, 'spoof', { qos: 1 });
    const own = nextMessage(observer, `/${PK}/sensor01/user/update`);
    await dev.publishAsync(`/${PK}/sensor01/user/update`, 'mine', { qos: 1 });
    await own;
    assert.deepEqual(seen, [`/${PK}/sensor01/user/update`]);
    assert.equal(dev.connected, true, 'a dropped publish keeps the connection');
    const refused = platform.refusals().filter((r: Refusal) => r.kind !== 'connect');
    assert.deepEqual(
      refused.map((r) => [r.kind, r.topic]),
      [
        ['subscribe', `/${PK}/sensor02/user/get`],
        ['subscribe', `/${PK}/+/user/get`],
        ['subscribe', '#'],
        ['publish', `/${PK}/sensor02/user/update`],
        ['publish', `/sys/${PK}/sensor02/thing/event/property/post`],
      ],
    );
    assert.equal(platform.recentMessages(`/${PK}/sensor02/user/update`).length, 0);
  });

  it('lets the application account subscribe to everything and publish down to a device', async () => {
    const observer = await app();
    const granted = await observer.subscribeAsync(['#', '/sys/+/+/thing/event/property/post']);
    assert.deepEqual(
      granted.map((g) => g.qos),
      [0, 0],
    );
    const d1 = await connectClient(platform.mqttUrl, login1());
    const d2 = await connectClient(platform.mqttUrl, signDevice({ productKey: PK, deviceName: 'sensor02', deviceSecret: SECRET2 }));
    clients.push(d1, d2);
    const got: string[] = [];
    const two = new Promise<void>((resolve) =>
      observer.on('message', (t) => {
        if (t.includes('/user/up')) got.push(t);
        if (got.length === 2) resolve();
      }),
    );
    await d1.publishAsync(`/${PK}/sensor01/user/up`, '1');
    await d2.publishAsync(`/${PK}/sensor02/user/up`, '2');
    await two;
    assert.deepEqual(got.sort(), [`/${PK}/sensor01/user/up`, `/${PK}/sensor02/user/up`]);

    await d1.subscribeAsync(`/${PK}/sensor01/user/get`);
    const down = nextMessage(d1, `/${PK}/sensor01/user/get`);
    await observer.publishAsync(`/${PK}/sensor01/user/get`, 'hello', { qos: 1 });
    assert.equal((await down).payload.toString(), 'hello');
    assert.equal(platform.recentMessages(`/${PK}/sensor01/user/up`)[0].from, d1.options.clientId);
  });

  it('splits a $share/<group>/ subscription of the application account: each message reaches one member', async () => {
    const a = await app();
    const b = await connectClient(platform.mqttUrl, { clientId: 'app-2', ...APP });
    const plain = await connectClient(platform.mqttUrl, { clientId: 'app-3', ...APP });
    clients.push(b, plain);
    const filter = `/${PK}/+/user/up`;
    await a.subscribeAsync(`$share/nodered/${filter}`);
    await b.subscribeAsync(`$share/nodered/${filter}`);
    await plain.subscribeAsync(filter);
    const got = { a: [] as string[], b: [] as string[], plain: [] as string[] };
    a.on('message', (_t, p) => got.a.push(p.toString()));
    b.on('message', (_t, p) => got.b.push(p.toString()));
    const all = new Promise<void>((resolve) =>
      plain.on('message', (_t, p) => {
        got.plain.push(p.toString());
        if (got.plain.length === 10) resolve();
      }),
    );
    const dev = await connectClient(platform.mqttUrl, login1());
    clients.push(dev);
    for (let i = 0; i < 10; i++) await dev.publishAsync(`/${PK}/sensor01/user/up`, String(i), { qos: 1 });
    await all;
    // A round trip to each member proves their deliveries are in.
    for (const c of [a, b]) {
      const marker = nextMessage(c, '/marker');
      await c.subscribeAsync('/marker');
      await c.publishAsync('/marker', 'x', { qos: 1 });
      await marker;
    }
    const shared = [...got.a, ...got.b].filter((m) => m !== 'x');
    assert.deepEqual(shared.sort(), got.plain.slice().sort(), 'each message once across the group');
    assert.ok(got.a.some((m) => m !== 'x') && got.b.some((m) => m !== 'x'), 'both members get a share');

    // Leaving the group with the $share name really unsubscribes.
    await a.unsubscribeAsync(`$share/nodered/${filter}`);
    got.b.length = 0;
    const toB = new Promise<void>((resolve) => b.on('message', () => got.b.length === 3 && resolve()));
    for (let i = 0; i < 3; i++) await dev.publishAsync(`/${PK}/sensor01/user/up`, `after${i}`, { qos: 1 });
    await toB;
    assert.deepEqual(got.b, ['after0', 'after1', 'after2']);
    const marker = nextMessage(a, '/marker');
    await a.publishAsync('/marker', 'y', { qos: 1 });
    await marker;
    assert.ok(!got.a.some((m) => m.startsWith('after')), 'the member that left gets nothing more');
  });

  it('refuses the application account with a wrong password', async () => {
    assert.equal(await refusalCode(platform.mqttUrl, { clientId: 'app-x', username: APP.username, password: 'nope' }), 5);
  });
});

describe('local IoT platform: disconnect on a forbidden publish when configured', () => {
  it('closes the device connection', async () => {
    const platform = await startIotPlatform({
      devices: [{ productKey: PK, deviceName: 'sensor01', deviceSecret: SECRET1 }],
      forbiddenPublish: 'disconnect',
      openApiPort: false,
      wsPort: false,
    });
    const dev = await connectClient(platform.mqttUrl, signDevice({ productKey: PK, deviceName: 'sensor01', deviceSecret: SECRET1 }));
    try {
      const closed = once(dev, 'close');
      dev.publish(`/${PK}/other/user/update`, 'x', { qos: 1 });
      await closed;
      assert.equal(platform.refusals()[0].kind, 'publish');
    } finally {
      await dev.endAsync(true);
      await platform.stop();
    }
  });
});
