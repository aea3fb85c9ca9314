// The secret-leak check: run full flows that use the config node through real STS successes and errors, capture
// everything a user or an operator could see, and search it for every secret and token involved. None may appear.
import assert from 'node:assert/strict';
import util from 'node:util';
import { EventEmitter } from 'node:events';
import helper from 'node-red-node-test-helper';
import type { NodeMessage } from 'node-red';
import credentialsNode from '../../nodes/aliyun-credentials/aliyun-credentials';
import probe from './node-support';
import { start, DEMO_ACCESS_KEY, DEMO_ROLE_ARN, DEMO_ACCOUNT_ID, type LocalCloud } from '../../emulators';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const debugNode = require('@node-red/nodes/core/common/21-debug.js');

helper.init(require.resolve('node-red'));

const ENV_USER = { accessKeyId: 'LTAI5tLeakEnvUser02', accessKeySecret: 'env-held-secret-Zq8LkP2w', accountId: DEMO_ACCOUNT_ID, userName: 'env-user' };
const WRONG_SECRET = 'typo-secret-Hh4TtR9x';
type Spy = { args: unknown[][] };

describe('secrets never leak (full flow, every output captured)', function () {
  let cloud: LocalCloud;
  beforeEach(async function () {
    cloud = await start({ sts: { httpsPort: null } });
    cloud.accounts.addAccessKey(ENV_USER);
    process.env.LEAK_TEST_AK_ID = ENV_USER.accessKeyId;
    process.env.LEAK_TEST_AK_SECRET = ENV_USER.accessKeySecret;
  });
  afterEach(async function () {
    await helper.unload();
    await cloud.stop();
    delete process.env.LEAK_TEST_AK_ID;
    delete process.env.LEAK_TEST_AK_SECRET;
  });

  it('no secret, STS secret or security token in logs, status, errors, warnings, debug, messages, admin answers or flows', async function () {
    cloud.sts.setLifetime(60); // short tokens: every call is inside the refresh window, so refreshes happen for real
    const sts = cloud.sts.url;
    const role = (id: string, extra: object = {}) => ({ id, type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, durationSeconds: '900', stsEndpoint: sts, ...extra });
    const probeNode = (id: string, account: string) => ({ id, z: 't1', type: 'aliyun-credentials-probe', account, endpoint: sts, wires: [['d1', 'h1']] });
    const flow = [
      { id: 't1', type: 'tab' },
      role('cOk'),
      role('cEnv'),
      role('cWrong'),
      role('cNoRole', { roleArn: `acs:ram::${DEMO_ACCOUNT_ID}:role/absent` }),
      role('cRefresh', { roleSessionName: 'refresher' }),
      { id: 'cKey', type: 'aliyun-credentials', mode: 'accessKey' },
      probeNode('pOk', 'cOk'),
      probeNode('pEnv', 'cEnv'),
      probeNode('pWrong', 'cWrong'),
      probeNode('pNoRole', 'cNoRole'),
      probeNode('pRefresh', 'cRefresh'),
      probeNode('pKey', 'cKey'),
      { id: 'catcher', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['d2', 'h2']] },
      { id: 'd1', z: 't1', type: 'debug', active: true, tosidebar: true, console: true, complete: 'true' },
      { id: 'd2', z: 't1', type: 'debug', active: true, tosidebar: true, console: true, complete: 'true' },
      { id: 'h1', z: 't1', type: 'helper' },
      { id: 'h2', z: 't1', type: 'helper' },
    ] as helper.TestFlows;
    const demo = { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret };
    const credentials = {
      cOk: demo,
      cEnv: { accessKeyId: '${LEAK_TEST_AK_ID}', accessKeySecret: '${LEAK_TEST_AK_SECRET}' },
      cWrong: { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: WRONG_SECRET },
      cNoRole: demo,
      cRefresh: demo,
      cKey: demo,
    };

    const debugOutput: unknown[] = [];
    const events = (helper as unknown as { _events: NodeJS.EventEmitter })._events;
    const onComms = (m: unknown) => debugOutput.push(m);
    events.on('comms', onComms);
    try {
      await helper.load([credentialsNode, probe, debugNode], flow, credentials);
      const outputs: NodeMessage[] = [];
      const caught: NodeMessage[] = [];
      const arrivals = new EventEmitter();
      helper.getNode('h1').on('input', (m: NodeMessage) => (outputs.push(m), arrivals.emit('msg')));
      helper.getNode('h2').on('input', (m: NodeMessage) => (caught.push(m), arrivals.emit('msg')));
      const until = (done: () => boolean) =>
        new Promise<void>((resolve) => {
          const check = () => done() && (arrivals.off('msg', check), resolve());
          arrivals.on('msg', check);
          check();
        });
      for (const id of ['pOk', 'pEnv', 'pWrong', 'pNoRole', 'pRefresh', 'pKey']) helper.getNode(id).receive({ payload: 'go' });
      await until(() => outputs.length === 4 && caught.length === 2);
      assert.deepEqual(caught.map((m) => (m.error as { source: { id: string } }).source.id).sort(), ['pNoRole', 'pWrong']);

      // A refresh that fails while the old token is still valid: status shows it, messages still flow.
      const pRefresh = helper.getNode('pRefresh');
      const troubleShown = new Promise<void>((resolve) => {
        const onStatus = (call: { args: [{ text?: string }] }) => {
          if (call.args[0]?.text === 'STS: NoPermission') resolve();
        };
        (pRefresh as unknown as NodeJS.EventEmitter).on('call:status', onStatus);
      });
      cloud.sts.setFaults({ refuseRoles: [DEMO_ROLE_ARN] });
      await troubleShown;
      pRefresh.receive({ payload: 'again' });
      await until(() => outputs.length === 5);
      assert.match(String((outputs[4].payload as { arn: string }).arn), /refresher$/, 'served with the still-valid token');
      assert.equal(caught.length, 2);
      cloud.sts.clearFaults();

      // Admin answers: success, STS error, stored secret through __PWRD__, wrong secret.
      const admin: string[] = [];
      const post = async (body: object) => admin.push((await helper.request().post('/aliyun-credentials/test').send(body).expect(200)).text);
      await post({ mode: 'ramRole', ...demo, roleArn: DEMO_ROLE_ARN, stsEndpoint: sts });
      await post({ id: 'cOk', mode: 'ramRole', accessKeyId: demo.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, stsEndpoint: sts });
      await post({ mode: 'ramRole', accessKeyId: demo.accessKeyId, accessKeySecret: WRONG_SECRET, roleArn: DEMO_ROLE_ARN, stsEndpoint: sts });
      await post({ mode: 'ramRole', ...demo, roleArn: `acs:ram::${DEMO_ACCOUNT_ID}:role/absent`, stsEndpoint: sts });
      await post({ id: 'cEnv', mode: 'ramRole', accessKeyId: '${LEAK_TEST_AK_ID}', accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, stsEndpoint: sts });
      await post({ mode: 'accessKey', ...demo, stsEndpoint: sts });
      assert.equal(admin.filter((t) => JSON.parse(t).ok).length, 4, admin.join('\n'));

      // Everything captured.
      const proto = (helper as unknown as { _NodePrototype: Record<string, Spy> })._NodePrototype;
      const nodeCalls = Object.fromEntries(['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'].map((m) => [m, proto[m].args]));
      const flows = (helper as unknown as { _redNodes: { getFlows(): { flows: unknown } } })._redNodes.getFlows().flows;
      const everything = [
        util.inspect(helper.log().args, { depth: 10 }),
        util.inspect(nodeCalls, { depth: 10 }),
        util.inspect(debugOutput, { depth: 10 }),
        util.inspect(outputs, { depth: 10 }),
        util.inspect(caught, { depth: 10 }),
        JSON.stringify(debugOutput),
        JSON.stringify(flows),
        ...admin,
      ].join('\n');

      // The capture is real: it holds what users should see.
      for (const visible of ['STS: NoPermission', 'SignatureDoesNotMatch', 'EntityNotExist.Role', 'the AccessKey secret does not match the AccessKey ID', 'assumed-role/iot-mns-writer/refresher', 'aliyun-credentials-probe']) {
        assert.ok(everything.includes(visible), `capture should include "${visible}"`);
      }
      assert.ok(debugOutput.length >= 8, 'debug sidebar output captured');

      const issued = cloud.accounts.issuedSts();
      assert.ok(issued.length >= 6, `several STS credentials were issued (${issued.length})`);
      const secrets = [
        DEMO_ACCESS_KEY.accessKeySecret,
        ENV_USER.accessKeySecret,
        WRONG_SECRET,
        ...issued.flatMap((s) => [s.accessKeySecret, s.securityToken]),
      ];
      const leaks = secrets.filter((s) => everything.includes(s));
      assert.deepEqual(leaks.map((s) => s.slice(0, 6) + '…'), [], 'secret values found in captured output');
      // The search itself works: a planted secret would be found.
      assert.ok((everything + issued[0].securityToken).includes(issued[0].securityToken));
    } finally {
      events.off('comms', onComms);
    }
  });
});
