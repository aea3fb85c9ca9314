// The aliyun-local CLI: starts the local cloud, prints URLs and the demo AccessKey, stops cleanly on a signal.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { once } from 'node:events';
import mqtt from 'mqtt';
import { banner, parseArgs } from '../../../emulators/cli';
import { start, TEST_CA_FILE, type LocalCloud } from '../../../emulators';
import { AssumeRoleProvider, StaticAccessKeyProvider } from '../../../lib/credentials';
import { MnsClient } from '../../../lib/mns';

const CLI = path.join(__dirname, '../../../emulators/cli.ts');

const REPO = path.join(__dirname, '../../..');
/** The services in --base-port order, as named in LocalCloud.urls and the banner. */
const SERVICES = ['sts', 'sts-https', 'mns', 'iot-mqtt', 'iot-ws', 'iot-openapi', 'iot-amqp', 'iot-amqps'];

function runCli(args: string[]): { child: ChildProcess; ready: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ctrl-C to stop.')) resolve(out);
    });
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => reject(new Error(`CLI exited early (${code}): ${out}`)));
  });
  return { child, ready, output: () => out };
}

/** The IoT options without the AMQP block (its ports are checked apart, by amqpPorts). */
function iotPorts(iot: unknown): unknown {
  if (!iot || typeof iot !== 'object') return iot;
  const rest = { ...(iot as Record<string, unknown>) };
  delete rest.amqp;
  return rest;
}
function amqpPorts(iot: unknown): unknown {
  const amqp = (iot as { amqp?: { port?: number; tlsPort?: number } } | undefined)?.amqp;
  return amqp && [amqp.port, amqp.tlsPort];
}

