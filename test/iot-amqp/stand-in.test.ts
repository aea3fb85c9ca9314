// The AMQP subscription client (lib/iot/amqp.ts) against the local AMQP stand-in (emulators/iot/amqp.ts): Alibaba's
// login (aksign and STS), consumer groups, acknowledgement and redelivery, backlog, limits and faults. A few checks
// use a bare rhea connection so that the stand-in's rules are seen without our client in between.
import assert from 'node:assert/strict';
import { create_container, type Connection, type EventContext } from 'rhea';
import { signDevice } from '../../lib/iot/signing';
import { signAmqp, amqpPassword } from '../../lib/iot/amqp-sign';
import { amqpToIotMessage, backoffDelay, classifyAmqpError, parseAmqpEndpoint } from '../../lib/iot/amqp';
import { assumeRole } from '../../lib/credentials';
import { DEMO_ACCESS_KEY, DEMO_DEVICES, DEMO_ROLE_ARN, type LocalCloud } from '../../emulators';
import { connectClient, endAll } from '../emulators/iot/helpers';
import { client, startCloud, waitUntil, GROUP, OTHER_GROUP, type TestClient } from './support';

describe('AMQP login signature (spec §4.2 #3, §4.4, §4.7)', () => {
  it('matches the worked vector', () => {
    assert.equal(amqpPassword('hmacsha1', 'EXAMPLE_SECRET', 'LTAI_EXAMPLE_ID', 1573489088171), '0dTeV7hyoDeAUiWD8NmfZnhEHgY=');
    const l = signAmqp({ clientId: 'nr-1', consumerGroupId: 'DEFAULT_GROUP', accessKeyId: 'LTAI_EXAMPLE_ID', accessKeySecret: 'EXAMPLE_SECRET', timestamp: 1573489088171, iotInstanceId: 'iot-06z00abc' });
    assert.equal(l.username, 'nr-1|iotInstanceId=iot-06z00abc,authMode=aksign,signMethod=hmacsha1,consumerGroupId=DEFAULT_GROUP,authId=LTAI_EXAMPLE_ID,timestamp=1573489088171|');
    assert.equal(l.password, '0dTeV7hyoDeAUiWD8NmfZnhEHgY=');
  });

  it('uses authMode=ststoken with the security token for STS credentials', () => {
    const l = signAmqp({ clientId: 'c', consumerGroupId: 'g', accessKeyId: 'STS.x', accessKeySecret: 's', securityToken: 'TOKEN', timestamp: 1 });
    assert.match(l.username, /authMode=ststoken,securityToken=TOKEN,signMethod=hmacsha1/);
  });

  it('refuses bad settings with what to fix, never quoting the secret', () => {
    assert.throws(() => signAmqp({ clientId: 'a|b', consumerGroupId: 'g', accessKeyId: 'k', accessKeySecret: 'TOPSECRET' }), (e: Error) => /client ID/.test(e.message) && !e.message.includes('TOPSECRET'));
    assert.throws(() => signAmqp({ clientId: 'a', consumerGroupId: '', accessKeyId: 'k', accessKeySecret: 'TOPSECRET' }), /consumer group ID/);
    assert.throws(() => signAmqp({ clientId: 'a', consumerGroupId: 'g', accessKeyId: 'k', accessKeySecret: 's', signMethod: 'sha1' as never }), /sign method/);
  });

  it('recomputes the timestamp for each attempt', () => {
    const a = signAmqp({ clientId: 'c', consumerGroupId: 'g', accessKeyId: 'k', accessKeySecret: 's', timestamp: 1000 });
    const b = signAmqp({ clientId: 'c', consumerGroupId: 'g', accessKeyId: 'k', accessKeySecret: 's', timestamp: 2000 });
    assert.notEqual(a.password, b.password);
  });
});

