// A real Mosquitto per test run: temp config, free ports on 127.0.0.1, optional TLS listener with a test CA generated
// by openssl. When mosquitto is missing the caller skips loudly, and fails when CI=true.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const MOSQUITTO = process.env.MOSQUITTO_BIN || '/usr/sbin/mosquitto';

export function mosquittoAvailable(): boolean {
  try {
    fs.accessSync(MOSQUITTO, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Call in a `before` hook: skips the suite (loudly) without mosquitto, or throws under CI=true. */
export function requireMosquitto(ctx: Mocha.Context): void {
  if (mosquittoAvailable()) return;
  const msg = `mosquitto not found at ${MOSQUITTO}: these tests need a real broker — run \`apt-get install mosquitto\``;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`\n    !!! SKIPPED: ${msg}\n`);
  ctx.skip();
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface TestCa {
  dir: string;
  ca: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A CA that did not sign the server certificate. */
  otherCa: string;
}

/** Generates a CA and a server certificate for 127.0.0.1 / localhost. */
export function makeTestCa(): TestCa {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-nodes-ca-'));
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=iot-nodes test CA']);
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=some other CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  // Mosquitto started as root drops to its own user, which must be able to read these test-only files.
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  return {
    dir,
    ca: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    caFile: path.join(dir, 'ca.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server.key'),
    otherCa: fs.readFileSync(path.join(dir, 'other.pem'), 'utf8'),
  };
}

export interface Mosquitto {
  port: number;
  url: string;
  tlsPort?: number;
  tlsUrl?: string;
  stop(): Promise<void>;
}

export async function startMosquitto(options: { tls?: TestCa; port?: number; /** Extra mosquitto.conf lines. */ config?: string[] } = {}): Promise<Mosquitto> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-nodes-mosq-'));
  const port = options.port ?? (await freePort());
  const lines = ['per_listener_settings false', 'allow_anonymous true', 'log_dest stderr', 'log_type all', `listener ${port} 127.0.0.1`];
  let tlsPort: number | undefined;
  if (options.tls) {
    tlsPort = await freePort();
    lines.push(`listener ${tlsPort} 127.0.0.1`, `cafile ${options.tls.caFile}`, `certfile ${options.tls.certFile}`, `keyfile ${options.tls.keyFile}`);
  }
  lines.push(...(options.config ?? []));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(conf, 0o644);
  const proc: ChildProcess = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/running/.test(output)) {
        proc.stderr?.off('data', onData);
        resolve();
      }
    };
    proc.stderr?.on('data', onData);
    proc.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    proc.once('exit', (code) => reject(new Error(`mosquitto exited (${code}) before it was ready:\n${output}`)));
    proc.once('error', reject);
  });
  // Keep draining the log so the pipe never fills.
  proc.stderr?.on('data', () => undefined);
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    tlsPort,
    tlsUrl: tlsPort ? `mqtts://127.0.0.1:${tlsPort}` : undefined,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
