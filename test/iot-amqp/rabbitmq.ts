// A real AMQP 1.0 broker per test run: a private RabbitMQ node (Debian's rabbitmq-server with its bundled
// rabbitmq_amqp1_0 plugin) on free ports in a temp directory. Debian's `activemq` package cannot serve: it is built
// without the AMQP transport ("Transport scheme NOT recognized: [amqp]"). Without RabbitMQ the caller skips
// loudly, and fails when CI=true (as the Mosquitto tests do).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../iot-nodes/mosquitto';

export const RABBITMQ = process.env.RABBITMQ_SERVER_BIN || '/usr/lib/rabbitmq/bin/rabbitmq-server';

export function requireRabbitMq(ctx: Mocha.Context): void {
  try {
    fs.accessSync(RABBITMQ, fs.constants.X_OK);
    return;
  } catch {
    const msg = `rabbitmq-server not found at ${RABBITMQ}: the generic AMQP 1.0 tests need a real broker — run \`apt-get install rabbitmq-server\``;
    if (process.env.CI === 'true') throw new Error(msg);
    console.warn(`\n    !!! SKIPPED: ${msg}\n`);
    ctx.skip();
  }
}

export interface RabbitMq {
  port: number;
  /** Starts the node (again, on the same port and data). Resolves once it accepts clients. */
  start(): Promise<void>;
  /** kill -9 of the whole node. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function rabbitMq(): Promise<RabbitMq> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-amqp-rabbit-'));
  for (const d of ['mnesia', 'log', 'home']) fs.mkdirSync(path.join(dir, d));
  const port = await freePort();
  const distPort = await freePort();
  // Its own Erlang port mapper on a free port, ended at stop(): the default one (4369) would outlive the test run and
  // might be a developer's own RabbitMQ's.
  const epmdPort = await freePort();
  fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[rabbitmq_amqp1_0].\n');
  fs.writeFileSync(path.join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\n`);
  const name = `nramqp${process.pid}${Date.now() % 100000}@localhost`;
  let child: ChildProcess | undefined;
  const env = {
    ...process.env,
    HOME: path.join(dir, 'home'),
    RABBITMQ_NODENAME: name,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_LOGS: '-',
    ERL_EPMD_PORT: String(epmdPort),
    // so that `epmd -kill` works even while epmd has not yet seen the killed node go
    ERL_EPMD_RELAXED_COMMAND_CHECK: '1',
  };
  const stopEpmd = (): void => {
    try {
      execFileSync('epmd', ['-kill'], { env, stdio: 'ignore', timeout: 5000 });
    } catch {
      // not started, or gone already
    }
  };
  const killGroup = (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.pid === undefined || c.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      c.once('exit', () => resolve());
      try {
        process.kill(-c.pid!, signal);
      } catch {
        resolve();
      }
    });
  };
  const api: RabbitMq = {
    port,
    start: () =>
      new Promise((resolve, reject) => {
        const c = spawn(RABBITMQ, [], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        child = c;
        let log = '';
        const timer = setTimeout(() => reject(new Error(`RabbitMQ did not start within 90 s:\n${log.slice(-3000)}`)), 90_000);
        const onData = (b: Buffer): void => {
          log += b.toString();
          if (/Server startup complete/.test(log)) {
            clearTimeout(timer);
            c.stdout?.off('data', onData);
            c.stdout?.resume();
            resolve();
          }
        };
        c.stdout?.on('data', onData);
        c.stderr?.on('data', (b: Buffer) => (log += b.toString()));
        c.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`RabbitMQ exited (${code}) before it started:\n${log.slice(-3000)}`));
        });
      }),
    kill: () => killGroup('SIGKILL'),
    stop: async () => {
      await killGroup('SIGKILL');
      stopEpmd();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  process.once('exit', () => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });
  return api;
}
