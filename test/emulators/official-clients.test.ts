import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { MqttClient } from 'mqtt';
import Sts, * as $Sts from '@alicloud/sts20150401';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import Iot, * as $Iot from '@alicloud/iot20180120';
import * as $OpenApi from '@alicloud/openapi-client';
import { start, DEMO_ACCESS_KEY, DEMO_APPLICATION, DEMO_DEVICES, DEMO_PRODUCT_KEY, DEMO_ROLE_ARN, type LocalCloud } from '../../emulators';
import { signDevice } from '../../lib/iot/signing';
import { connectClient, endAll, nextMessage } from './iot/helpers';

// The official Alibaba Cloud clients, unmodified and in their default settings, against the local cloud
// (issue 14: the generated OpenAPI clients sign with V3 by default; the device SDK subscribes to §4.8 topics).

/** The part of alibabacloud-iot-device-sdk (plain JavaScript, no types) these tests use. */
interface SdkDevice {
  on(event: 'connect', cb: () => void): void;
  on(event: 'error', cb: (e: Error) => void): void;
  on(event: 'message', cb: (topic: string, payload: Buffer) => void): void;
  postProps(props: Record<string, unknown>, cb: (reply: { id: string; code: number }) => void): void;
  end(): void;
  _mqttClient: { on(event: 'packetsend' | 'packetreceive', cb: (p: { cmd: string; granted?: number[] }) => void): void };
}
const deviceSdk = createRequire(__filename)('alibabacloud-iot-device-sdk') as { device(config: Record<string, unknown>): SdkDevice };