describe('AMQP client helpers', () => {
  it('endpoint: host alone is amqps:5671; URLs keep their scheme and port; credentials in the URL are refused', () => {
    assert.deepEqual(parseAmqpEndpoint('123.iot-amqp.cn-shanghai.aliyuncs.com'), { host: '123.iot-amqp.cn-shanghai.aliyuncs.com', port: 5671, tls: true });
    assert.deepEqual(parseAmqpEndpoint('amqp://127.0.0.1:17106'), { host: '127.0.0.1', port: 17106, tls: false });
    assert.throws(() => parseAmqpEndpoint('amqps://u:PASSWORD@h'), (e: Error) => /credentials fields/.test(e.message) && !e.message.includes('PASSWORD'));
    assert.throws(() => parseAmqpEndpoint('http://h'), /amqps:\/\//);
  });

  it('backoff is capped and jittered', () => {
    assert.equal(backoffDelay(0, 1000, 60_000, () => 1), 1000);
    assert.equal(backoffDelay(0, 1000, 60_000, () => 0), 500);
    assert.equal(backoffDelay(20, 1000, 60_000, () => 1), 60_000);
  });

  it('classifies refusals', () => {
    assert.equal(classifyAmqpError({ condition: 'amqp:unauthorized-access', description: 'Failed to authenticate: 1' }).reason, 'signature');
    assert.equal(classifyAmqpError({ condition: 'amqp:not-found', description: 'consumer group x does not exist' }).reason, 'group');
    assert.equal(classifyAmqpError({ condition: 'amqp:resource-limit-exceeded', description: 'limit' }).reason, 'throttled');
    assert.equal(classifyAmqpError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })).reason, 'network');
  });

  it('a message without application properties still becomes a message; missing fields are absent', () => {
    const m = amqpToIotMessage({ body: Buffer.from('{"id":"7","a":1}'), properties: {} }, 'auto', 1000);
    assert.equal(m.complete, false);
    assert.equal(m.topic, undefined);
    assert.equal(m.iot.topic, undefined);
    assert.equal(m.iot.productKey, undefined);
    assert.equal(m.iot.messageId, '7');
    assert.deepEqual(m.payload, { id: '7', a: 1 });
    const bad = amqpToIotMessage({ body: Buffer.from([0xff, 0xfe, 0x00]), properties: { topic: '/pk/dn/user/x', messageId: 5, generateTime: 1700000000000 } }, 'auto');
    assert.ok(Buffer.isBuffer(bad.payload), 'bytes that are not UTF-8 stay a Buffer, as in device in');
    assert.deepEqual({ ...bad.iot, raw: undefined }, { topic: '/pk/dn/user/x', topicClass: 'custom', productKey: 'pk', deviceName: 'dn', messageId: '5', receivedAt: 1700000000000, qos: 0, raw: undefined });
  });
});

