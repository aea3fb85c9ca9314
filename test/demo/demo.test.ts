// `npm start` for real: demo/start.ts as a child process (the build is already done by npm test), the way a user runs it.
// Property posts reach the application side through MNS, the inject button sends a command through the IoT OpenAPI
// and the device's reply shows in the Debug sidebar, and Ctrl-C (SIGINT to the process group) stops everything.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEMO_ACCESS_KEY, DEMO_APPLICATION } from '../../emulators';
import { connectComms, debugValue, type Comms } from '../../demo/comms';
import type { FlowObject } from '../../demo/flow';

const ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'Node-RED-API-Version': 'v1' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}

function post(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Pids of live processes whose working directory is `dir` (Node-RED runs in its user directory). */
function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/cwd`) === dir) out.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

describe('npm start (demo/start.ts)', function () {
  this.timeout(120_000);
  let child: ChildProcess | undefined;
  let comms: Comms | undefined;
  let userDir: string;
  let output = '';
  const waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];

  /** Resolves with the first output line (already printed or to come) that passes `test`; fails when the demo exits. */
  function waitForLine(test: (line: string) => boolean, what: string): Promise<string> {
    const seen = output.split('\n').find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { test, resolve };
      waiters.push(w);
      child?.once('exit', () => reject(new Error(`the demo exited before ${what}\n--- output ---\n${output}`)));
    });
  }

  before(function () {
    if (process.platform !== 'linux') this.skip(); // the orphan check reads /proc
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aliyun-demo-'));
  });

  after(async function () {
    comms?.close();
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGKILL');
    }
    for (const pid of userDir ? processesIn(userDir) : []) process.kill(pid, 'SIGKILL');
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('runs the whole path, answers the inject button with the device reply, and stops cleanly on Ctrl-C', async function () {
    const port = await freePort();
    child = spawn(process.execPath, [TSX, 'demo/start.ts', '--port', String(port), '--interval', '200', '--user-dir', userDir], {
      cwd: ROOT,
      detached: true, // its own process group: SIGINT to the group is what Ctrl-C in a terminal does
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const lines = output.split('\n');
      for (const w of [...waiters]) {
        const hit = lines.find(w.test);
        if (hit) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(hit);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));

    // The banner says where everything runs.
    const editorLine = await waitForLine((l) => /Node-RED editor\s+http:\/\//.test(l), 'the banner');
    const editor = `http://127.0.0.1:${port}`;
    assert.ok(editorLine.includes(editor), editorLine);
    for (const service of ['local sts', 'local mns', 'local iot-mqtt', 'local iot-openapi']) assert.ok(output.includes(service), `the banner names ${service}`);

    // The editor is there and shows the deployed example flows; flows.json holds no secret.
    const page = await get(`${editor}/`);
    assert.equal(page.status, 200);
    assert.match(page.text, /Node-RED/);
    const flows = JSON.parse((await get(`${editor}/flows`)).text) as FlowObject[];
    const tabs = flows.filter((n) => n.type === 'tab').map((n) => n.label);
    assert.deepEqual(tabs, ['Full path - device to SQL rule to MNS', 'Down-link round trip - command and reply']);
    const stored = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    for (const secret of [DEMO_ACCESS_KEY.accessKeySecret, DEMO_APPLICATION.password]) assert.ok(!stored.includes(secret), 'flows.json has no secret');
    assert.ok(fs.existsSync(path.join(userDir, 'flows_cred.json')), 'credentials are stored (encrypted) beside the flows');

    comms = await connectComms(editor);
    const byName = (type: string, name: string) => {
      const n = flows.find((x) => x.type === type && x.name === name);
      assert.ok(n, `the flow has the ${type} "${name}"`);
      return n;
    };

    // Hot posts reach the application side: the live line counts them and the Debug sidebar shows them.
    const summary = await waitForLine((l) => Number(/received by app (\d+)/.exec(l)?.[1] ?? 0) > 0, 'messages reached the app queue');
    assert.match(summary, /devices online 3 · posts \d+ · rule matched [1-9]\d* · published [1-9]\d* · received by app [1-9]/);
    const app = await comms.waitForDebug(byName('debug', 'hot device (application)').id);
    const body = debugValue(app) as { deviceName: string; temperature: number; messageId: string };
    assert.match(body.deviceName, /^sensor-0[123]$/);
    assert.ok(body.temperature > 24.5, `only hot devices reach MNS (got ${body.temperature})`);

    // The inject button: a command through IoT OpenAPI Pub, the device's reply in the sidebar and in the live line.
    assert.equal(await post(`${editor}/inject/${byName('inject', 'command via OpenAPI Pub').id}`), 200);
    const reply = await comms.waitForDebug(byName('debug', 'device reply').id, (m) => (debugValue(m) as { request?: { via?: string } }).request?.via === 'pub');
    assert.equal((debugValue(reply) as { deviceName: string }).deviceName, 'sensor-01');
    await waitForLine((l) => /commands [1-9]\d* · replies [1-9]/.test(l), 'the live line counted the reply');

    // Ctrl-C: everything stops, nothing is left behind.
    assert.ok(processesIn(userDir).length > 0, 'Node-RED runs in its user directory (so the orphan check below can see it)');
    comms.close();
    process.kill(-child.pid!, 'SIGINT');
    const { code, signal } = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, output);
    assert.match(output, /stopped\.\s*$/);
    assert.doesNotMatch(output, /errors [1-9]/, 'no errors on the way');
    assert.deepEqual(processesIn(userDir), [], 'no Node-RED left running');
    assert.throws(() => process.kill(-child!.pid!, 0), /ESRCH/, 'the whole process group is gone');
  });
});
