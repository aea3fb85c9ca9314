import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { AccountBook } from '../../../emulators/accounts';
import { startIotPlatform, type IotPlatform } from '../../../emulators/iot';
import { signDevice } from '../../../lib/iot/signing';
import { connectClient, endAll, nextMessage } from './helpers';

// A caller-side RPC V1 signer written for this test from mns-sts §9.3 (checked against vector S1 below),
// so the emulator's verifier is exercised by code it does not share.
function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
function sign(method: string, params: Record<string, string>, secret: string): string {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${enc(k)}=${enc(params[k])}`)
    .join('&');
  return createHmac('sha1', `${secret}&`).update(`${method}&${enc('/')}&${enc(canonical)}`).digest('base64');
}

const PK = 'a1B2c3D4e5F';
const AK = { accessKeyId: 'LTAI_LOCAL_TEST', accessKeySecret: 'local-secret-value', accountId: '1234567890123456', userName: 'iot-writer' };

interface Call {
  status: number;
  body: Record<string, unknown>;
}

describe('local IoT platform: OpenAPI Pub', () => {
  let platform: IotPlatform;
  let accounts: AccountBook;
  let device: MqttClient | undefined;

  beforeEach(async () => {
    accounts = new AccountBook();
    accounts.addAccessKey(AK);
    platform = await startIotPlatform({
      accounts,
      devices: [{ productKey: PK, deviceName: 'sensor01', deviceSecret: 'device-secret-1' }],
      iotInstanceId: 'iot-06z00local',
      wsPort: false,
    });
    device = await connectClient(platform.mqttUrl, signDevice({ productKey: PK, deviceName: 'sensor01', deviceSecret: 'device-secret-1' }));
    await device.subscribeAsync(`/${PK}/sensor01/user/get`, { qos: 1 });
  });

  afterEach(async () => {
    await endAll([device]);
    await platform.stop();
  });

  function params(over: Record<string, string | undefined> = {}, key: { accessKeyId: string } = AK): Record<string, string> {
    const p: Record<string, string | undefined> = {
      Format: 'JSON',
      Version: '2018-01-20',
      AccessKeyId: key.accessKeyId,
      SignatureMethod: 'HMAC-SHA1',
      Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      SignatureVersion: '1.0',
      SignatureNonce: randomUUID(),
      Action: 'Pub',
      ProductKey: PK,
      TopicFullName: `/${PK}/sensor01/user/get`,
      MessageContent: Buffer.from('{"cmd":"on"}').toString('base64'),
      Qos: '1',
      IotInstanceId: 'iot-06z00local',
      ...over,
    };
    return Object.fromEntries(Object.entries(p).filter((e): e is [string, string] => e[1] !== undefined));
  }

  async function call(p: Record<string, string>, secret = AK.accessKeySecret, method: 'GET' | 'POST' = 'POST'): Promise<Call> {
    const signature = sign(method, p, secret);
    const query = new URLSearchParams({ ...p, Signature: signature }).toString();
    const res =
      method === 'GET'
        ? await fetch(`${platform.openApiUrl}?${query}`)
        : await fetch(platform.openApiUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query });
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('the test signer reproduces vector S1', () => {
    const s1 = {
      AccessKeyId: 'testid',
      Action: 'DescribeRegions',
      Format: 'XML',
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
      SignatureVersion: '1.0',
      Timestamp: '2016-02-23T12:46:24Z',
      Version: '2014-05-26',
    };
    assert.equal(sign('GET', s1, 'testsecret'), 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  it('accepts a signed Pub, returns a MessageId and delivers the decoded bytes to the subscribed device', async () => {
    const arrived = nextMessage(device!, `/${PK}/sensor01/user/get`);
    const res = await call(params());
    assert.equal(res.status, 200);
    assert.equal(res.body.Success, true);
    assert.match(String(res.body.MessageId), /^\d{10,}$/);
    assert.match(String(res.body.RequestId), /^[0-9A-F-]{36}$/);
    assert.equal((await arrived).payload.toString(), '{"cmd":"on"}');

    // Binary bytes survive, and GET with everything in the query works too.
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const binary = nextMessage(device!, `/${PK}/sensor01/user/get`);
    const get = await call(params({ MessageContent: bytes.toString('base64') }), AK.accessKeySecret, 'GET');
    assert.equal(get.body.Success, true);
    assert.deepEqual((await binary).payload, bytes);
    assert.equal(platform.openApi?.pubCalls().length, 2);
  });

  it('refuses a bad signature with the server string to sign, an unknown key with 404', async () => {
    const bad = await call(params(), 'wrong-secret');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.Code, 'SignatureDoesNotMatch');
    assert.match(String(bad.body.Message), /^Specified signature is not matched with our calculation\. server string to sign is:POST&%2F&/);
    assert.ok(!JSON.stringify(bad.body).includes(AK.accessKeySecret));
    const unknown = await call(params({ AccessKeyId: 'LTAI_NOBODY' }));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.Code, 'InvalidAccessKeyId.NotFound');
    assert.equal(platform.openApi?.pubCalls().length, 0);
  });

  it('refuses a replayed nonce and an old timestamp', async () => {
    const p = params();
    assert.equal((await call(p)).body.Success, true);
    assert.equal((await call(p)).body.Code, 'SignatureNonceUsed');
    const old = await call(params({ Timestamp: '2016-02-23T12:46:24Z' }));
    assert.equal(old.body.Code, 'InvalidTimeStamp.Expired');
  });

  it('accepts STS credentials only with their SecurityToken, and not after expiry', async () => {
    const sts = {
      accessKeyId: 'STS.LocalTemp1',
      accessKeySecret: 'sts-secret-value',
      accountId: AK.accountId,
      securityToken: 'CAIS-local-token',
      expiresAt: Date.now() + 3600_000,
      roleArn: `acs:ram::${AK.accountId}:role/iot-pub`,
      roleSessionName: 'node-red',
    };
    accounts.recordSts(sts);
    const missing = await call(params({}, sts), sts.accessKeySecret);
    assert.equal(missing.body.Code, 'MissingSecurityToken');
    const wrong = await call(params({ SecurityToken: 'CAIS-other' }, sts), sts.accessKeySecret);
    assert.equal(wrong.body.Code, 'InvalidSecurityToken.MismatchWithAccessKey');
    const arrived = nextMessage(device!, `/${PK}/sensor01/user/get`);
    const ok = await call(params({ SecurityToken: sts.securityToken }, sts), sts.accessKeySecret);
    assert.equal(ok.body.Success, true);
    await arrived;
    accounts.recordSts({ ...sts, expiresAt: Date.now() - 1 });
    const expired = await call(params({ SecurityToken: sts.securityToken }, sts), sts.accessKeySecret);
    assert.equal(expired.body.Code, 'InvalidSecurityToken.Expired');
  });

  it("answers Pub's own errors with Success false and a code", async () => {
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [{ IotInstanceId: undefined }, 'iot.common.InvalidTenant'],
      [{ IotInstanceId: 'iot-someone-else' }, 'iot.common.InvalidTenant'],
      [{ ProductKey: 'unknownPK' }, 'iot.prod.NotExistedProduct'],
      [{ TopicFullName: `/sys/${PK}/sensor01/thing/service/property/set` }, 'iot.messagebroker.InvalidFormattedTopicName'],
      [{ TopicFullName: `/otherPK/sensor01/user/get` }, 'iot.messagebroker.InvalidFormattedTopicName'],
      [{ MessageContent: 'not base64!' }, 'iot.messagebroker.MessageContentIsNotBase64Encoded'],
      [{ Qos: '2' }, 'iot.common.InvalidFormattedParameter'],
    ];
    for (const [over, code] of cases) {
      const res = await call(params(over));
      assert.equal(res.status, 200, code);
      assert.deepEqual([res.body.Success, res.body.Code], [false, code], JSON.stringify(over));
      assert.equal(typeof res.body.ErrorMessage, 'string');
    }
    const missing = await call(params({ TopicFullName: undefined }));
    assert.deepEqual([missing.status, missing.body.Code], [400, 'MissingTopicFullName']);
  });

  it('injects throttling, server errors and latency at run time', async () => {
    platform.setFaults({ throttleNext: 1, failNext: 2, failStatus: 503 });
    const first = await call(params());
    assert.deepEqual([first.status, first.body.Code], [503, 'ServiceUnavailable']);
    assert.equal((await call(params())).status, 503);
    const throttled = await call(params());
    assert.deepEqual([throttled.status, throttled.body.Code], [400, 'Throttling.User']);
    assert.equal((await call(params())).body.Success, true);

    // Latency: the answer waits for the configured delay (measured, not slept on).
    platform.setFaults({ latencyMs: 150 });
    const started = Date.now();
    assert.equal((await call(params())).body.Success, true);
    assert.ok(Date.now() - started >= 140);
    platform.clearFaults();

    // The same switch over the unsigned admin path (what the CLI uses).
    const put = await fetch(`${platform.openApiUrl}__emulator/faults`, { method: 'PUT', body: JSON.stringify({ failNext: 1 }) });
    assert.deepEqual(await put.json(), { failNext: 1 });
    assert.equal((await call(params())).status, 500);
    assert.equal((await call(params())).status, 200);
  });

  it('throttles above the per-account QPS limit', async () => {
    await platform.stop();
    platform = await startIotPlatform({ accounts, devices: [{ productKey: PK, deviceName: 'sensor01' }], qpsLimit: 2, wsPort: false, mqttPort: 0 });
    const codes: unknown[] = [];
    // Fired together so that they fall in one second; at most 2 may pass in any one second.
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => call(params({ IotInstanceId: undefined }))));
    for (const r of results) codes.push(r.body.Success === true ? 'ok' : r.body.Code);
    assert.ok(codes.filter((c) => c === 'ok').length <= 4, 'at most 2 per second across at most two seconds');
    assert.ok(codes.includes('Throttling.User'));
  });

  it('shows connected devices and recent messages on the inspection paths', async () => {
    await call(params());
    const devices = (await (await fetch(`${platform.openApiUrl}__emulator/devices`)).json()) as { devices: Array<{ deviceName: string }> };
    assert.deepEqual(
      devices.devices.map((d) => d.deviceName),
      ['sensor01'],
    );
    const topic = encodeURIComponent(`/${PK}/sensor01/user/get`);
    const recent = (await (await fetch(`${platform.openApiUrl}__emulator/messages?topic=${topic}`)).json()) as {
      messages: Array<{ payload: string; from: string | null }>;
    };
    assert.equal(Buffer.from(recent.messages[0].payload, 'base64').toString(), '{"cmd":"on"}');
    assert.equal(recent.messages[0].from, null);
  });
});
