#!/usr/bin/env node
// aliyun-local: runs the local cloud until Ctrl-C.
//   aliyun-local [--config local-cloud.json] [--host 127.0.0.1] [--sts-port 17100] [--sts-https-port 17101] [--sts-lifetime 60]
//                [--mns-port 17102 | --no-mns] [--mqtt-port 17103] [--amqp-port 17106] [--no-iot] [--devices N] [--interval MS]
import { start, startSimulator, defaultConfig, DEMO_APPLICATION, DEMO_CONSUMER_GROUP, DEMO_PRODUCT_KEY, type IotPlatform, type StartOptions } from './index';

const USAGE = `usage: aliyun-local [--config file.json] [--host 127.0.0.1] [--sts-port N] [--sts-https-port N|off] [--sts-lifetime SECONDS]
                    [--mns-port N | --no-mns] [--mqtt-port N | --no-iot] [--amqp-port N] [--devices N] [--interval MS]
Starts the local Alibaba Cloud stand-ins (STS, MNS, IoT MQTT broker with device login, IoT OpenAPI Pub) and prints their
URLs and the demo keys. --devices N also runs N simulated devices posting Alink properties every --interval ms. Ctrl-C stops.`;

export interface CliOptions extends StartOptions {
  /** Simulated devices to run (0 = none). */
  devices?: number;
  intervalMs?: number;
}

export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = {};
  const sts: NonNullable<StartOptions['sts']> = {};
  let mnsPort: number | undefined;
  let mqttPort: number | undefined;
  let amqpPort: number | undefined;
  let noMns = false;
  let noIot = false;
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
      case '--mns-port':
        mnsPort = port();
        break;
      case '--no-mns':
        noMns = true;
        break;
      case '--mqtt-port':
        mqttPort = port();
        break;
      case '--amqp-port': // AMQP subscription (plain); AMQPS with the test CA on the next port
        amqpPort = port();
        break;
      case '--no-iot':
        noIot = true;
        break;
      case '--devices': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 0 || v > 1000) throw new Error('--devices needs a whole number from 0 to 1000');
        o.devices = v;
        break;
      }
      case '--interval': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 10) throw new Error('--interval needs milliseconds ≥ 10');
        o.intervalMs = v;
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
  if (noMns) o.mns = false;
  else if (mnsPort !== undefined || !o.configFile) o.mns = { port: mnsPort ?? 17102 };
  if (noIot) o.iot = false;
  else if (mqttPort !== undefined || !o.configFile) o.iot = { mqttPort: mqttPort ?? 17103, wsPort: 17104, openApiPort: 17105 };
  if (o.iot && (amqpPort !== undefined || !o.configFile)) {
    const base = defaultConfig().iot;
    const p = amqpPort ?? 17106;
    o.iot = { ...o.iot, amqp: { ...(base ? base.amqp : {}), port: p, tlsPort: p === 0 ? 0 : p + 1 } };
  }
  return o;
}

/** The demo product's devices first, then more of the same product registered on the spot. */
export function demoDevices(iot: IotPlatform, count: number): Array<{ productKey: string; deviceName: string; deviceSecret: string }> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const deviceName = `sensor-${String(i + 1).padStart(2, '0')}`;
    const known = iot.registry.listDevices().find((d) => d.productKey === DEMO_PRODUCT_KEY && d.deviceName === deviceName);
    const d = known ?? iot.addDevice({ productKey: DEMO_PRODUCT_KEY, deviceName });
    out.push({ productKey: d.productKey, deviceName: d.deviceName, deviceSecret: d.deviceSecret });
  }
  return out;
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 2;
    return;
  }
  const cloud = await start(options);
  const simulator =
    options.devices && cloud.iot
      ? await startSimulator({
          url: cloud.iot.mqttUrl,
          devices: demoDevices(cloud.iot, options.devices),
          intervalMs: options.intervalMs ?? 2000,
        })
      : undefined;
  // Handlers first, so that a signal right after the banner is handled.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`aliyun-local: ${signal}, stopping…`);
    Promise.resolve(simulator?.stop())
      .then(() => cloud.stop())
      .then(
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
  if (cloud.iot) {
    lines.push(`  IoT devices  ${cloud.iot.registry.listDevices().map((d) => `${d.productKey}/${d.deviceName}`).join(', ')}`);
    if (!options.configFile) lines.push(`  IoT app user ${DEMO_APPLICATION.username} / ${DEMO_APPLICATION.password}   (may use every topic; local demo value)`);
    if (cloud.iot.amqp) lines.push(`  AMQP groups  ${DEMO_CONSUMER_GROUP}, DEFAULT_GROUP   (server-side subscription; ${cloud.iot.amqp.url}, TLS ${cloud.iot.amqp.tlsUrl})`);
    if (simulator) lines.push(`  simulating   ${options.devices} device(s), a property post every ${options.intervalMs ?? 2000} ms each`);
  }
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
