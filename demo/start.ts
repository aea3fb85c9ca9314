// `npm start`: the whole path on this machine. Starts the local cloud (STS, MNS, IoT broker + OpenAPI), simulated devices,
// and a Node-RED 4.1 with a fresh user directory, this package linked in and the full-path and down-link examples deployed
// with their config nodes pointing at the local cloud. `npm start -- --no-local` runs only Node-RED with the package, for a
// real Alibaba Cloud account.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { start, startSimulator, DEMO_MNS_QUEUE, DEMO_MNS_TOPIC, type LocalCloud } from '../emulators';
import { demoDevices } from '../emulators/cli';
import { connectComms, type Comms } from './comms';
import { buildDemoFlow, type FlowObject } from './flow';

const ROOT = path.resolve(__dirname, '..');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string };
type Simulator = Awaited<ReturnType<typeof startSimulator>>;

interface Options {
  local: boolean;
  devices: number;
  intervalMs: number;
  port: number;
  host: string;
  userDir?: string;
}

const USAGE = `usage: npm start [-- --devices N] [--interval MS] [--port 1880] [--no-local] [--user-dir DIR]
  --devices N     simulated devices (default 3)
  --interval MS   milliseconds between a device's property posts (default 2000)
  --port N        Node-RED editor port (default 1880)
  --no-local      only Node-RED with this package (user dir .demo/node-red-cloud, kept), for a real Alibaba Cloud account
  --user-dir DIR  Node-RED user directory (default .demo/node-red, emptied at each start; .demo/node-red-cloud with --no-local)`;

