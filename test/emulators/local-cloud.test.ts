// The local cloud as one piece: STS, MNS and the IoT platform share one account book, so a role assumed at the
// local STS can publish to the local MNS, and a demo device can log in to the local broker. This is the path the
// demo and the end-to-end tests rely on.
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { start, DEMO_DEVICES, DEMO_MNS_QUEUE, DEMO_MNS_TOPIC, DEMO_ROLE_ARN, type LocalCloud } from '../../emulators';
import { AssumeRoleProvider, StaticAccessKeyProvider } from '../../lib/credentials';
import { MnsClient, unwrapBody } from '../../lib/mns';
import { signDevice } from '../../lib/iot/signing';

describe('local cloud: start() with STS, MNS and the IoT platform', () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await start({ sts: { httpsPort: null } });
  });
  after(async () => {
    await cloud?.stop();
  });

  it('lists every service URL', () => {
    for (const name of ['sts', 'mns', 'iot-mqtt', 'iot-ws', 'iot-openapi']) assert.match(cloud.urls[name] ?? '', /^(https?|mqtt|ws):\/\/127\.0\.0\.1:\d+/, name);
  });

  it('credentials assumed at the local STS publish to the local MNS, and the subscribed queue receives the message', async () => {
    const source = new StaticAccessKeyProvider(cloud.demo.accessKeyId, cloud.demo.accessKeySecret);
    const role = new AssumeRoleProvider(source, { roleArn: DEMO_ROLE_ARN, roleSessionName: 'local-cloud-test', stsEndpoint: cloud.urls.sts });
    const creds = await role.getCredentials();
    assert.match(creds.accessKeyId, /^STS\./);
    assert.ok(creds.securityToken);
    const client = new MnsClient({ endpoint: cloud.urls.mns, accountId: cloud.demo.accountId, credentials: role });
    try {
      const body = JSON.stringify({ t: 36.6, deviceName: 'sensor-01', note: '<&> 温度 🌡' });
      const published = await client.publishMessage(DEMO_MNS_TOPIC, body);
      assert.ok(published.messageId);
      const received = await client.receiveMessages(DEMO_MNS_QUEUE, 5, 1);
      assert.equal(received.length, 1);
      // The demo subscription is created as the console does (XML notifications): the queue holds the envelope.
      const unwrapped = unwrapBody(received[0].body);
      assert.equal(unwrapped.envelope, 'xml-notification');
      assert.equal(unwrapped.message, body);
      assert.equal(unwrapped.notification?.messageId, published.messageId);
      assert.deepEqual(await client.deleteMessages(DEMO_MNS_QUEUE, [received[0].receiptHandle]), []);
    } finally {
      client.close();
    }
  });

  it('a demo device logs in to the local broker with Alibaba signing', async () => {
    const d = DEMO_DEVICES[0];
    const login = signDevice({ productKey: d.productKey, deviceName: d.deviceName, deviceSecret: d.deviceSecret, secureMode: 3 });
    const client = mqtt.connect(cloud.urls['iot-mqtt'], { ...login, reconnectPeriod: 0, keepalive: 60 });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      assert.ok(cloud.iot?.connectedDevices().some((c) => c.deviceName === d.deviceName));
    } finally {
      await client.endAsync();
    }
  });
});