describe('local AMQP stand-in with the lib client', function () {
  this.timeout(60_000);
  let cloud: LocalCloud;
  const clients: TestClient[] = [];
  const open = (over: Parameters<typeof client>[1] = {}): TestClient => {
    const c = client(cloud, over);
    clients.push(c);
    c.sub.start();
    return c;
  };
  const connected = (c: TestClient): Promise<void> => waitUntil('connected', () => c.sub.status?.state === 'connected');
  const publish = (n: number, topic = '/a1DemoHot01/sensor-01/user/data'): string[] => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const m = cloud.iot!.amqp!.messageFor(topic, Buffer.from(JSON.stringify({ n: i })));
      ids.push(String(m.properties.messageId));
      cloud.iot!.amqp!.publish(m);
    }
    return ids;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.sub.stop()));
    await cloud?.stop();
  });

  it('logs in with an AccessKey over TLS and receives a device property post in the thing-model form', async () => {
    cloud = await startCloud();
    const c = open();
    await connected(c);
    const dev = DEMO_DEVICES[0];
    const mqtt = await connectClient(cloud.iot!.mqttUrl, signDevice({ ...dev, secureMode: 3 }));
    try {
      const topic = `/sys/${dev.productKey}/${dev.deviceName}/thing/event/property/post`;
      await mqtt.publishAsync(topic, JSON.stringify({ id: '42', version: '1.0', params: { temperature: 36.6 }, method: 'thing.event.property.post' }));
      await waitUntil('the post', () => c.got.some((m) => m.properties.topic === topic));
      const m = c.got.find((x) => x.properties.topic === topic)!;
      assert.equal(typeof m.properties.messageId, 'string');
      assert.equal(typeof m.properties.generateTime, 'number');
      const body = JSON.parse(m.body.toString()) as { items: { temperature: { value: number } }; deviceName: string; requestId: string };
      assert.equal(body.items.temperature.value, 36.6);
      assert.equal(body.deviceName, dev.deviceName);
      assert.equal(body.requestId, '42');
      // The device's online event came first, as a status message.
      assert.ok(c.got.some((x) => x.properties.topic === `/as/mqtt/status/${dev.productKey}/${dev.deviceName}`));
      await waitUntil('accepted', () => cloud.iot!.amqp!.stats(GROUP).accepted === c.got.length);
      assert.equal(cloud.iot!.amqp!.stats(GROUP).inflight, 0);
    } finally {
      await endAll([mqtt]);
    }
  });

  it('refuses a wrong signature and an unknown group, and the client says which', async () => {
    cloud = await startCloud();
    const bad = open({ secret: 'wrong-secret' });
    const nogroup = open({ group: 'no-such-group', clientId: 'c2' });
    await waitUntil('signature refused', () => bad.statuses.some((s) => s.state === 'retrying' && s.reason === 'signature'));
    await waitUntil('group unknown', () => nogroup.statuses.some((s) => s.state === 'retrying' && s.reason === 'group'));
    assert.ok(cloud.iot!.amqp!.refusals().some((r) => r.reason === 'signature does not match'));
    assert.ok(bad.logins.length >= 1);
    for (const s of [...bad.statuses, ...nogroup.statuses]) assert.ok(!JSON.stringify(s).includes('wrong-secret'));
  });

  it('accepts STS credentials the local STS issued (ststoken), and refuses a forged token', async () => {
    cloud = await startCloud();
    const { credentials } = await assumeRole({ endpoint: cloud.urls.sts }, { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret }, { roleArn: DEMO_ROLE_ARN, roleSessionName: 'amqp-test' });
    const good = open({ accessKeyId: credentials.accessKeyId, secret: credentials.accessKeySecret, securityToken: credentials.securityToken });
    await connected(good);
    assert.equal(cloud.iot!.amqp!.clientsOf(GROUP)[0].authMode, 'ststoken');
    const forged = open({ accessKeyId: credentials.accessKeyId, secret: credentials.accessKeySecret, securityToken: 'forged', clientId: 'c2' });
    await waitUntil('forged refused', () => forged.statuses.some((s) => s.reason === 'signature'));
  });

  it('consumer groups: each message to one client of a group, every group gets every message', async () => {
    cloud = await startCloud();
    const a1 = open({ clientId: 'a1' });
    const a2 = open({ clientId: 'a2' });
    const b = open({ clientId: 'b1', group: OTHER_GROUP });
    await Promise.all([a1, a2, b].map(connected));
    const ids = publish(200);
    await waitUntil('all', () => a1.got.length + a2.got.length === 200 && b.got.length === 200);
    const inA = [...a1.got, ...a2.got].map((m) => String(m.properties.messageId)).sort();
    assert.deepEqual(inA, [...ids].sort(), 'group A got every message exactly once');
    assert.ok(a1.got.length > 0 && a2.got.length > 0, `both clients of group A got messages (${a1.got.length}/${a2.got.length})`);
  });

  it('a released message is delivered again at once; an unsettled one after the redelivery time', async () => {
    cloud = await startCloud({ redeliverAfterMs: 300 });
    let first = true;
    const held: string[] = [];
    const c = open({
      handle: (m) => {
        const id = String(m.properties.messageId);
        if (id === ids[0] && first) {
          first = false;
          m.release();
        } else if (id === ids[1] && !held.includes(id)) held.push(id); // never settled
        else m.accept();
      },
    });
    await connected(c);
    const ids = publish(3);
    await waitUntil('redeliveries', () => c.got.filter((m) => m.properties.messageId === ids[0]).length === 2 && c.got.filter((m) => m.properties.messageId === ids[1]).length === 2);
    await waitUntil('all accepted', () => cloud.iot!.amqp!.stats(GROUP).accepted === 3);
  });

  it('keeps a backlog while no client is connected, and the credit bounds what a client holds unsettled', async () => {
    cloud = await startCloud();
    publish(30);
    assert.equal(cloud.iot!.amqp!.stats(GROUP).backlog, 30);
    const c = open({ prefetch: 5, handle: () => undefined });
    await connected(c);
    await waitUntil('five', () => c.got.length === 5);
    await new Promise((r) => setImmediate(r));
    assert.equal(cloud.iot!.amqp!.stats(GROUP).inflight, 5);
    assert.equal(cloud.iot!.amqp!.stats(GROUP).backlog, 25);
    c.got[0].accept();
    await waitUntil('one more after an accept', () => c.got.length === 6);
  });

  it('limits the clients of a group (throttled)', async () => {
    cloud = await startCloud({ maxClientsPerGroup: 1 });
    const a = open({ clientId: 'a' });
    await connected(a);
    const b = open({ clientId: 'b' });
    await waitUntil('throttled', () => b.statuses.some((s) => s.reason === 'throttled'));
  });

  it('after dropped connections the client logs in with a new signature, re-opens its receiver, and gets what was unsettled', async () => {
    cloud = await startCloud();
    const c = open({ handle: () => undefined });
    await connected(c);
    publish(3);
    await waitUntil('three', () => c.got.length === 3);
    cloud.iot!.amqp!.dropConnections();
    await waitUntil('network status', () => c.statuses.some((s) => s.state === 'retrying' && s.reason === 'network'));
    await waitUntil('reconnected and redelivered', () => c.got.length === 6);
    assert.ok(c.logins.length >= 2);
    assert.notEqual(c.logins[0], c.logins[c.logins.length - 1], 'a fresh timestamp at each reconnect');
    publish(1);
    await waitUntil('new message after the reconnect', () => c.got.length === 7);
  });

  it('refusing logins is a fault the client survives', async () => {
    cloud = await startCloud();
    cloud.iot!.amqp!.setFaults({ refuseLogins: true });
    const c = open();
    await waitUntil('refused', () => c.statuses.filter((s) => s.reason === 'signature').length >= 2);
    cloud.iot!.amqp!.clearFaults();
    await connected(c);
  });

  it('slow acknowledgements past the redelivery time lead to a duplicate, never a loss', async () => {
    cloud = await startCloud({ redeliverAfterMs: 200 });
    cloud.iot!.amqp!.setFaults({ ackDelayMs: 600 });
    const c = open();
    await connected(c);
    const [id] = publish(1);
    await waitUntil('duplicate', () => c.got.filter((m) => m.properties.messageId === id).length >= 2);
    cloud.iot!.amqp!.clearFaults();
    await waitUntil('settled', () => cloud.iot!.amqp!.stats(GROUP).inflight === 0 && cloud.iot!.amqp!.stats(GROUP).backlog === 0);
  });

  describe('connection rules (bare rhea)', () => {
    const bare = (opts: Record<string, unknown>): Promise<{ condition?: string; description?: string }> =>
      new Promise((resolve) => {
        const amqp = new URL(cloud.iot!.amqp!.url);
        const login = signAmqp({ clientId: 'bare', consumerGroupId: GROUP, accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret });
        const conn: Connection = create_container().connect({ host: amqp.hostname, port: Number(amqp.port), reconnect: false, username: login.username, password: login.password, ...opts } as never);
        conn.on('connection_close', (ctx: EventContext) => resolve((ctx.connection.error ?? {}) as { condition?: string }));
        conn.on('connection_error', (ctx: EventContext) => resolve((ctx.connection.error ?? {}) as { condition?: string }));
        conn.on('disconnected', () => resolve({}));
      });

    it('closes a connection that opens no receiver in time', async () => {
      cloud = await startCloud({ receiverWithinMs: 300 });
      const err = await bare({ idle_time_out: 60_000 });
      assert.equal(err.condition, 'amqp:precondition-failed');
    });

    it('refuses an idle timeout outside 30-300 s', async () => {
      cloud = await startCloud();
      const err = await bare({ idle_time_out: 5_000 });
      assert.equal(err.condition, 'amqp:invalid-field');
      assert.match(String(err.description), /idle timeout/);
    });
  });
});
