// The aliyun-credentials config node in a real Node-RED runtime (node-red-node-test-helper) against the local STS.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import helper from 'node-red-node-test-helper';
import type { NodeMessage } from 'node-red';
import credentialsNode, { type AliyunCredentialsNode } from '../../nodes/aliyun-credentials/aliyun-credentials';
import probe from './node-support';
import { start, DEMO_ACCESS_KEY, DEMO_ROLE_ARN, type LocalCloud } from '../../emulators';
import { StsError, CredentialsConfigError } from '../../lib/credentials';

helper.init(require.resolve('node-red'));

const URL = '/aliyun-credentials/test';
/** Flows in tests carry our own properties; the helper's type only knows the common ones. */
const F = (nodes: object[]): helper.TestFlows => nodes as helper.TestFlows;
/** The helper's spies on Node methods (sinon). */
type Spy = { calledWithMatch(...a: unknown[]): boolean; args: unknown[][] };
const spy = (f: unknown): Spy => f as Spy;
const creds = { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret };

describe('aliyun-credentials config node', function () {
  let cloud: LocalCloud;
  beforeEach(async function () {
    cloud = await start({ sts: { httpsPort: null } });
  });
  afterEach(async function () {
    await helper.unload();
    await cloud.stop();
    delete process.env.ALIYUN_TEST_AK_ID;
    delete process.env.ALIYUN_TEST_AK_SECRET;
  });

  it('AccessKey mode hands out the stored key', async function () {
    await helper.load(credentialsNode, F([{ id: 'c1', type: 'aliyun-credentials', mode: 'accessKey' }]), { c1: creds });
    const c = await (helper.getNode('c1') as AliyunCredentialsNode).getCredentials();
    assert.deepEqual(c, creds);
  });

  it('${ENV_VAR} works in both credentials, resolved at runtime', async function () {
    process.env.ALIYUN_TEST_AK_ID = DEMO_ACCESS_KEY.accessKeyId;
    process.env.ALIYUN_TEST_AK_SECRET = DEMO_ACCESS_KEY.accessKeySecret;
    await helper.load(credentialsNode, F([{ id: 'c1', type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, stsEndpoint: cloud.sts.url }]), {
      c1: { accessKeyId: '${ALIYUN_TEST_AK_ID}', accessKeySecret: '${ALIYUN_TEST_AK_SECRET}' },
    });
    const c = await (helper.getNode('c1') as AliyunCredentialsNode).getCredentials();
    assert.match(c.accessKeyId, /^STS\./);
    const log = cloud.sts.requests('AssumeRole');
    assert.equal(log[0].accessKeyId, DEMO_ACCESS_KEY.accessKeyId);
    assert.equal(log[0].roleSessionName, 'node-red-c1', 'session name derived from the node id');
  });

  it('a missing environment variable is a clear configuration error', async function () {
    await helper.load(credentialsNode, F([{ id: 'c1', type: 'aliyun-credentials', mode: 'accessKey' }]), {
      c1: { accessKeyId: 'LTAI5tAbcdefgh', accessKeySecret: '${ALIYUN_TEST_AK_SECRET}' },
    });
    const n = helper.getNode('c1') as AliyunCredentialsNode;
    await assert.rejects(n.getCredentials(), (e: unknown) => e instanceof CredentialsConfigError && /ALIYUN_TEST_AK_SECRET .*is not set/.test(e.message));
    assert.ok(spy(n.error).calledWithMatch(/environment variable ALIYUN_TEST_AK_SECRET/));
  });

  it('RAM role mode: users share one AssumeRole, and credential trouble shows in their status', async function () {
    const flow = F([
      { id: 't1', type: 'tab' },
      { id: 'c1', type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, roleSessionName: 'nr-test', durationSeconds: '900', stsEndpoint: cloud.sts.url },
      { id: 'p1', z: 't1', type: 'aliyun-credentials-probe', account: 'c1', endpoint: cloud.sts.url, wires: [['h1']] },
      { id: 'p2', z: 't1', type: 'aliyun-credentials-probe', account: 'c1', endpoint: cloud.sts.url, wires: [['h1']] },
      { id: 'h1', z: 't1', type: 'helper' },
    ]);
    await helper.load([credentialsNode, probe], flow, { c1: creds });
    const h1 = helper.getNode('h1');
    const got = new Promise<unknown[]>((resolve) => {
      const msgs: unknown[] = [];
      h1.on('input', (m: NodeMessage) => {
        msgs.push(m.payload);
        if (msgs.length === 2) resolve(msgs);
      });
    });
    helper.getNode('p1').receive({});
    helper.getNode('p2').receive({});
    const msgs = await got;
    assert.deepEqual(msgs[0], { arn: 'acs:ram::1234567890123456:assumed-role/iot-mns-writer/nr-test', identityType: 'AssumedRoleUser' });
    assert.equal(cloud.sts.requests('AssumeRole').length, 1);

    // A second config node whose role STS refuses: the user's status says why, and done(err) carries the StsError.
    await helper.setFlows(
      F([
        ...flow.slice(0, 1),
        { id: 'c2', type: 'aliyun-credentials', mode: 'ramRole', roleArn: 'acs:ram::1234567890123456:role/absent', stsEndpoint: cloud.sts.url },
        { id: 'p3', z: 't1', type: 'aliyun-credentials-probe', account: 'c2', endpoint: cloud.sts.url, wires: [[]] },
      ]),
      'full',
      { c2: creds },
    );
    const p3 = helper.getNode('p3');
    const errored = once(p3, 'call:error');
    p3.receive({});
    const [call] = (await errored) as [{ args: unknown[] }];
    assert.ok(call.args[0] instanceof StsError);
    assert.equal((call.args[0] as StsError).code, 'EntityNotExist.Role');
    assert.ok(spy(p3.status).calledWithMatch({ fill: 'red', shape: 'ring', text: 'STS: EntityNotExist.Role' }));
    const c2 = helper.getNode('c2') as AliyunCredentialsNode;
    assert.equal(c2.credentialsState.ok, false);
    assert.ok(spy(c2.warn).calledWithMatch(/no role with this ARN exists/));
  });

  it('a failed refresh while the token is valid shows a yellow ring, and the status clears when STS answers again', async function () {
    cloud.sts.setLifetime(60); // shorter than the 5 min margin: the node refreshes in the background about every second
    await helper.load(
      [credentialsNode, probe],
      F([
        { id: 't1', type: 'tab' },
        { id: 'c1', type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, stsEndpoint: cloud.sts.url },
        { id: 'p1', z: 't1', type: 'aliyun-credentials-probe', account: 'c1', endpoint: cloud.sts.url, wires: [['h1']] },
        { id: 'h1', z: 't1', type: 'helper' },
      ]),
      { c1: creds },
    );
    const p1 = helper.getNode('p1');
    const statuses: { fill?: string; text?: string }[] = [];
    const statusIs = (match: (s: { fill?: string; text?: string }) => boolean) =>
      new Promise<void>((resolve) => {
        const on = (call: { args: [{ fill?: string; text?: string }] }) => {
          statuses.push(call.args[0]);
          if (match(call.args[0])) {
            (p1 as unknown as NodeJS.EventEmitter).off('call:status', on);
            resolve();
          }
        };
        (p1 as unknown as NodeJS.EventEmitter).on('call:status', on);
      });
    const first = once(helper.getNode('h1'), 'input');
    p1.receive({});
    await first;
    const yellow = statusIs((st) => st.fill === 'yellow' && st.text === 'STS: NoPermission');
    cloud.sts.setFaults({ refuseRoles: [DEMO_ROLE_ARN] });
    await yellow;
    const c1 = helper.getNode('c1') as AliyunCredentialsNode;
    assert.deepEqual([c1.credentialsState.ok, c1.credentialsState.degraded], [false, true]);
    const stillWorks = once(helper.getNode('h1'), 'input');
    p1.receive({});
    await stillWorks;
    const cleared = statusIs((st) => Object.keys(st).length === 0);
    cloud.sts.clearFaults();
    await cleared;
    assert.equal(c1.credentialsState.ok, true);
    assert.ok(!statuses.some((st) => st.fill === 'red'), 'never red while a valid token was in use');
  });

  describe('admin endpoint POST aliyun-credentials/test', function () {
    beforeEach(async function () {
      await helper.load(credentialsNode, F([{ id: 'c1', type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, stsEndpoint: cloud.sts.url }]), { c1: creds });
    });

    it('assumes the role with the form values and returns the assumed role ARN and expiry, nothing secret', async function () {
      const res = await helper.request().post(URL).send({ mode: 'ramRole', ...creds, roleArn: DEMO_ROLE_ARN, roleSessionName: 'editor', durationSeconds: '900', stsEndpoint: cloud.sts.url }).expect(200);
      assert.equal(res.body.ok, true);
      assert.equal(res.body.assumedRoleArn, 'acs:ram::1234567890123456:role/iot-mns-writer/editor');
      assert.ok(Math.abs(Date.parse(res.body.expiration) - Date.now() - 900_000) < 5000);
      const issued = cloud.accounts.issuedSts();
      assert.equal(issued.length, 1);
      for (const s of [creds.accessKeySecret, issued[0].accessKeySecret, issued[0].securityToken, issued[0].accessKeyId]) assert.ok(!res.text.includes(s));
    });

    it("returns STS's error code and message", async function () {
      cloud.sts.setFaults({ refuseRoles: [DEMO_ROLE_ARN] });
      const res = await helper.request().post(URL).send({ mode: 'ramRole', ...creds, roleArn: DEMO_ROLE_ARN, stsEndpoint: cloud.sts.url }).expect(200);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.code, 'NoPermission');
      assert.match(res.body.message, /may not assume this role/);
      assert.match(res.body.requestId, /^[0-9A-F-]{36}$/);
      const wrong = await helper.request().post(URL).send({ mode: 'ramRole', accessKeyId: creds.accessKeyId, accessKeySecret: 'typo-in-the-secret', roleArn: DEMO_ROLE_ARN, stsEndpoint: cloud.sts.url }).expect(200);
      assert.equal(wrong.body.code, 'SignatureDoesNotMatch');
      assert.match(wrong.body.message, /the AccessKey secret does not match the AccessKey ID — check it/);
      assert.ok(!wrong.text.includes('typo-in-the-secret'));
    });

    it('uses the stored secret when the editor sends __PWRD__', async function () {
      const res = await helper.request().post(URL).send({ id: 'c1', mode: 'ramRole', accessKeyId: creds.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, stsEndpoint: cloud.sts.url }).expect(200);
      assert.equal(res.body.ok, true, res.text);
      const noStored = await helper.request().post(URL).send({ id: 'unknown', mode: 'ramRole', accessKeyId: creds.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, stsEndpoint: cloud.sts.url }).expect(200);
      assert.equal(noStored.body.ok, false);
      assert.equal(noStored.body.field, 'accessKeySecret');
    });

    it('AccessKey mode: honest "not verified" without an endpoint; GetCallerIdentity with one', async function () {
      const plain = await helper.request().post(URL).send({ mode: 'accessKey', ...creds }).expect(200);
      assert.deepEqual([plain.body.ok, plain.body.verified], [true, false]);
      assert.equal(plain.body.note, 'aliyun-credentials.test.not-verified');
      const checked = await helper.request().post(URL).send({ mode: 'accessKey', ...creds, stsEndpoint: cloud.sts.url }).expect(200);
      assert.deepEqual([checked.body.ok, checked.body.verified, checked.body.identityArn], [true, true, 'acs:ram::1234567890123456:user/node-red']);
    });

    it('validation errors name the field', async function () {
      const res = await helper.request().post(URL).send({ mode: 'ramRole', ...creds, roleArn: 'acs:ram::1:user/x', stsEndpoint: cloud.sts.url }).expect(200);
      assert.deepEqual([res.body.ok, res.body.field], [false, 'roleArn']);
      assert.equal(cloud.sts.requests().length, 0, 'no request sent for an invalid role ARN');
    });
  });
});
