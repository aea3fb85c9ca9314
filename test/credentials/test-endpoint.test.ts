// The "Test credentials" admin endpoint never lets a caller have the server sign something for a host of the caller's
// choice with a secret the caller does not bring, and never quotes what such a host answers. The attacker's host is
// a real HTTP server on 127.0.0.1 that records everything it receives; the deployed node uses the local STS.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import helper from 'node-red-node-test-helper';
import credentialsNode from '../../nodes/aliyun-credentials/aliyun-credentials';
import { start, DEMO_ACCESS_KEY, DEMO_ROLE_ARN, DEMO_ACCOUNT_ID, type LocalCloud } from '../../emulators';
import { signRpc } from '../../lib/pop';

helper.init(require.resolve('node-red'));

const URL_PATH = '/aliyun-credentials/test';
const F = (nodes: object[]): helper.TestFlows => nodes as helper.TestFlows;
const stored = { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret };
/** The caller's own key: a real one of the local STS account, so that what the attacker captured can be checked. */
const OWN = { accessKeyId: 'LTAI5tOwnCallerKey1', accessKeySecret: 'callers-own-secret-Mk3p' };
/** Text the attacker's host (or an internal service behind it) answers with: it must never come back to the caller. */
const INTERNAL = 'INTERNAL-ONLY-c0ffee';

interface Captured {
  method: string;
  url: string;
  body: string;
}

