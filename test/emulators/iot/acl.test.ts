import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { signDevice } from '../../../lib/iot/signing';
import { startIotPlatform, type IotPlatform, type Refusal } from '../../../emulators/iot';
import { devicePublishAllowed, deviceSubscribeAllowed } from '../../../emulators/iot/acl';
import { connectClient, endAll, nextMessage, subackCodes } from './helpers';

// iot-device §4.8: besides its /sys/{pk}/{dn}/... and /{pk}/{dn}/... topics, the platform grants a device these,
// each in one direction. Written out here from the spec, not taken from the emulator.
const PK = 'a1AclTest01';
const PUBLISH_ONLY = (dn: string) => [
  `/shadow/update/${PK}/${dn}`,
  `/ota/device/inform/${PK}/${dn}`,
  `/ext/ntp/${PK}/${dn}/request`,
  `/ext/session/${PK}/${dn}/combine/login`,
  `/ext/session/${PK}/${dn}/combine/logout`,
];
const SUBSCRIBE_ONLY = (dn: string) => [
  `/shadow/get/${PK}/${dn}`,
  `/ota/device/upgrade/${PK}/${dn}`,
  `/ext/ntp/${PK}/${dn}/response`,
  `/ext/session/${PK}/${dn}/combine/login_reply`,
  `/ext/session/${PK}/${dn}/combine/logout_reply`,
];