describe('aliyun-local CLI', () => {
  it('parses options: fixed default ports, overrides, config file', () => {
    const defaults = parseArgs([]);
    assert.deepEqual(defaults.sts, { port: 17100, httpsPort: 17101 });
    assert.deepEqual(defaults.mns, { port: 17102 });
    assert.deepEqual(amqpPorts(defaults.iot), [17106, 17107]);
    assert.deepEqual(iotPorts(defaults.iot), { mqttPort: 17103, wsPort: 17104, openApiPort: 17105 });
    assert.deepEqual(parseArgs(['--sts-port', '0', '--sts-https-port', 'off', '--sts-lifetime', '5']).sts, { port: 0, httpsPort: null, lifetimeSeconds: 5 });
    assert.deepEqual(iotPorts(parseArgs(['--mqtt-ws-port', '18004', '--openapi-port', '18005']).iot), { mqttPort: 17103, wsPort: 18004, openApiPort: 18005 });
    assert.deepEqual(iotPorts(parseArgs(['--mqtt-ws-port', 'off', '--openapi-port', 'off']).iot), { mqttPort: 17103, wsPort: false, openApiPort: false });
    // A config file brings its own ports: only the flags given override it.
    assert.deepEqual(parseArgs(['--config', 'x.json']), { configFile: 'x.json', sts: {} });
    assert.deepEqual(iotPorts(parseArgs(['--config', 'x.json', '--openapi-port', '18005']).iot), { openApiPort: 18005 });
    assert.throws(() => parseArgs(['--sts-port', 'abc']), /--sts-port: "abc" is not a port number/);
    assert.throws(() => parseArgs(['--mqtt-ws-port', '65536']), /--mqtt-ws-port: "65536" is not a port number: give 1 to 65535, or 0 for any free port, or off/);
    assert.throws(() => parseArgs(['--openapi-port']), /--openapi-port needs a value/);
    assert.throws(() => parseArgs(['--bogus']), /unknown option --bogus/);
    assert.deepEqual(parseArgs(['--devices', '3', '--help']), { help: true });
  });

  it('--base-port N puts every service at N + offset in the default order; a port flag wins; bad values say what fits', () => {
    const o = parseArgs(['--base-port', '20000']);
    assert.deepEqual([o.sts, o.mns, iotPorts(o.iot), amqpPorts(o.iot)], [{ port: 20000, httpsPort: 20001 }, { port: 20002 }, { mqttPort: 20003, wsPort: 20004, openApiPort: 20005 }, [20006, 20007]]);
    // Same order as the defaults.
    const d = parseArgs([]);
    const b = parseArgs(['--base-port', '17100']);
    assert.deepEqual([b.sts, b.mns, b.iot], [d.sts, d.mns, d.iot]);
    assert.deepEqual(iotPorts(parseArgs(['--base-port', '20000', '--mqtt-ws-port', '20100']).iot), { mqttPort: 20003, wsPort: 20100, openApiPort: 20005 });
    assert.deepEqual(parseArgs(['--config', 'x.json', '--base-port', '20000']).mns, { port: 20002 });
    for (const bad of ['0', '65529', '-1', '1.5', 'abc', '']) {
      assert.throws(() => parseArgs(['--base-port', bad]), new RegExp(`--base-port: "${bad}" does not fit: the 7 services use N to N\\+7 \\(AMQP's TLS the last\\), so N must be a whole number from 1 to 65528`), bad);
    }
    assert.deepEqual(iotPorts(parseArgs(['--base-port', '65528']).iot), { mqttPort: 65531, wsPort: 65532, openApiPort: 65533 });
    assert.deepEqual(amqpPorts(parseArgs(['--base-port', '65528']).iot), [65534, 65535]);
  });

  it('refuses ports that collide and flags that contradict, naming both', () => {
    assert.throws(() => parseArgs(['--mns-port', '17103']), /--mns-port and --mqtt-port \(default\) are both 17103: every service needs its own port/);
    assert.throws(() => parseArgs(['--base-port', '20000', '--openapi-port', '20000']), /--sts-port \(from --base-port 20000\) and --openapi-port are both 20000/);
    assert.throws(() => parseArgs(['--mqtt-ws-port', '18000', '--openapi-port', '18000']), /--mqtt-ws-port and --openapi-port are both 18000/);
    // 0 (any free port) and turned-off services never collide.
    assert.doesNotThrow(() => parseArgs(['--sts-port', '0', '--mns-port', '0', '--mqtt-port', '0']));
    assert.doesNotThrow(() => parseArgs(['--no-mns', '--mqtt-port', '17102']));
    assert.doesNotThrow(() => parseArgs(['--mqtt-ws-port', 'off', '--openapi-port', '17104']));
    assert.throws(() => parseArgs(['--no-iot', '--openapi-port', '18000']), /--openapi-port and --no-iot contradict each other/);
    assert.throws(() => parseArgs(['--mns-port', '18000', '--no-mns']), /--mns-port and --no-mns contradict each other/);
    assert.throws(() => parseArgs(['--no-iot', '--devices', '2']), /--devices needs the IoT platform/);
  });

  it('--help prints every option to stdout and exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = await once(child, 'close');
    assert.equal(code, 0);
    assert.equal(err, '');
    // Every option the parser accepts (its case labels) is described.
    const accepted = [...fs.readFileSync(CLI, 'utf8').matchAll(/case '(--?[a-z-]+)':/g)].map((m) => m[1]);
    assert.ok(accepted.length >= 15, `found only ${accepted.length} options in ${CLI}`);
    for (const flag of accepted) assert.match(out, new RegExp(`(^|[\\s,])${flag}\\b`), `--help does not list ${flag}`);
  });

  it('a bad option exits 2 with the reason on stderr', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--base-port', '70000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = await once(child, 'close');
    assert.equal(code, 2);
    assert.match(err, /--base-port: "70000" does not fit/);
  });

  it('starts every service on --base-port N + offset, and each answers there', async () => {
    const base = await freePortRange(SERVICES.length);
    const { child, ready } = runCli(['--base-port', String(base)]);
    try {
      const out = await ready;
      const urls = new Map([...out.matchAll(/^ {2}([a-z-]+)\s+((?:https?|mqtt|ws|amqps?):\/\/\S+)/gm)].map((m) => [m[1], m[2]]));
      SERVICES.forEach((name, i) => assert.equal(new URL(urls.get(name) ?? 'x:').port, String(base + i), `${name} in:\n${out}`));
      const key = /AccessKey ID\s+(\S+)/.exec(out)?.[1] ?? '';
      const secret = /AccessKey secret\s+(\S+)/.exec(out)?.[1] ?? '';
      const role = /role ARN\s+(\S+)/.exec(out)?.[1] ?? '';
      // STS (HTTP): AssumeRole with the printed key; MNS: publish with those credentials.
      const provider = new AssumeRoleProvider(new StaticAccessKeyProvider(key, secret), { roleArn: role, roleSessionName: 'cli-base-port', stsEndpoint: urls.get('sts') });
      assert.match((await provider.getCredentials()).accessKeyId, /^STS\./);
      const topic = /^ {2}topics\s+([^,\s]+)/m.exec(out)?.[1] ?? '';
      const accountId = /^MNS\n {2}account ID\s+(\d+)/m.exec(out)?.[1] ?? '';
      const mnsClient = new MnsClient({ endpoint: urls.get('mns')!, accountId, credentials: provider });
      try {
        assert.ok((await mnsClient.publishMessage(topic, 'via base port')).messageId);
      } finally {
        mnsClient.close();
      }
      // MQTT over TCP and WebSocket: the printed application account logs in.
      const username = /broker app user\s+(\S+)/.exec(out)?.[1] ?? '';
      const password = /broker app password\s+(\S+)/.exec(out)?.[1] ?? '';
      for (const name of ['iot-mqtt', 'iot-ws']) {
        const client = mqtt.connect(urls.get(name)!, { username, password, clientId: `cli-test-${name}`, reconnectPeriod: 0 });
        try {
          await new Promise<void>((resolve, reject) => {
            client.once('connect', () => resolve());
            client.once('error', reject);
          });
        } finally {
          await client.endAsync();
        }
      }
      // STS over HTTPS and the OpenAPI answer HTTP on their ports (an unsigned call is refused by the service itself).
      for (const name of ['sts-https', 'iot-openapi']) {
        const res = await fetchWithCa(urls.get(name)!);
        assert.ok(res >= 400 && res < 500, `${name} answered HTTP ${res}`);
      }
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
    }
  });

  it('says which port is taken when a port is in use', async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--sts-port', '0', '--sts-https-port', 'off', '--no-iot', '--mns-port', String(taken)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const [code] = await once(child, 'close');
      assert.equal(code, 1);
      assert.match(err, new RegExp(`port ${taken} on 127\\.0\\.0\\.1 is already in use .*--base-port N or the --\\*-port flags`));
    } finally {
      blocker.close();
    }
  });

  it('starts from a config file, prints URLs and the key, serves AssumeRole, and stops on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aliyun-local-'));
    const file = path.join(dir, 'cloud.json');
    const config = {
      sts: { port: 0, httpsPort: null },
      accounts: [{ accountId: '5555666677778888', accessKeys: [{ accessKeyId: 'LTAI5tConfigUser', accessKeySecret: 'config-file-secret', userName: 'cfg' }] }],
      roles: [{ arn: 'acs:ram::5555666677778888:role/from-file', maxSessionDuration: 7200 }],
    };
    fs.writeFileSync(file, JSON.stringify(config));
    const { child, ready } = runCli(['--config', file]);
    try {
      const out = await ready;
      const url = /sts\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(url, out);
      assert.match(out, /AccessKey ID\s+LTAI5tConfigUser/);
      assert.match(out, /AccessKey secret\s+config-file-secret\s+\(local test secret\)/);
      assert.match(out, /role ARN\s+acs:ram::5555666677778888:role\/from-file/);
      const p = new AssumeRoleProvider(new StaticAccessKeyProvider('LTAI5tConfigUser', 'config-file-secret'), {
        roleArn: 'acs:ram::5555666677778888:role/from-file', roleSessionName: 'cli-test', durationSeconds: 7200, stsEndpoint: url,
      });
      assert.match((await p.getCredentials()).accessKeyId, /^STS\./);
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops on SIGINT with exit code 0', async () => {
    // Not the default ports: another test run or a running `npm run local-cloud` may hold them.
    const { child, ready, output } = runCli(['--base-port', String(await freePortRange(SERVICES.length)), '--sts-https-port', '0']);
    await ready;
    assert.match(output(), /sts-https\s+https:\/\/127\.0\.0\.1:\d+/);
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(output(), /aliyun-local: stopped/);
  });
});

