// A real Node-RED in its own process, with THIS package installed into a fresh user directory the way an
// integrator installs it. Shared by the browser tests and the end-to-end tests.
//
//   const red = await startNodeRed({ install: 'pack', flows, credentials });
//   ... red.url, red.deploy(flows), red.importFlows(more), red.restart(), red.waitForLog(/Started flows/) ...
//   await red.stop();
//
// Install modes:
// - 'pack': `npm pack` of the repository (packed once per test process, from the dist/ that `npm test` built),
//   then `npm install <tarball>` into the user directory, offline from the npm cache when it can be, else
//   preferring the cache and asking the registry only for what is missing. What a user gets from the registry.
// - 'link': a symlink <userDir>/node_modules/<package> → the checkout (the development loop of spec §5.6);
//   dependencies resolve from the checkout's node_modules. No npm at all: fast, but not what is published.
//
// Waiting is event-driven: every wait is on a line of the process's output (or its exit), with a deadline that
// fails with the captured log. stop() ends the whole process group and waits for it to exit.
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const PKG = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  'node-red': { nodes: Record<string, string> };
};
export const PACKAGE_NAME = PKG.name;
// The runtime under test: by default the node-red devDependency on the Node that runs the tests. The compatibility
// runs of .ci/run point these at another install: TEST_NODE_RED_DIR = a node-red package folder (e.g. node-red 3.1 or
// 5.x), TEST_NODE_BIN = a node binary (e.g. Node 22, which node-red 5 needs).
const RED_DIR = process.env.TEST_NODE_RED_DIR ? path.resolve(process.env.TEST_NODE_RED_DIR) : path.join(REPO_ROOT, 'node_modules', 'node-red');
const RED_JS = path.join(RED_DIR, 'red.js');
const NODE_BIN = process.env.TEST_NODE_BIN ? path.resolve(process.env.TEST_NODE_BIN) : process.execPath;

