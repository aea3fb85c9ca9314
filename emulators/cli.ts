#!/usr/bin/env node
// aliyun-local: runs the local cloud until Ctrl-C.
//   aliyun-local [--config local-cloud.json] [--host 127.0.0.1] [--sts-port 17100] [--sts-https-port 17101] [--sts-lifetime 60]
import { start, type StartOptions } from './index';

const USAGE = `usage: aliyun-local [--config file.json] [--host 127.0.0.1] [--sts-port N] [--sts-https-port N|off] [--sts-lifetime SECONDS]
Starts the local Alibaba Cloud stand-ins (STS, …) and prints their URLs and the demo AccessKey. Ctrl-C stops.`;

export function parseArgs(argv: string[]): StartOptions {
  const o: StartOptions = {};
  const sts: NonNullable<StartOptions['sts']> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    const port = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${a}: "${v}" is not a port number`);
      return n;
    };
    switch (a) {
      case '--config':
        o.configFile = value();
        break;
      case '--host':
        o.host = value();
        break;
      case '--sts-port':
        sts.port = port();
        break;
      case '--sts-https-port': {
        if (argv[i + 1] === 'off') {
          i++;
          sts.httpsPort = null;
        } else sts.httpsPort = port();
        break;
      }
      case '--sts-lifetime': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 1) throw new Error('--sts-lifetime needs a whole number of seconds ≥ 1');
        sts.lifetimeSeconds = v;
        break;
      }
      case '-h':
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  // Fixed ports by default so URLs stay the same between runs; a config file brings its own.
  o.sts = o.configFile ? sts : { port: 17100, httpsPort: 17101, ...sts };
  return o;
}

async function main(): Promise<void> {
  let options: StartOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 2;
    return;
  }
  const cloud = await start(options);
  // Handlers first, so that a signal right after the banner is handled.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`aliyun-local: ${signal}, stopping…`);
    cloud.stop().then(
      () => {
        console.log('aliyun-local: stopped');
        process.exit(0);
      },
      (e: unknown) => {
        console.error('aliyun-local: stop failed:', (e as Error).message);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  const lines = ['aliyun-local: the local cloud is running', ...Object.entries(cloud.urls).map(([name, url]) => `  ${name.padEnd(12)} ${url}`)];
  lines.push(
    '',
    `  account ID   ${cloud.demo.accountId}`,
    `  AccessKey ID ${cloud.demo.accessKeyId}`,
    `  secret       ${cloud.demo.accessKeySecret}   (local demo key, not a real secret)`,
  );
  if (cloud.demo.roleArn) lines.push(`  role ARN     ${cloud.demo.roleArn}`);
  lines.push(`  HTTPS CA     ${cloud.caFile}  (NODE_EXTRA_CA_CERTS for clients that need HTTPS)`);
  lines.push(`  STS faults   curl -X PUT ${cloud.sts.url}/__admin/faults -d '{"throttle":{"count":3}}'  (see emulators/sts/server.ts)`, '', 'Ctrl-C to stop.');
  console.log(lines.join('\n'));
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error('aliyun-local:', (e as Error).message);
    process.exit(1);
  });
}