describe('aliyun-local banner', () => {
  let cloud: LocalCloud;
  let text: string;
  before(async () => {
    // Names that differ from the demo defaults, so that the banner is shown to follow the running cloud's config.
    cloud = await start({
      accounts: [{ accountId: '2222333344445555', accessKeys: [{ accessKeyId: 'LTAI5tBannerUser', accessKeySecret: 'banner-secret-x', userName: 'b' }] }],
      roles: [{ arn: 'acs:ram::2222333344445555:role/banner-role', maxSessionDuration: 3600 }],
      mns: { region: 'cn-beijing', topics: [{ name: 'banner-topic' }], queues: [{ name: 'banner-queue' }], subscriptions: [{ topic: 'banner-topic', name: 'banner-sub', queue: 'banner-queue' }] },
      iot: {
        regionId: 'cn-beijing',
        products: [{ productKey: 'a1BannerPk1', accountId: '2222333344445555' }],
        devices: [{ productKey: 'a1BannerPk1', deviceName: 'banner-dev', deviceSecret: 'banner-device-secret' }],
        application: { username: 'banner-app', password: 'banner-app-password' },
      },
    });
    cloud.iot!.addDevice({ productKey: 'a1BannerPk1', deviceName: 'added-later' });
    text = banner(cloud);
  });
  after(async () => {
    await cloud?.stop();
  });
  const line = (label: string, value: string) => new RegExp(`^ {2}${label}\\s+${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(\\s|$)`, 'm');

  it('prints every URL of the running cloud under its service name', () => {
    assert.deepEqual(Object.keys(cloud.urls).sort(), [...SERVICES].sort());
    for (const [name, url] of Object.entries(cloud.urls)) assert.match(text, line(name, url), name);
  });

  it('prints the local AccessKey ID and secret, labelled as local test keys, the account and the role', () => {
    assert.match(text, /^Local test keys: a fake account of this local cloud only, not real Alibaba Cloud secrets$/m);
    assert.match(text, line('AccessKey ID', cloud.demo.accessKeyId));
    assert.match(text, new RegExp(`${line('AccessKey secret', cloud.demo.accessKeySecret).source}.*local test secret`, 'm'));
    assert.match(text, line('account ID', cloud.demo.accountId));
    assert.match(text, line('role ARN', cloud.demo.roleArn!));
  });

  it('prints the MNS account ID, region, topics, queues and subscriptions', () => {
    const mns = cloud.mns!;
    const section = /^MNS\n((?: {2}.*\n)+)/m.exec(text)?.[1] ?? '';
    assert.match(section, line('account ID', mns.accountId));
    assert.match(section, line('region', mns.region));
    assert.match(section, line('topics', mns.topicNames().join(', ')));
    assert.match(section, line('queues', mns.queueNames().join(', ')));
    for (const topic of mns.topicNames()) for (const s of mns.subscriptions(topic)) assert.ok(section.includes(`${topic} → ${s.endpoint}`), s.subscriptionName);
  });

  it('prints every device triple, the IoT region and the broker application login', () => {
    const devices = cloud.iot!.registry.listDevices();
    assert.equal(devices.length, 2);
    for (const d of devices) assert.match(text, new RegExp(`^ {4}${d.productKey} {2}${d.deviceName} {2}${d.deviceSecret}$`, 'm'), d.deviceName);
    const iotConfig = cloud.config.iot || undefined;
    assert.match(text, line('region', iotConfig!.regionId!));
    assert.match(text, line('broker app user', iotConfig!.application!.username));
    assert.match(text, line('broker app password', iotConfig!.application!.password));
  });

  it('prints the CA file, and fault hints that work and point only at what the package ships', async () => {
    assert.ok(fs.existsSync(cloud.caFile));
    assert.match(text, line('CA file', cloud.caFile));
    assert.match(text, line('STS', `curl -X PUT ${cloud.sts.url}/__admin/faults`));
    assert.match(text, line('MNS', `curl -X POST ${cloud.mns!.url}/__emulator/faults`));
    assert.match(text, line('IoT OpenAPI', `curl -X PUT ${cloud.iot!.openApiUrl.replace(/\/$/, '')}/__emulator/faults`));
    // Each printed command is accepted by its service (then cleared again).
    const hints = [...text.matchAll(/curl -X (\w+) (\S+) -d '([^']+)'/g)];
    assert.equal(hints.length, 3);
    for (const [, method, url, body] of hints) {
      assert.equal(await send(method, url, body), 200, `${method} ${url} ${body}`);
      assert.equal(await send('DELETE', url), 200, `DELETE ${url}`);
    }
    // No source file (not in the package) is named; the README section it names exists.
    assert.doesNotMatch(text, /\.ts\b/);
    assert.doesNotMatch(text.slice(text.indexOf('\nFaults')), /emulators\/|\.js\b/);
    const pointer = /README, section "([^"]+)": ([A-Za-z]+)/.exec(text);
    assert.ok(pointer, 'the fault hint names a README section');
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    assert.match(readme, new RegExp(`^## ${pointer[1]}$`, 'm'));
    assert.match(readme.slice(readme.indexOf(`## ${pointer[1]}`)), new RegExp(`^\\*\\*${pointer[2]}\\*\\*`, 'm'));
    const files = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { files: string[] }).files;
    assert.ok(files.includes('README.zh-CN.md') && fs.readFileSync(path.join(REPO, 'README.zh-CN.md'), 'utf8').includes('/__admin/faults'), 'the Chinese README describes the faults too');
  });
});

/** `count` consecutive ports free on 127.0.0.1, below the ephemeral range (so that clients' local ports do not take them), picked at random so that parallel runs do not meet. */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    const servers: net.Server[] = [];
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      const s = net.createServer();
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(base + i, '127.0.0.1', () => resolve(true));
      });
      if (ok) servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found between 20000 and 32000`);
}

/** HTTP status of a GET, trusting the local test CA for https. */
async function fetchWithCa(url: string): Promise<number> {
  const request = url.startsWith('https:') ? https.request : http.request;
  return new Promise<number>((resolve, reject) => {
    const req = request(url, { ca: fs.readFileSync(TEST_CA_FILE) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

/** Status of an unsigned HTTP request with an optional body. */
function send(method: string, url: string, body?: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end(body);
  });
}
