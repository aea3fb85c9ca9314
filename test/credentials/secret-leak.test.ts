// The secret-leak check: run full flows that use the config node through real STS successes and errors, capture
// everything a user or an operator could see, and search it for every secret and token involved. None may appear.
import assert from 'node:assert/strict';
import util from 'node:util';
import { EventEmitter } from 'node:events';
import helper from 'node-red-node-test-helper';
import type { NodeMessage } from 'node-red';
import type { NodeAPI } from 'node-red';
import fs from 'node:fs';
import path from 'node:path';
import credentialsNode from '../../nodes/aliyun-credentials/aliyun-credentials';
import brokerNode from '../../nodes/aliyun-iot-broker/aliyun-iot-broker';
import deviceInNode from '../../nodes/aliyun-iot-device-in/aliyun-iot-device-in';
import deviceOutNode from '../../nodes/aliyun-iot-device-out/aliyun-iot-device-out';
import topicOutNode from '../../nodes/aliyun-mns-topic-out/aliyun-mns-topic-out';
import queueInNode from '../../nodes/aliyun-mns-queue-in/aliyun-mns-queue-in';
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

// Node-RED's own message catalogs for our nodes (the test helper's RED._ returns keys, which would hide the
// messages whose text carries an endpoint).
const NODES_DIR = path.join(__dirname, '..', '..', 'nodes');
const CATALOG: Record<string, unknown> = {};
for (const type of fs.readdirSync(NODES_DIR)) {
  const file = path.join(NODES_DIR, type, 'locales', 'en-US', `${type}.json`);
  if (fs.existsSync(file)) Object.assign(CATALOG, JSON.parse(fs.readFileSync(file, 'utf8')) as object);
}
function translate(key: string, subs?: Record<string, unknown>): string {
  let v: unknown = CATALOG;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string') return key;
  return v.replace(/__(\w+)__/g, (_m, name: string) => (subs && name in subs ? String(subs[name]) : ''));
}
const withCatalog = (register: (RED: NodeAPI) => void) => (RED: NodeAPI) => {
  (RED as unknown as { _: typeof translate })._ = translate;
  register(RED);
};