export function parseArgs(argv: string[]): Options {
  const o: Options = { local: true, devices: 3, intervalMs: 2000, port: 1880, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const int = (min: number, max: number): number => {
      const raw = argv[++i];
      const v = Number(raw);
      if (raw === undefined || !Number.isInteger(v) || v < min || v > max) throw new Error(`${a} needs a whole number from ${min} to ${max}\n${USAGE}`);
      return v;
    };
    if (a === '--no-local') o.local = false;
    else if (a === '--devices') o.devices = int(0, 500);
    else if (a === '--interval') o.intervalMs = int(50, 3_600_000);
    else if (a === '--port') o.port = int(1, 65535);
    else if (a === '--user-dir') {
      const v = argv[++i];
      if (!v) throw new Error(`--user-dir needs a directory\n${USAGE}`);
      o.userDir = path.resolve(v);
    } else if (a === '-h' || a === '--help') throw new Error(USAGE);
    else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  return o;
}

/** A Node-RED user directory with this package linked in as an installed module; returns the settings file. */
function prepareUserDir(dir: string, o: Options): string {
  if (o.local) fs.rmSync(dir, { recursive: true, force: true });
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  const link = path.join(modules, PKG.name);
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(ROOT, link, 'dir');
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-red-demo', private: true, dependencies: { [PKG.name]: `file:${ROOT}` } }, null, 2));
  }
  const settings: Record<string, unknown> = {
    uiHost: o.host,
    uiPort: o.port,
    flowFile: 'flows.json',
    editorTheme: { tours: false, projects: { enabled: false } },
    telemetry: { enabled: false, updateNotification: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
  };
  // The local cloud's keys are demo values, so a fixed key is fine for them. With --no-local Node-RED generates its own
  // key (kept in .config.runtime.json of the user directory), so a real account's secrets are not encrypted with a
  // key published in this repository.
  if (o.local) settings.credentialSecret = 'node-red-contrib-aliyun-iot-mns-local-demo';
  const file = path.join(dir, 'settings.js');
  fs.writeFileSync(file, `// Written by npm start (demo/start.ts).\nmodule.exports = ${JSON.stringify(settings, null, 2)};\n`);
  return file;
}

interface RedChild {
  child: ChildProcess;
  ready: Promise<void>;
  /** Resolves with the next log line matching `pattern`. */
  nextLine(pattern: RegExp): Promise<string>;
  errors(): number;
}

/** Node-RED in a child process; its whole log goes to <userDir>/node-red.log, warnings and errors also to the terminal. */
function startNodeRed(userDir: string, settings: string, port: number, print: (line: string) => void): RedChild {
  const red = require.resolve('node-red/red.js');
  const logFile = fs.createWriteStream(path.join(userDir, 'node-red.log'));
  const child = spawn(process.execPath, [red, '-u', userDir, '-s', settings], {
    cwd: userDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0' },
  });
  let errors = 0;
  let ready = false;
  let partial = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const onLine = (line: string) => {
    logFile.write(`${line}\n`);
    const level = /\[(warn|error)\]/.exec(line)?.[1];
    if (level === 'error') errors++;
    if (!ready || level) print(`  [node-red] ${line}`);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const onData = (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.once('exit', () => logFile.end());
  const nextLine = (pattern: RegExp) => new Promise<string>((resolve) => waiters.push({ pattern, resolve }));
  const readyPromise = new Promise<void>((resolve, reject) => {
    nextLine(/Server now running at/).then(() => {
      ready = true;
      resolve();
    }, reject);
    nextLine(/port in use|EADDRINUSE|Unable to listen/).then(() => reject(new Error(`the editor port ${port} is in use or not available: pass --port N`)), reject);
    child.once('exit', (code) => reject(new Error(`Node-RED exited (code ${code}) before it was ready; see ${path.join(userDir, 'node-red.log')}`)));
    child.once('error', reject);
  });
  return { child, ready: readyPromise, nextLine, errors: () => errors };
}

function request(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(url, { method, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Writes lines above the live summary line (which is redrawn in place on a terminal). */
class Terminal {
  private summary = '';
  private readonly tty = !!process.stdout.isTTY;
  line(text: string): void {
    if (this.tty && this.summary) process.stdout.write('\r\x1b[K');
    process.stdout.write(`${text}\n`);
    if (this.tty && this.summary) process.stdout.write(this.summary);
  }
  /** On a terminal: redrawn in place; otherwise printed when it changed. */
  status(text: string): void {
    if (text === this.summary) return;
    this.summary = text;
    if (this.tty) process.stdout.write(`\r${text}\x1b[K`);
    else process.stdout.write(`${text}\n`);
  }
  end(): void {
    if (this.tty && this.summary) process.stdout.write('\n');
    this.summary = '';
  }
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 2;
    return;
  }
  const term = new Terminal();
  const editor = `http://${o.host}:${o.port}`;
  let cloud: LocalCloud | undefined;
  let simulator: Simulator | undefined;
  let red: RedChild | undefined;
  let comms: Comms | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let stopping = false;

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (ticker) clearInterval(ticker);
    term.end();
    console.log('stopping…');
    comms?.close();
    const child = red?.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await simulator?.stop().catch(() => undefined);
    await cloud?.stop().catch(() => undefined);
    console.log('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGHUP', () => void shutdown(0));

  try {
    if (o.local) {
      cloud = await start({ sts: { httpsPort: null } });
      const devices = cloud.iot ? demoDevices(cloud.iot, o.devices) : [];
      if (cloud.iot && devices.length) simulator = await startSimulator({ url: cloud.iot.mqttUrl, devices, intervalMs: o.intervalMs });
    }
    const userDir = o.userDir ?? path.join(ROOT, '.demo', o.local ? 'node-red' : 'node-red-cloud');
    const settings = prepareUserDir(userDir, o);
    red = startNodeRed(userDir, settings, o.port, (l) => term.line(l));
    red.child.once('exit', (code, signal) => {
      if (!stopping) {
        term.line(`Node-RED exited (code ${code}, signal ${signal}); see ${path.join(userDir, 'node-red.log')}`);
        void shutdown(1);
      }
    });
    await red.ready;

    if (cloud) {
      const flow = buildDemoFlow(cloud);
      const started = red.nextLine(/Started flows/);
      const res = await request(`${editor}/flows`, 'POST', flow, { 'Node-RED-API-Version': 'v1', 'Node-RED-Deployment-Type': 'full' });
      if (res.status >= 300) throw new Error(`deploying the demo flow failed: HTTP ${res.status} ${res.text}`);
      await started;
      comms = await connectComms(editor);
      printBanner(o, editor, userDir, cloud, flow);
      ticker = startSummary(term, cloud, simulator, comms, flow, red);
    } else {
      console.log(
        [
          '',
          `  Node-RED with ${PKG.name}: ${editor}`,
          `  user directory ${userDir} (kept between runs; log in node-red.log)`,
          `  Import → Examples → ${PKG.name} for flows; fill in your account in the config nodes (see each flow's comment).`,
          '',
          '  Ctrl-C stops Node-RED.',
          '',
        ].join('\n'),
      );
    }
  } catch (e) {
    term.line(`npm start: ${(e as Error).message}`);
    await shutdown(1);
  }
}

function printBanner(o: Options, editor: string, userDir: string, cloud: LocalCloud, flow: FlowObject[]): void {
  const tabs = flow.filter((n) => n.type === 'tab').map((n) => `"${String(n.label)}"`);
  const lines = [
    '',
    `  Node-RED editor    ${editor}   (deployed: ${tabs.join(', ')})`,
    `  Node-RED user dir  ${userDir}   (log: node-red.log)`,
    ...Object.entries(cloud.urls).map(([k, v]) => `  ${`local ${k}`.padEnd(18)} ${v}`),
    `  MNS                topic ${DEMO_MNS_TOPIC} → queue ${DEMO_MNS_QUEUE}; what arrived: ${cloud.mns?.url}/__emulator`,
    `  devices            ${o.devices} simulated, a property post every ${o.intervalMs} ms each`,
    '',
    '  In the editor: the Debug sidebar shows what the application receives from the MNS queue; press the inject',
    '  buttons on the down-link tab to send a command to sensor-01 and see its reply. Ctrl-C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));
}

/** The live line: devices online, posts, rule matches published to MNS, received by the application, commands, replies, errors. */
function startSummary(term: Terminal, cloud: LocalCloud, simulator: Simulator | undefined, comms: Comms, flow: FlowObject[], red: RedChild): NodeJS.Timeout {
  const debugId = (name: string) => flow.find((n) => n.type === 'debug' && n.name === name)?.id;
  const errorRecordsId = debugId('error records');
  const replyId = debugId('device reply');
  let published = 0;
  let received = 0;
  let errorRecords = 0;
  let replies = 0;
  cloud.mns?.events.on('published', (e: { topic: string }) => {
    if (e.topic === DEMO_MNS_TOPIC) published++;
  });
  cloud.mns?.events.on('deleted', (e: { queue: string }) => {
    if (e.queue === DEMO_MNS_QUEUE) received++;
  });
  comms.events.on('debug', (m: { id: string }) => {
    if (m.id === errorRecordsId) errorRecords++;
    if (m.id === replyId) replies++;
  });
  const names = new Set(simulator?.devices.map((d) => d.deviceName) ?? []);
  const draw = () => {
    const online = cloud.iot?.connectedDevices().filter((s) => names.has(s.deviceName)).length ?? 0;
    const c = simulator?.counts();
    const parts = [
      `devices online ${online}`,
      `posts ${c?.propertyPosts ?? 0}`,
      `rule matched ${published + errorRecords}`,
      `published ${published}`,
      `received by app ${received}`,
      `commands ${c?.downlinks ?? 0}`,
      `replies ${replies}`,
      `errors ${errorRecords + red.errors() + (c?.errors ?? 0)}`,
    ];
    term.status(parts.join(' · '));
  };
  draw();
  return setInterval(draw, 1000);
}

if (require.main === module) void main();