/** A plain HTTP server that records every request and answers with whatever the test sets. */
async function capturingServer(): Promise<{ url: string; got: Captured[]; answer: (status: number, type: string, body: string) => void; close: () => Promise<void> }> {
  const got: Captured[] = [];
  let reply = { status: 200, type: 'text/html', body: `<html><body>${INTERNAL}</body></html>` };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(reply.status, { 'content-type': reply.type });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    answer: (status, type, body) => (reply = { status, type, body }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Test credentials: stored secrets stay with the deployed endpoint', function () {
  let cloud: LocalCloud;
  let attacker: Awaited<ReturnType<typeof capturingServer>>;
  beforeEach(async function () {
    cloud = await start({ sts: { httpsPort: null } });
    cloud.accounts.addAccessKey({ ...OWN, accountId: DEMO_ACCOUNT_ID, userName: 'own-caller' });
    attacker = await capturingServer();
    process.env.TEST_ENDPOINT_SECRET = DEMO_ACCESS_KEY.accessKeySecret;
    await helper.load(
      credentialsNode,
      F([
        { id: 'c1', type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, region: 'cn-shanghai', stsEndpoint: cloud.sts.url },
        { id: 'k1', type: 'aliyun-credentials', mode: 'accessKey', region: 'cn-shanghai', stsEndpoint: cloud.sts.url },
      ]),
      { c1: stored, k1: stored },
    );
  });
  afterEach(async function () {
    await helper.unload();
    await attacker.close();
    await cloud.stop();
    delete process.env.TEST_ENDPOINT_SECRET;
  });

  const post = (body: object) => helper.request().post(URL_PATH).send(body);

  it('a deployed node id plus another endpoint, without its own secret, is refused with 400 and nothing is sent anywhere', async function () {
    const attempts: object[] = [
      { id: 'c1', mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url },
      { id: 'c1', mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '', roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url },
      { id: 'c1', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, stsEndpoint: `${attacker.url}/` + 'x' },
      { id: 'c1', mode: 'ramRole', accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, stsEndpoint: '', region: 'us-west-1' },
      { id: 'k1', mode: 'accessKey', accessKeyId: stored.accessKeyId, accessKeySecret: '__PWRD__', stsEndpoint: attacker.url },
      // A ${VAR} is a server-held secret too, with or without a node id, and so is the default chain.
      { id: 'c1', mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '${TEST_ENDPOINT_SECRET}', roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url },
      { mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '${TEST_ENDPOINT_SECRET}', roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url },
      { mode: 'accessKey', accessKeyId: '${TEST_ENDPOINT_SECRET}', accessKeySecret: OWN.accessKeySecret, stsEndpoint: attacker.url },
      { mode: 'defaultChain', chainRole: true, roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url },
      { id: 'c1', mode: 'defaultChain', stsEndpoint: attacker.url },
    ];
    for (const body of attempts) {
      const res = await post(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${res.text}`);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.code, 'EndpointNeedsOwnSecret');
      assert.equal(res.body.field, 'stsEndpoint');
      assert.match(res.body.message, /type the AccessKey ID and secret/);
    }
    assert.deepEqual(attacker.got, [], 'the attacker host received nothing');
    assert.deepEqual(cloud.sts.requests(), [], 'nothing was sent to the stored endpoint either');
  });

  it('with the stored secret the role and its options may change, the endpoint may not: the call goes to the deployed STS', async function () {
    const res = await post({ id: 'c1', mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '__PWRD__', roleArn: `acs:ram::${DEMO_ACCOUNT_ID}:role/absent`, roleSessionName: 'editor', stsEndpoint: cloud.sts.url, region: 'cn-shanghai' }).expect(200);
    assert.equal(res.body.ok, false);
    assert.equal(res.body.code, 'EntityNotExist.Role', 'STS itself answered');
    const ok = await post({ id: 'c1', mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, roleSessionName: 'editor', stsEndpoint: `${cloud.sts.url}/`, region: 'cn-shanghai' }).expect(200);
    assert.equal(ok.body.ok, true, ok.text);
    assert.equal(cloud.sts.requests('AssumeRole').length, 2);
    assert.deepEqual(attacker.got, []);
  });

  it('a request that brings its own key may test another endpoint: only its own key is used, and the answer quotes nothing of that host', async function () {
    // An HTML page (an internal service, say): the status is told, the body is not.
    const html = await post({ id: 'c1', mode: 'ramRole', ...OWN, roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url }).expect(200);
    assert.equal(html.body.ok, false);
    assert.equal(html.body.code, 'InvalidResponse');
    assert.match(html.body.message, /HTTP 200 from http:\/\/127\.0\.0\.1:\d+, which is not an STS answer/);
    assert.ok(!html.text.includes(INTERNAL), html.text);
    assert.equal(attacker.got.length, 1);
    // What arrived is signed with the caller's own secret, never with the stored one, and names the caller's own key.
    const params = Object.fromEntries(new URLSearchParams(attacker.got[0].body));
    const { Signature, ...unsigned } = params;
    assert.equal(params.AccessKeyId, OWN.accessKeyId);
    assert.equal(signRpc('POST', unsigned, OWN.accessKeySecret), Signature);
    assert.notEqual(signRpc('POST', unsigned, stored.accessKeySecret), Signature);
    for (const s of [stored.accessKeySecret, OWN.accessKeySecret]) assert.ok(!attacker.got[0].body.includes(s) && !attacker.got[0].url.includes(s));

    // JSON that is not an STS answer (no RequestId): neither its Code nor its Message is quoted.
    attacker.answer(400, 'application/json', JSON.stringify({ Code: `Leak${INTERNAL}`, Message: `${INTERNAL} admin password is hunter2` }));
    const json = await post({ mode: 'ramRole', ...OWN, roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url }).expect(200);
    assert.deepEqual([json.body.ok, json.body.code], [false, 'InvalidResponse']);
    assert.ok(!json.text.includes(INTERNAL) && !json.text.includes('hunter2'), json.text);

    // A "success" in STS's shape whose fields carry other text: only fields of STS's own shape are shown.
    attacker.answer(200, 'application/json', JSON.stringify({
      RequestId: `<${INTERNAL}>`,
      AssumedRoleUser: { Arn: `${INTERNAL} page text`, AssumedRoleId: 'x' },
      Credentials: { AccessKeyId: 'STS.x', AccessKeySecret: 's', SecurityToken: 't', Expiration: '2099-01-01T00:00:00Z' },
    }));
    const fake = await post({ mode: 'ramRole', ...OWN, roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url }).expect(200);
    assert.equal(fake.body.ok, true);
    assert.ok(!fake.text.includes(INTERNAL), fake.text);
    assert.equal(fake.body.assumedRoleArn, undefined);
    assert.equal(fake.body.requestId, undefined);

    // A real STS error answer (a proper STS JSON) from a request-given endpoint: STS's code and message are shown.
    attacker.answer(403, 'application/json', JSON.stringify({ RequestId: '5F1B3C7E-1A2B-4C3D-8E9F-0A1B2C3D4E5F', HostId: 'sts.aliyuncs.com', Code: 'NoPermission', Message: 'You are not authorized to do this action.' }));
    const sts = await post({ mode: 'ramRole', ...OWN, roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url }).expect(200);
    assert.deepEqual([sts.body.ok, sts.body.code, sts.body.requestId], [false, 'NoPermission', '5F1B3C7E-1A2B-4C3D-8E9F-0A1B2C3D4E5F']);
    assert.match(sts.body.message, /You are not authorized/);

    // Nothing listening: the transport failure, in our words.
    const closed = await capturingServer();
    await closed.close();
    const none = await post({ mode: 'ramRole', ...OWN, roleArn: DEMO_ROLE_ARN, stsEndpoint: closed.url }).expect(200);
    assert.deepEqual([none.body.ok, none.body.code], [false, 'NetworkError']);

    // A request with its own secret but no key ID does not get the stored key ID filled in.
    const before = attacker.got.length;
    const noId = await post({ id: 'c1', mode: 'ramRole', accessKeySecret: OWN.accessKeySecret, roleArn: DEMO_ROLE_ARN, stsEndpoint: attacker.url }).expect(200);
    assert.deepEqual([noId.body.ok, noId.body.field], [false, 'accessKeyId']);
    assert.equal(attacker.got.length, before);
  });

  it('a deployed endpoint written as ${VAR} is recognised as the deployed one when the editor sends it back as typed', async function () {
    process.env.TEST_ENDPOINT_STS_URL = cloud.sts.url;
    try {
      await helper.setFlows(F([{ id: 'e1', type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, region: 'cn-shanghai', stsEndpoint: '${TEST_ENDPOINT_STS_URL}' }]), 'full', { e1: stored });
      const res = await post({ id: 'e1', mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, region: 'cn-shanghai', stsEndpoint: '${TEST_ENDPOINT_STS_URL}' }).expect(200);
      assert.equal(res.body.ok, true, res.text);
      assert.equal(res.body.endpoint, cloud.sts.url);
      const other = await post({ id: 'e1', mode: 'ramRole', accessKeyId: stored.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, region: 'cn-shanghai', stsEndpoint: '${OTHER_URL}' });
      assert.equal(other.status, 400, other.text);
      assert.equal(cloud.sts.requests('AssumeRole').length, 1);
      // A key ID read from the environment is used, and shown back as typed, not as the variable's value.
      process.env.TEST_ENDPOINT_KEY_ID = stored.accessKeyId;
      const envId = await post({ id: 'e1', mode: 'ramRole', accessKeyId: '${TEST_ENDPOINT_KEY_ID}', accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, region: 'cn-shanghai', stsEndpoint: '${TEST_ENDPOINT_STS_URL}' }).expect(200);
      assert.equal(envId.body.ok, true, envId.text);
      assert.equal(envId.body.accessKeyId, '${TEST_ENDPOINT_KEY_ID}');
      assert.ok(!envId.text.includes(stored.accessKeyId));
    } finally {
      delete process.env.TEST_ENDPOINT_STS_URL;
      delete process.env.TEST_ENDPOINT_KEY_ID;
    }
  });

  it("with its own key against the deployed endpoint the answer is STS's own, as before", async function () {
    const res = await post({ id: 'c1', mode: 'ramRole', ...OWN, roleArn: `acs:ram::${DEMO_ACCOUNT_ID}:role/absent`, stsEndpoint: cloud.sts.url }).expect(200);
    assert.deepEqual([res.body.ok, res.body.code], [false, 'EntityNotExist.Role']);
    assert.match(res.body.message, /no role with this ARN exists/);
  });
});