describe('passwords typed into endpoint URLs never leak (full flow, every output captured)', function () {
  let cloud: LocalCloud;
  beforeEach(async function () {
    cloud = await start({ sts: { httpsPort: null } });
  });
  afterEach(async function () {
    await helper.unload();
    await cloud.stop();
  });

  it('no user name or password of an MNS, STS, OpenAPI, broker or instance endpoint URL in logs, status, errors, debug or admin answers', async function () {
    // Each password holds a character that defeats a simple mask or a URL parser; every part of it is searched for.
    const USER = 'usrQ9tok';
    const passwords = ['pwA1tok/pwA2tok', 'pwB1tok@pwB2tok', 'pwC1tok:pwC2tok', 'pwD1tok%40pwD2tok', 'pwE1tok/x:y@pwE2tok'];
    const parts = [USER, ...passwords.flatMap((p) => p.match(/pw[A-E][12]tok/g) ?? [])];
    const port = new URL(cloud.sts.url).port;
    const flow: object[] = [
      { id: 't1', type: 'tab' },
      { id: 'cOk', type: 'aliyun-credentials', mode: 'accessKey' },
      { id: 'catcher', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['d2', 'h2']] },
      { id: 'd2', z: 't1', type: 'debug', active: true, tosidebar: true, console: true, complete: 'true' },
      { id: 'h2', z: 't1', type: 'helper' },
    ];
    const credentials: Record<string, object> = { cOk: { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret } };
    const inputs: string[] = [];
    passwords.forEach((pw, i) => {
      const info = `${USER}:${pw}@`;
      flow.push(
        { id: `cSts${i}`, type: 'aliyun-credentials', mode: 'ramRole', roleArn: DEMO_ROLE_ARN, stsEndpoint: `http://${info}127.0.0.1:${port}` },
        { id: `probe${i}`, z: 't1', type: 'aliyun-credentials-probe', account: `cSts${i}`, endpoint: cloud.sts.url, wires: [[]] },
        { id: `mns${i}`, z: 't1', type: 'aliyun-mns-topic-out', aliyunCredentials: 'cOk', endpointType: 'custom', endpoint: `http://${info}127.0.0.1:1/`, topic: 'alerts', wires: [[], []] },
        { id: `queue${i}`, z: 't1', type: 'aliyun-mns-queue-in', aliyunCredentials: 'cOk', endpointType: 'custom', endpoint: `https://${info}1234567890123456.mns.cn-hangzhou.aliyuncs.com`, queue: 'q1', wires: [[]] },
        { id: `pub${i}`, z: 't1', type: 'aliyun-iot-device-out', mode: 'pub', aliyunCredentials: 'cOk', endpoint: `https://${info}iot.cn-shanghai.aliyuncs.com`, productKey: 'a1B2c3D4e5F', topic: '/a1B2c3D4e5F/dev01/user/get', qos: '0', wires: [[]] },
        { id: `broker${i}`, type: 'aliyun-iot-broker', mode: 'mqtt', url: `mqtt://${info}127.0.0.1:1883` },
        { id: `in${i}`, z: 't1', type: 'aliyun-iot-device-in', broker: `broker${i}`, topic: '/a/b/c', qos: '0', wires: [[]] },
        { id: `mqttOut${i}`, z: 't1', type: 'aliyun-iot-device-out', mode: 'mqtt', broker: `broker${i}`, topic: '/a/b/c', qos: '0', wires: [[]] },
        { id: `device${i}`, type: 'aliyun-iot-broker', mode: 'device', instanceEndpoint: `mqtts://${info}iot-06z00abc.mqtt.iothub.aliyuncs.com:1883`, productKey: 'a1B2c3D4e5F', deviceName: 'dev01' },
        { id: `devIn${i}`, z: 't1', type: 'aliyun-iot-device-in', broker: `device${i}`, topic: '/a1B2c3D4e5F/dev01/user/get', qos: '0', wires: [[]] },
      );
      credentials[`cSts${i}`] = { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret };
      credentials[`device${i}`] = { deviceSecret: 'device-secret-0001' };
      credentials[`broker${i}`] = { password: 'broker-field-password' };
      inputs.push(`probe${i}`, `mns${i}`, `pub${i}`, `mqttOut${i}`);
    });

    const debugOutput: unknown[] = [];
    const events = (helper as unknown as { _events: NodeJS.EventEmitter })._events;
    const onComms = (m: unknown) => debugOutput.push(m);
    events.on('comms', onComms);
    try {
      const nodes = [credentialsNode, topicOutNode, queueInNode, deviceOutNode, brokerNode, deviceInNode].map(withCatalog);
      await helper.load([...nodes, probe, debugNode], flow as helper.TestFlows, credentials);
      const caught: NodeMessage[] = [];
      const allCaught = new Promise<void>((resolve) => {
        helper.getNode('h2').on('input', (m: NodeMessage) => {
          caught.push(m);
          if (caught.length === inputs.length) resolve();
        });
      });
      for (const id of inputs) helper.getNode(id).receive({ payload: { temperature: 40 }, topic: '/a/b/c' });
      await allCaught;

      // The editor's Test button with such an endpoint: typed secret, stored secret, and key-only verification.
      const admin: string[] = [];
      for (const [i, pw] of passwords.entries()) {
        const endpoint = `http://${USER}:${pw}@127.0.0.1:${port}`;
        const answers = [
          await helper.request().post('/aliyun-credentials/test').send({ mode: 'ramRole', accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret, roleArn: DEMO_ROLE_ARN, stsEndpoint: endpoint }),
          await helper.request().post('/aliyun-credentials/test').send({ id: `cSts${i}`, mode: 'ramRole', accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: '__PWRD__', roleArn: DEMO_ROLE_ARN, stsEndpoint: endpoint }),
          await helper.request().post('/aliyun-credentials/test').send({ mode: 'accessKey', accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret, stsEndpoint: endpoint }),
        ];
        for (const a of answers) {
          assert.equal(a.body.ok, false, a.text);
          assert.equal(a.body.field, 'stsEndpoint', a.text);
          admin.push(a.text);
        }
      }
      assert.deepEqual(cloud.sts.requests(), [], 'no STS call was made with an endpoint holding a password');

      const proto = (helper as unknown as { _NodePrototype: Record<string, Spy> })._NodePrototype;
      const nodeCalls = Object.fromEntries(['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'].map((m) => [m, proto[m].args]));
      const everything = [
        util.inspect(helper.log().args, { depth: 10 }),
        util.inspect(nodeCalls, { depth: 10 }),
        util.inspect(debugOutput, { depth: 10 }),
        util.inspect(caught, { depth: 10 }),
        JSON.stringify(debugOutput),
        ...admin,
      ].join('\n');

      // The capture is real: it holds the refusals users should see, from every kind of endpoint.
      for (const visible of ['the STS endpoint must not contain a user name or password', 'the MNS endpoint must not contain', 'the IoT OpenAPI endpoint must not contain', 'the broker URL must not contain', 'the instance endpoint must not contain', 'put the username and password in their own fields']) {
        assert.ok(everything.includes(visible), `capture should include "${visible}"`);
      }
      assert.ok(debugOutput.length >= inputs.length, 'debug sidebar output captured');
      const leaks = parts.filter((p) => everything.includes(p));
      assert.deepEqual(leaks, [], 'parts of a user:password@ found in captured output');
      assert.ok((everything + parts[1]).includes(parts[1]), 'the search itself works');
    } finally {
      events.off('comms', onComms);
    }
  });
});