/** The node-red version and Node binary the processes run, e.g. "node-red 4.1.15 on Node v20.20.2" (printed by the suites). */
export function runtimeUnderTest(): string {
  const version = (JSON.parse(fs.readFileSync(path.join(RED_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  const nodeVersion = NODE_BIN === process.execPath ? process.version : execFileSync(NODE_BIN, ['-v'], { encoding: 'utf8' }).trim();
  return `node-red ${version} on Node ${nodeVersion}`;
}

export type InstallMode = 'pack' | 'link';

/** One object of a Node-RED flow export: a tab, a node or a config node. */
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  [key: string]: unknown;
}

/** Credentials of flow nodes by node id, e.g. { "<config id>": { accessKeyId, accessKeySecret } }. */
export type FlowCredentials = Record<string, Record<string, string>>;

export interface StartOptions {
  install: InstallMode;
  /** Flows deployed once the runtime is up (through the admin API, so that credentials are stored encrypted). */
  flows?: FlowNode[];
  credentials?: FlowCredentials;
  /** JSON-serialisable settings merged over the defaults below (one level deep for objects). */
  settings?: Record<string, unknown>;
  /** Extra environment for the Node-RED process (e.g. NODE_EXTRA_CA_CERTS, values for ${VAR} in node configs). */
  env?: Record<string, string | undefined>;
  /** Console log level of the runtime; default 'info'. */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Deadline for start-up (install excluded) and for each deploy; default 60 s. */
  timeoutMs?: number;
  /** Keep the user directory after stop() (for a look after a failure). Default: removed. */
  keepUserDir?: boolean;
}

export interface AdminResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export interface RedProcess {
  /** Editor and admin API root, e.g. http://127.0.0.1:41234/ — the same across restart(). */
  readonly url: string;
  readonly port: number;
  readonly userDir: string;
  /** Time taken by the install step, in ms (for the record). */
  readonly installMs: number;
  /** Everything the process wrote to stdout and stderr, over all its runs (restarts included). */
  log(): string;
  /** Current end of the log: pass it as `since` to wait only for lines written after this point. */
  logMark(): number;
  /** Resolves with the first log line matching `pattern` after `since` (default: now); rejects with the log on timeout or exit. */
  waitForLog(pattern: RegExp, options?: { since?: number; timeoutMs?: number }): Promise<string>;
  /** Admin API call (JSON in and out), e.g. request('GET', 'flows'). Paths are relative to url. */
  request<T = unknown>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<AdminResponse<T>>;
  /** The deployed flows (GET /flows). */
  getFlows(): Promise<FlowNode[]>;
  /** Full deploy of exactly these flows; resolves when the runtime logged "Started flows". */
  deploy(flows: FlowNode[], credentials?: FlowCredentials): Promise<void>;
  /** Adds these flows to the deployed ones (ids must not clash) and deploys. */
  importFlows(flows: FlowNode[], credentials?: FlowCredentials): Promise<void>;
  /** Stops the process (SIGTERM, as Ctrl-C would) and starts it again on the same user directory and port. */
  restart(): Promise<void>;
  /** Kills the process group with SIGKILL (a crash: no close handlers run) and starts it again on the same user directory and port. */
  crash(): Promise<void>;
  /** Ends the process group and waits for the exit; removes the user directory unless keepUserDir. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Packing: once per test process.

let packed: Promise<string> | undefined;
let packDir: string | undefined;

/** Files the Node-RED loader needs for every node set of package.json: the JS and the HTML beside it. */
function requiredDistFiles(): string[] {
  const files: string[] = [];
  for (const js of Object.values(PKG['node-red'].nodes)) {
    files.push(path.normalize(js), path.normalize(js.replace(/\.c?js$/, '.html')));
  }
  return files;
}

function assertBuilt(): void {
  const missing = requiredDistFiles().filter((f) => !fs.existsSync(path.join(REPO_ROOT, f)));
  if (missing.length > 0) {
    throw new Error(`dist/ is not built (missing ${missing.join(', ')}): run \`npm run build\` first (npm test does)`);
  }
}

/** `npm pack` of the checkout (scripts skipped: dist/ is already built), cached for this process. Returns the tarball path. */
export function packPackage(): Promise<string> {
  packed ??= (async () => {
    assertBuilt();
    packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aliyun-iot-mns-pack-'));
    const out = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], REPO_ROOT);
    const info = JSON.parse(out.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const inPack = new Set(info[0].files.map((f) => path.normalize(f.path)));
    const missing = requiredDistFiles().filter((f) => !inPack.has(f));
    if (missing.length > 0) throw new Error(`npm pack left out ${missing.join(', ')} (check "files" in package.json)`);
    return path.join(packDir, info[0].filename);
  })();
  packed.catch(() => {
    packed = undefined;
  });
  return packed;
}

// ---------------------------------------------------------------------------------------------------------
// Installing.

/** The environment for npm in a user directory: without the npm_* variables of an enclosing `npm test`. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_/i.test(k) || /^npm_config_(prefix|local_prefix|global|workspaces?|include_workspace_root)$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

async function installPacked(userDir: string): Promise<void> {
  const tarball = await packPackage();
  const base = ['install', tarball, '--prefix', userDir, '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'];
  try {
    await run('npm', [...base, '--offline'], userDir, npmEnv());
  } catch (offlineErr) {
    // A fresh CI cache holds the tarballs of `npm ci` but not every package document: allow the registry for those.
    try {
      await run('npm', [...base, '--prefer-offline'], userDir, npmEnv());
    } catch (err) {
      throw new Error(`npm install of ${path.basename(tarball)} failed offline (${firstLine(offlineErr)}) and online: ${(err as Error).message}`, { cause: err });
    }
  }
}

function installLinked(userDir: string): void {
  assertBuilt();
  const target = path.join(userDir, 'node_modules', ...PACKAGE_NAME.split('/'));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.symlinkSync(REPO_ROOT, target, 'dir');
  const manifest = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
  manifest.dependencies = { [PACKAGE_NAME]: `file:${REPO_ROOT}` };
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify(manifest, null, 2));
}

// ---------------------------------------------------------------------------------------------------------
// Settings.

function settingsFor(port: number, options: StartOptions): Record<string, unknown> {
  const defaults: Record<string, unknown> = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'red-process-test-only',
    lang: 'en-US',
    logging: { console: { level: options.logLevel ?? 'info', metrics: false, audit: false } },
    editorTheme: {
      tours: false,
      projects: { enabled: false },
      palette: { catalogues: [] },
      codeEditor: { lib: 'monaco' },
    },
    telemetry: { enabled: false, updateNotification: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false, ui: false },
  };
  const merged: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(options.settings ?? {})) {
    const d = defaults[k];
    merged[k] = isPlainObject(d) && isPlainObject(v) ? { ...d, ...v } : v;
  }
  return merged;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------
// Processes: every live Node-RED is killed if the test process exits without stopping it.

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
  if (packDir) fs.rmSync(packDir, { recursive: true, force: true });
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

interface LogWaiter {
  pattern: RegExp;
  since: number;
  resolve(line: string): void;
  reject(err: Error): void;
}

export async function startNodeRed(options: StartOptions): Promise<RedProcess> {
  if (!fs.existsSync(RED_JS)) throw new Error(`node-red is not installed at ${RED_JS} (it is a devDependency: run npm ci; or fix TEST_NODE_RED_DIR)`);
  if (!fs.existsSync(NODE_BIN)) throw new Error(`TEST_NODE_BIN ${NODE_BIN} does not exist`);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aliyun-iot-mns-red-'));
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-user-dir', private: true, description: 'test user directory' }, null, 2));

  const installStart = Date.now();
  try {
    if (options.install === 'pack') await installPacked(userDir);
    else installLinked(userDir);
  } catch (err) {
    fs.rmSync(userDir, { recursive: true, force: true });
    throw err;
  }
  const installMs = Date.now() - installStart;

  let logText = '';
  let partial = '';
  const lines: Array<{ at: number; line: string }> = [];
  let waiters: LogWaiter[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  let stopped = false;

  const settingsFile = path.join(userDir, 'settings.js');
  const writeSettings = () => {
    const text = `// Written by test/support/red-process.ts\nmodule.exports = ${JSON.stringify(settingsFor(port, options), null, 2)};\n`;
    fs.writeFileSync(settingsFile, text);
  };

  const onLine = (line: string, at: number) => {
    lines.push({ at, line });
    for (const w of [...waiters]) {
      if (at >= w.since && w.pattern.test(line)) {
        waiters = waiters.filter((x) => x !== w);
        w.resolve(line);
      }
    }
  };
  let lineStart = 0; // offset in logText where `partial` begins
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    logText += text;
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      onLine(line, lineStart);
      lineStart += nl + 1;
    }
  };
  const failWaiters = (why: string) => {
    const pending = waiters;
    waiters = [];
    for (const w of pending) w.reject(new Error(`${why}\n--- Node-RED log ---\n${logText}`));
  };

  const waitForLog = (pattern: RegExp, opts: { since?: number; timeoutMs?: number } = {}): Promise<string> => {
    const since = opts.since ?? logText.length;
    const found = lines.find((l) => l.at >= since && pattern.test(l.line));
    if (found) return Promise.resolve(found.line);
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return Promise.reject(new Error(`Node-RED is not running; waited for ${pattern}\n--- Node-RED log ---\n${logText}`));
    }
    return new Promise<string>((resolve, reject) => {
      const limit = opts.timeoutMs ?? timeoutMs;
      const timer = setTimeout(() => {
        waiters = waiters.filter((x) => x !== waiter);
        reject(new Error(`Node-RED did not log ${pattern} within ${limit} ms\n--- Node-RED log ---\n${logText}`));
      }, limit);
      const waiter: LogWaiter = {
        pattern,
        since,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      waiters.push(waiter);
    });
  };

  const launch = async () => {
    writeSettings();
    const since = logText.length;
    const proc = spawn(NODE_BIN, [RED_JS, '-u', userDir, '-s', settingsFile], {
      cwd: userDir,
      detached: true, // its own process group, so stop() reaches anything it starts
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env, NODE_OPTIONS: '', FORCE_COLOR: '0' },
    });
    child = proc;
    live.add(proc);
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        if (partial) {
          onLine(partial, lineStart);
          lineStart += partial.length;
          partial = '';
        }
        failWaiters(`Node-RED exited (code ${code}, signal ${signal})`);
        resolve();
      });
    });
    proc.once('error', (err) => failWaiters(`Node-RED could not be started: ${err.message}`));
    const listening = /Server now running at https?:\/\/[^/\s]+:(\d+)/;
    const running = await waitForLog(listening, { since });
    port = Number(listening.exec(running)?.[1]);
    await waitForLog(/\bStarted flows\b/, { since });
  };

  const stopProcess = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    killGroup(proc, 'SIGTERM');
    const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    killGroup(proc, 'SIGKILL'); // anything it started that outlived it
  };

  const request = async <T>(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminResponse<T>> => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        new URL(urlPath.replace(/^\//, ''), `http://127.0.0.1:${port}/`),
        {
          method,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, text });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };

  const getFlows = async (): Promise<FlowNode[]> => {
    const res = await request<FlowNode[]>('GET', 'flows', undefined, { 'Node-RED-API-Version': 'v1' });
    if (res.status !== 200) throw new Error(`GET /flows answered ${res.status}: ${res.text}`);
    return res.body;
  };

  const deploy = async (flows: FlowNode[], credentials: FlowCredentials = {}): Promise<void> => {
    const unknownIds = Object.keys(credentials).filter((id) => !flows.some((n) => n.id === id));
    if (unknownIds.length > 0) throw new Error(`credentials given for nodes that are not in the flows: ${unknownIds.join(', ')}`);
    const body = flows.map((n) => (credentials[n.id] ? { ...n, credentials: credentials[n.id] } : n));
    const since = logText.length;
    const res = await request('POST', 'flows', body, { 'Node-RED-API-Version': 'v1', 'Node-RED-Deployment-Type': 'full' });
    if (res.status !== 204 && res.status !== 200) throw new Error(`deploy refused (HTTP ${res.status}): ${res.text}`);
    const outcome = await Promise.race([
      waitForLog(/\bStarted flows\b/, { since }).then(() => 'started'),
      waitForLog(/Waiting for missing types to be registered/, { since }).then(() => 'missing'),
    ]);
    if (outcome === 'missing') {
      const missing = lines.filter((l) => l.at >= since && /^\s*-\s/.test(l.line.replace(/^.*?\]\s*/, ''))).map((l) => l.line.trim());
      throw new Error(`deployed flows use node types this Node-RED does not have: ${missing.join(' ')}\n--- Node-RED log ---\n${logText}`);
    }
  };

  const importFlows = async (flows: FlowNode[], credentials?: FlowCredentials): Promise<void> => {
    const current = await getFlows();
    const ids = new Set(current.map((n) => n.id));
    const clash = flows.filter((n) => ids.has(n.id)).map((n) => n.id);
    if (clash.length > 0) throw new Error(`importFlows: ids already deployed: ${clash.join(', ')}`);
    await deploy([...current, ...flows], credentials);
  };

  try {
    await launch();
    if (options.flows) await deploy(options.flows, options.credentials);
    else if (options.credentials) throw new Error('credentials given without flows');
  } catch (err) {
    await stopProcess();
    if (!options.keepUserDir) fs.rmSync(userDir, { recursive: true, force: true });
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    get url() {
      return `http://127.0.0.1:${port}/`;
    },
    get port() {
      return port;
    },
    userDir,
    installMs,
    log: () => logText,
    logMark: () => logText.length,
    waitForLog,
    request,
    getFlows,
    deploy,
    importFlows,
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      await stopProcess();
      await launch();
    },
    async crash() {
      if (stopped) throw new Error('crash() after stop()');
      const proc = child;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        killGroup(proc, 'SIGKILL');
        await exited;
      }
      await launch();
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        await stopProcess();
        if (!options.keepUserDir) fs.rmSync(userDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return (/\bE[A-Z]{3,}\b.*$/m.exec(m)?.[0] ?? m.split('\n')[0]).slice(0, 200);
}