describe('local IoT platform: device topic ACL (iot-device §4.8)', () => {
  describe('the rules', () => {
    it('grants each §4.8 topic to its own device in its one direction', () => {
      for (const t of PUBLISH_ONLY('dev1')) {
        assert.equal(devicePublishAllowed(PK, 'dev1', t), true, `publish ${t}`);
        assert.equal(deviceSubscribeAllowed(PK, 'dev1', t), false, `subscribe ${t}`);
      }
      for (const t of SUBSCRIBE_ONLY('dev1')) {
        assert.equal(deviceSubscribeAllowed(PK, 'dev1', t), true, `subscribe ${t}`);
        assert.equal(devicePublishAllowed(PK, 'dev1', t), false, `publish ${t}`);
      }
    });

    it("refuses another device's §4.8 topics, wildcards over them, and longer or shorter look-alikes", () => {
      for (const t of [...PUBLISH_ONLY('dev2')]) assert.equal(devicePublishAllowed(PK, 'dev1', t), false, t);
      for (const t of [...SUBSCRIBE_ONLY('dev2')]) assert.equal(deviceSubscribeAllowed(PK, 'dev1', t), false, t);
      for (const f of [
        `/shadow/get/${PK}/+`,
        `/shadow/get/${PK}/#`,
        '/shadow/#',
        `/ota/device/upgrade/${PK}/dev1/extra`,
        `/ota/device/upgrade/${PK}`,
        `/ext/ntp/${PK}/dev1/+`,
        `/ext/session/${PK}/dev1/combine/#`,
        `/ext/ntp/${PK}/dev10/response`,
      ]) {
        assert.equal(deviceSubscribeAllowed(PK, 'dev1', f), false, f);
      }
      for (const t of [`/shadow/update/${PK}/dev1/x`, `/shadow/update/${PK}/+`, `/ext/ntp/${PK}/dev1/requests`, `/ota/device/inform/${PK}/dev1x`]) {
        assert.equal(devicePublishAllowed(PK, 'dev1', t), false, t);
      }
    });

    it('still grants its own custom and system trees and the product broadcast, and nothing of other devices', () => {
      assert.equal(devicePublishAllowed(PK, 'dev1', `/sys/${PK}/dev1/thing/event/property/post`), true);
      assert.equal(devicePublishAllowed(PK, 'dev1', `/${PK}/dev1/user/update`), true);
      assert.equal(deviceSubscribeAllowed(PK, 'dev1', `/sys/${PK}/dev1/rrpc/request/+`), true);
      assert.equal(deviceSubscribeAllowed(PK, 'dev1', `/broadcast/${PK}/news`), true);
      assert.equal(devicePublishAllowed(PK, 'dev1', `/broadcast/${PK}/news`), false);
      assert.equal(devicePublishAllowed(PK, 'dev1', `/sys/${PK}/dev2/thing/event/property/post`), false);
      assert.equal(deviceSubscribeAllowed(PK, 'dev1', `/${PK}/dev2/user/get`), false);
    });
  });

  describe('on the broker', () => {
    const SECRET1 = '0123456789abcdef0123456789abcdef';
    const SECRET2 = 'fedcba9876543210fedcba9876543210';
    const APP = { username: 'node-red-app', password: 'app-password-123' };
    let platform: IotPlatform;
    let clients: Array<MqttClient | undefined>;

    beforeEach(async () => {
      clients = [];
      platform = await startIotPlatform({
        devices: [
          { productKey: PK, deviceName: 'dev1', deviceSecret: SECRET1 },
          { productKey: PK, deviceName: 'dev2', deviceSecret: SECRET2 },
        ],
        application: APP,
        openApiPort: false,
        wsPort: false,
      });
    });
    afterEach(async () => {
      await endAll(clients);
      await platform.stop();
    });

    it('a device subscribes to its shadow, OTA, NTP and sub-device session replies and receives on them; other devices get 0x80', async () => {
      const dev = await connectClient(platform.mqttUrl, signDevice({ productKey: PK, deviceName: 'dev1', deviceSecret: SECRET1 }));
      clients.push(dev);
      const own = SUBSCRIBE_ONLY('dev1');
      const foreign = SUBSCRIBE_ONLY('dev2');
      const granted = await subackCodes(dev, [...own, ...foreign]);
      assert.deepEqual(granted, [...own.map(() => 0), ...foreign.map(() => 128)]);

      const app = await connectClient(platform.mqttUrl, { clientId: 'app-acl', ...APP });
      clients.push(app);
      for (const t of own) {
        const got = nextMessage(dev, t);
        await app.publishAsync(t, `down ${t}`, { qos: 1 });
        assert.equal((await got).payload.toString(), `down ${t}`);
      }
      const refused = platform.refusals().filter((r: Refusal) => r.kind === 'subscribe');
      assert.deepEqual(
        refused.map((r) => r.topic),
        foreign,
      );
    });

    it('a device publishes shadow updates, OTA version reports, NTP requests and session logins; the application sees them', async () => {
      const dev = await connectClient(platform.mqttUrl, signDevice({ productKey: PK, deviceName: 'dev1', deviceSecret: SECRET1 }));
      const app = await connectClient(platform.mqttUrl, { clientId: 'app-acl', ...APP });
      clients.push(dev, app);
      await app.subscribeAsync(['/shadow/#', '/ota/#', '/ext/#'], { qos: 1 });
      for (const t of PUBLISH_ONLY('dev1')) {
        const got = nextMessage(app, t);
        await dev.publishAsync(t, 'up', { qos: 1 });
        assert.equal((await got).topic, t);
      }
      // Another device's §4.8 topic is dropped (acknowledged, delivered to nobody) and recorded as refused.
      const seen: string[] = [];
      app.on('message', (t) => seen.push(t));
      await dev.publishAsync(`/shadow/update/${PK}/dev2`, 'spoof', { qos: 1 });
      const marker = nextMessage(app, `/shadow/update/${PK}/dev1`);
      await dev.publishAsync(`/shadow/update/${PK}/dev1`, 'after', { qos: 1 });
      await marker;
      assert.deepEqual(seen, [`/shadow/update/${PK}/dev1`]);
      assert.deepEqual(
        platform.refusals().filter((r: Refusal) => r.kind === 'publish').map((r) => r.topic),
        [`/shadow/update/${PK}/dev2`],
      );
    });
  });
});