function errorCode(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

describe('the official Alibaba Cloud clients against the local cloud', () => {
  let cloud: LocalCloud;
  beforeEach(async () => {
    cloud = await start({ mns: false });
  });
  afterEach(async () => {
    await cloud.stop();
  });

  const stsClient = (secret = DEMO_ACCESS_KEY.accessKeySecret) =>
    new Sts(new $OpenApiUtil.Config({ accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: secret, endpoint: new URL(cloud.sts.url).host, protocol: 'HTTP' }));

  it('@alicloud/sts20150401 AssumeRole (signature V3, its default) gets credentials; a wrong secret gets SignatureDoesNotMatch', async () => {
    const r = await stsClient().assumeRole(new $Sts.AssumeRoleRequest({ roleArn: DEMO_ROLE_ARN, roleSessionName: 'official-sts', durationSeconds: 900 }));
    assert.equal(r.statusCode, 200);
    const c = r.body?.credentials;
    assert.match(String(c?.accessKeyId), /^STS\./);
    assert.ok(c?.securityToken && c.accessKeySecret);
    assert.equal(r.body?.assumedRoleUser?.arn, 'acs:ram::1234567890123456:role/iot-mns-writer/official-sts');
    const rec = cloud.accounts.resolve(String(c?.accessKeyId));
    assert.equal(rec?.kind === 'sts' && rec.record.securityToken, c?.securityToken);

    await assert.rejects(
      stsClient('not-the-secret').assumeRole(new $Sts.AssumeRoleRequest({ roleArn: DEMO_ROLE_ARN, roleSessionName: 'official-sts' })),
      (e: unknown) => errorCode(e) === 'SignatureDoesNotMatch',
    );
    assert.deepEqual(
      cloud.sts.requests('AssumeRole').map((e) => [e.status, e.code]),
      [
        [200, undefined],
        [400, 'SignatureDoesNotMatch'],
      ],
    );
  });

  describe('@alicloud/iot20180120 Pub', () => {
    const d = DEMO_DEVICES[0];
    const topic = `/${DEMO_PRODUCT_KEY}/${d.deviceName}/user/get`;
    let device: MqttClient | undefined;
    beforeEach(async () => {
      device = await connectClient(cloud.iot!.mqttUrl, signDevice(d));
      await device.subscribeAsync(topic, { qos: 1 });
    });
    afterEach(async () => {
      await endAll([device]);
    });
    const iotClient = (key: { accessKeyId: string; accessKeySecret: string; securityToken?: string }) =>
      new Iot(new $OpenApi.Config({ ...key, endpoint: new URL(cloud.iot!.openApiUrl).host, protocol: 'HTTP', regionId: 'cn-shanghai' }));
    const pubRequest = (text: string) => new $Iot.PubRequest({ productKey: DEMO_PRODUCT_KEY, topicFullName: topic, messageContent: Buffer.from(text).toString('base64'), qos: 1 });

    it('with the AccessKey reaches the subscribed device', async () => {
      const got = nextMessage(device!, topic);
      const r = await iotClient(DEMO_ACCESS_KEY).pub(pubRequest('from the official client'));
      assert.equal(r.body?.success, true, JSON.stringify(r.body));
      assert.match(String(r.body?.messageId), /^\d+$/);
      assert.equal((await got).payload.toString(), 'from the official client');
    });

    it('with STS credentials from the official STS client (x-acs-security-token) reaches the device; a wrong secret is refused', async () => {
      const c = (await stsClient().assumeRole(new $Sts.AssumeRoleRequest({ roleArn: DEMO_ROLE_ARN, roleSessionName: 'official-pub' }))).body?.credentials;
      const key = { accessKeyId: String(c?.accessKeyId), accessKeySecret: String(c?.accessKeySecret), securityToken: String(c?.securityToken) };
      const got = nextMessage(device!, topic);
      const r = await iotClient(key).pub(pubRequest('via STS'));
      assert.equal(r.body?.success, true, JSON.stringify(r.body));
      assert.equal((await got).payload.toString(), 'via STS');
      await assert.rejects(iotClient({ ...key, accessKeySecret: 'wrong' }).pub(pubRequest('never')), (e: unknown) => errorCode(e) === 'SignatureDoesNotMatch');
      assert.deepEqual(
        cloud.iot!.openApi!.pubCalls().map((p) => [p.accessKeyId, p.payload.toString()]),
        [[key.accessKeyId, 'via STS']],
      );
    });
  });

  it('alibabacloud-iot-device-sdk: a device connects, every default topic it subscribes to is granted, and a property post gets its reply', async () => {
    const d = DEMO_DEVICES[1];
    const app = await connectClient(cloud.iot!.mqttUrl, { clientId: 'official-app', ...DEMO_APPLICATION });
    const posted = nextMessage(app, `/sys/${d.productKey}/${d.deviceName}/thing/event/property/post`);
    await app.subscribeAsync('/sys/+/+/thing/event/property/post', { qos: 1 });
    const dev = deviceSdk.device({ productKey: d.productKey, deviceName: d.deviceName, deviceSecret: d.deviceSecret, brokerUrl: cloud.iot!.mqttUrl });
    try {
      const errors: Error[] = [];
      dev.on('error', (e) => errors.push(e));
      // The SDK subscribes to its preset topics in one go when it connects: collect every SUBACK code for them.
      const subscribed = new Promise<number[]>((resolve) => {
        let sent = 0;
        const codes: number[] = [];
        dev._mqttClient.on('packetsend', (p) => {
          if (p.cmd === 'subscribe') sent += 1;
        });
        dev._mqttClient.on('packetreceive', (p) => {
          if (p.cmd !== 'suback') return;
          codes.push(...(p.granted ?? []));
          if (codes.length === sent) resolve(codes);
        });
      });
      const codes = await subscribed;
      assert.ok(codes.length >= 10, `the SDK subscribed to ${codes.length} topics`);
      assert.deepEqual(
        codes.filter((c) => c === 128),
        [],
        `refused: ${JSON.stringify(cloud.iot!.refusals().map((r) => r.topic))}`,
      );
      assert.deepEqual(cloud.iot!.refusals(), []);
      assert.deepEqual(
        cloud.iot!.connectedDevices().map((s) => s.deviceName),
        [d.deviceName],
      );

      const reply = new Promise<{ id: string; code: number }>((resolve) => dev.postProps({ Temperature: 21.5 }, resolve));
      const [r, up] = await Promise.all([reply, posted]);
      assert.equal(r.code, 200);
      assert.deepEqual((JSON.parse(up.payload.toString()) as { params: unknown }).params, { Temperature: 21.5 });
      assert.deepEqual(errors, []);
    } finally {
      dev.end();
      await endAll([app]);
    }
  });
});
