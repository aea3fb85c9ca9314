import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startIotPlatform, type IotPlatform } from '../../../emulators/iot';
import { startSimulator, type Simulator } from '../../../emulators/simulator';
import { connectClient, endAll, nextMessage } from './helpers';

const PK = 'a1SimProd01';
const APP = { username: 'app', password: 'app-pass' };

interface AlinkPost {
  id: string;
  version: string;
  method: string;
  params: Record<string, { value: number; time: number }>;
}

describe('device simulator against the local IoT platform', () => {
  let platform: IotPlatform;
  let app: MqttClient | undefined;
  let sim: Simulator | undefined;

  beforeEach(async () => {
    platform = await startIotPlatform({ application: APP, openApiPort: false, wsPort: false, recentPerTopic: 1000 });
    app = await connectClient(platform.mqttUrl, { clientId: 'observer', ...APP });
  });

  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
    await endAll([app]);
    await platform.stop();
  });

  it('logs N devices in and posts Alink property posts at the configured rate, each answered by a post_reply', async () => {
    const intervalMs = 25;
    const perDevice = 12;
    await app!.subscribeAsync('/sys/+/+/thing/event/property/post');
    const posts = new Map<string, Array<{ at: number; body: AlinkPost }>>();
    let total = 0;
    const enough = new Promise<void>((resolve) =>
      app!.on('message', (topic, payload) => {
        const dn = topic.split('/')[3];
        const list = posts.get(dn) ?? [];
        list.push({ at: Date.now(), body: JSON.parse(payload.toString()) as AlinkPost });
        posts.set(dn, list);
        total++;
        if ([...posts.values()].filter((l) => l.length >= perDevice).length === 3) resolve();
      }),
    );
    sim = await startSimulator({ url: platform.mqttUrl, registry: platform.registry, productKey: PK, count: 3, intervalMs, seed: 7, reconnectPeriod: 0 });
    assert.deepEqual(
      platform
        .connectedDevices()
        .map((d) => d.deviceName)
        .sort(),
      ['sim-0001', 'sim-0002', 'sim-0003'],
    );
    await enough;

    for (const [dn, list] of posts) {
      const first = list[0];
      const nth = list[perDevice - 1];
      // Not faster than configured: N posts take at least (N-1) intervals (minus timer slack).
      assert.ok(nth.at - first.at >= (perDevice - 1) * intervalMs * 0.8, `${dn} posted too fast: ${nth.at - first.at} ms`);
      for (let i = 0; i < list.length; i++) {
        const { body } = list[i];
        assert.equal(body.method, 'thing.event.property.post');
        assert.equal(body.version, '1.0');
        assert.equal(body.id, String(i + 1), 'ids count up per device');
        const t = body.params.Temperature.value;
        const h = body.params.Humidity.value;
        assert.ok(t > -20 && t < 60 && h >= 0 && h <= 100);
        if (i > 0) {
          assert.ok(Math.abs(t - list[i - 1].body.params.Temperature.value) <= 1, 'temperature drifts, it does not jump');
          assert.ok(Math.abs(h - list[i - 1].body.params.Humidity.value) <= 2.5, 'humidity drifts, it does not jump');
        }
      }
    }
    // After a clean stop the simulator's count equals what the platform received, exactly.
    await sim.stop();
    const counts = sim.counts();
    const received = ['sim-0001', 'sim-0002', 'sim-0003']
      .map((d) => platform.recentMessages(`/sys/${PK}/${d}/thing/event/property/post`).length)
      .reduce((a, b) => a + b, 0);
    assert.ok(total >= perDevice * 3);
    assert.equal(counts.propertyPosts, received);
    assert.ok(counts.postReplies > 0, 'the platform answers posts with post_reply');
    assert.equal(counts.errors, 0);
  });

  it('answers property set with a _reply and posts the new value; answers the custom down-link on user/update', async () => {
    sim = await startSimulator({ url: platform.mqttUrl, registry: platform.registry, productKey: PK, count: 1, intervalMs: 0, reconnectPeriod: 0 });
    const dn = 'sim-0001';
    await app!.subscribeAsync([`/sys/${PK}/${dn}/thing/service/property/set_reply`, `/sys/${PK}/${dn}/thing/event/property/post`, `/${PK}/${dn}/user/update`]);

    const reply = nextMessage(app!, `/sys/${PK}/${dn}/thing/service/property/set_reply`);
    await app!.publishAsync(
      `/sys/${PK}/${dn}/thing/service/property/set`,
      JSON.stringify({ id: '42', version: '1.0', params: { Temperature: 30 }, method: 'thing.service.property.set' }),
      { qos: 1 },
    );
    assert.deepEqual(JSON.parse((await reply).payload.toString()), { id: '42', code: 200, data: {}, message: 'success', version: '1.0' });
    const posted = nextMessage(app!, `/sys/${PK}/${dn}/thing/event/property/post`);
    await sim.devices[0].post();
    const value = (JSON.parse((await posted).payload.toString()) as AlinkPost).params.Temperature.value;
    assert.ok(Math.abs(value - 30) < 1, `posted ${value} after setting 30`);

    const badReply = nextMessage(app!, `/sys/${PK}/${dn}/thing/service/property/set_reply`);
    await app!.publishAsync(`/sys/${PK}/${dn}/thing/service/property/set`, 'not json', { qos: 1 });
    assert.equal((JSON.parse((await badReply).payload.toString()) as { code: number }).code, 460);

    const update = nextMessage(app!, `/${PK}/${dn}/user/update`);
    await app!.publishAsync(`/${PK}/${dn}/user/get`, JSON.stringify({ ask: 'status' }), { qos: 1 });
    const body = JSON.parse((await update).payload.toString()) as { request: unknown; deviceName: string; properties: Record<string, number> };
    assert.deepEqual(body.request, { ask: 'status' });
    assert.equal(body.deviceName, dn);
    assert.equal(typeof body.properties.Humidity, 'number');
    const counts = sim.counts();
    assert.deepEqual([counts.propertySets, counts.downlinks], [2, 1]);
  });

  it('stop() logs every device out', async () => {
    sim = await startSimulator({ url: platform.mqttUrl, registry: platform.registry, productKey: PK, count: 2, intervalMs: 1000, reconnectPeriod: 0 });
    assert.equal(platform.connectedDevices().length, 2);
    let offline = 0;
    const allOffline = new Promise<void>((resolve) =>
      platform.broker.events.on('offline', () => {
        if (++offline === 2) resolve();
      }),
    );
    await sim.stop();
    await allOffline;
    assert.equal(platform.connectedDevices().length, 0);
  });

  it('refuses to start with a device the platform does not know, saying which', async () => {
    await assert.rejects(
      startSimulator({ url: platform.mqttUrl, devices: [{ productKey: PK, deviceName: 'ghost', deviceSecret: 'x' }], reconnectPeriod: 0 }),
      /device a1SimProd01\/ghost could not log in: .*Not authorized/i,
    );
  });
});
