#!/usr/bin/env node
// aliyun-local: runs the local cloud until Ctrl-C. `aliyun-local --help` lists every option.
import { start, startSimulator, defaultConfig, DEMO_CONSUMER_GROUP, DEMO_PRODUCT_KEY, type IotPlatform, type LocalCloud, type StartOptions } from './index';

/** The services' ports in their default order: --base-port N puts the i-th at N + i. */
const PORTS = [
  { flag: '--sts-port', name: 'STS (HTTP)', default: 17100 },
  { flag: '--sts-https-port', name: 'STS (HTTPS)', default: 17101 },
  { flag: '--mns-port', name: 'MNS', default: 17102 },
  { flag: '--mqtt-port', name: 'IoT MQTT (TCP)', default: 17103 },
  { flag: '--mqtt-ws-port', name: 'IoT MQTT (WebSocket)', default: 17104 },
  { flag: '--openapi-port', name: 'IoT OpenAPI', default: 17105 },
  { flag: '--amqp-port', name: 'IoT AMQP subscription (TLS on the next port)', default: 17106 },
] as const;
type PortFlag = (typeof PORTS)[number]['flag'];
// The last service (AMQP) also takes the port after its own, for TLS.
const MAX_BASE_PORT_SPAN = PORTS.length;
const MAX_BASE_PORT = 65535 - MAX_BASE_PORT_SPAN;

export const USAGE = `usage: aliyun-local [options]

Starts the local Alibaba Cloud stand-ins (STS, MNS, IoT MQTT broker with device login, IoT OpenAPI) on 127.0.0.1 and
prints every URL, local test key, device and name a Node-RED dialog asks for. Ctrl-C stops.

Options:
  --config FILE          a JSON local-cloud config (accounts, roles, topics, queues, devices, ports); flags win over it
  --host HOST            interface to bind (default 127.0.0.1)
  --base-port N          every service on N + offset, in this order (default N = 17100):
                           STS +0, STS HTTPS +1, MNS +2, MQTT +3, MQTT WebSocket +4, OpenAPI +5,
                           AMQP +6 (and its TLS +7)
  --sts-port N           STS over HTTP (default 17100)
  --sts-https-port N|off STS over HTTPS with the local test CA (default 17101)
  --mns-port N           MNS (default 17102)
  --mqtt-port N          IoT MQTT broker over TCP (default 17103)
  --mqtt-ws-port N|off   IoT MQTT broker over WebSocket, path /mqtt (default 17104)
  --openapi-port N|off   IoT OpenAPI (Pub) (default 17105)
  --amqp-port N          IoT AMQP server-side subscription, plain; TLS with the local test CA on N+1 (default 17106)
  --no-mns               no MNS
  --no-iot               no IoT platform (broker and OpenAPI)
  --sts-lifetime SECONDS credentials issued by STS really expire after this many seconds (tests)
  --devices N            also run N simulated devices (0 to 1000) of the demo product posting Alink properties
  --interval MS          time between two property posts of one simulated device (default 2000, at least 10)
  -h, --help             this text

A port given as 0 is any free port. A port flag wins over --base-port. Ports must be 0 to 65535 and differ.`;

export interface CliOptions extends StartOptions {
  /** Simulated devices to run (0 = none). */
  devices?: number;
  intervalMs?: number;
  /** --help was given: print USAGE to stdout and exit 0. */
  help?: boolean;
}

/** Reads the command line; throws an Error whose message says what to fix. */
export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = {};
  const given = new Map<PortFlag, number | null>();
  let basePort: number | undefined;
  let lifetimeSeconds: number | undefined;
  let noMns = false;
  let noIot = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value (see aliyun-local --help)`);
      return v;
    };
    const port = (offAllowed: boolean): number | null => {
      const v = value();
      if (offAllowed && v === 'off') return null;
      const n = Number(v);
      if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
        throw new Error(`${a}: "${v}" is not a port number: give 1 to 65535, or 0 for any free port${offAllowed ? ', or off' : ''}`);
      }
      return n;
    };
    switch (a) {
      case '--config':
        o.configFile = value();
        break;
      case '--host':
        o.host = value();
        break;
      case '--base-port': {
        const v = value();
        const n = Number(v);
        if (v.trim() === '' || !Number.isInteger(n) || n < 1 || n > MAX_BASE_PORT) {
          throw new Error(`--base-port: "${v}" does not fit: the ${PORTS.length} services use N to N+${MAX_BASE_PORT_SPAN} (AMQP's TLS the last), so N must be a whole number from 1 to ${MAX_BASE_PORT}`);
        }
        basePort = n;
        break;
      }
      case '--sts-port':
      case '--mns-port':
      case '--mqtt-port':
      case '--amqp-port':
        given.set(a, port(false));
        break;
      case '--sts-https-port':
      case '--mqtt-ws-port':
      case '--openapi-port':
        given.set(a, port(true));
        break;
      case '--sts-lifetime': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 1) throw new Error('--sts-lifetime needs a whole number of seconds ≥ 1');
        lifetimeSeconds = v;
        break;
      }
      case '--no-mns':
        noMns = true;
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
        return { help: true };
      default:
        throw new Error(`unknown option ${a} (aliyun-local --help lists them)`);
    }
  }
  if (noMns && given.has('--mns-port')) throw new Error('--mns-port and --no-mns contradict each other: drop one');
  if (noIot) {
    const iotFlag = (['--mqtt-port', '--mqtt-ws-port', '--openapi-port'] as const).find((f) => given.has(f));
    if (iotFlag) throw new Error(`${iotFlag} and --no-iot contradict each other: drop one`);
  }
  if (o.devices && noIot) throw new Error('--devices needs the IoT platform: drop --no-iot');

  // Fixed ports by default so that URLs stay the same between runs; a config file brings its own unless flags say otherwise.
  const resolved = new Map<PortFlag, number | null | undefined>();
  PORTS.forEach((p, i) => {
    const fallback = basePort !== undefined ? basePort + i : o.configFile ? undefined : p.default;
    resolved.set(p.flag, given.has(p.flag) ? given.get(p.flag) : fallback);
  });
  const off = new Set<PortFlag>([...(noMns ? (['--mns-port'] as const) : []), ...(noIot ? (['--mqtt-port', '--mqtt-ws-port', '--openapi-port', '--amqp-port'] as const) : [])]);
  const used = new Map<number, PortFlag>();
  for (const p of PORTS) {
    const n = resolved.get(p.flag);
    if (off.has(p.flag) || n === undefined || n === null || n === 0) continue;
    const other = used.get(n);
    if (other) {
      const why = (f: PortFlag) => (given.has(f) ? f : basePort !== undefined ? `${f} (from --base-port ${basePort})` : `${f} (default)`);
      throw new Error(`${why(other)} and ${why(p.flag)} are both ${n}: every service needs its own port`);
    }
    used.set(n, p.flag);
  }

  const sts: NonNullable<StartOptions['sts']> = {};
  const stsPort = resolved.get('--sts-port');
  const stsHttps = resolved.get('--sts-https-port');
  if (stsPort !== undefined && stsPort !== null) sts.port = stsPort;
  if (stsHttps !== undefined) sts.httpsPort = stsHttps;
  if (lifetimeSeconds !== undefined) sts.lifetimeSeconds = lifetimeSeconds;
  o.sts = sts;
  const mnsPort = resolved.get('--mns-port');
  if (noMns) o.mns = false;
  else if (mnsPort !== undefined && mnsPort !== null) o.mns = { port: mnsPort };
  if (noIot) o.iot = false;
  else {
    const iot: { mqttPort?: number; wsPort?: number | false; openApiPort?: number | false; amqp?: Record<string, unknown> } = {};
    const mqtt = resolved.get('--mqtt-port');
    const ws = resolved.get('--mqtt-ws-port');
    const api = resolved.get('--openapi-port');
    if (mqtt !== undefined && mqtt !== null) iot.mqttPort = mqtt;
    if (ws !== undefined) iot.wsPort = ws === null ? false : ws;
    if (api !== undefined) iot.openApiPort = api === null ? false : api;
    const amqp = resolved.get('--amqp-port');
    if (amqp !== undefined && amqp !== null) {
      const base = defaultConfig().iot;
      iot.amqp = { ...(base ? base.amqp : {}), port: amqp, tlsPort: amqp === 0 ? 0 : amqp + 1 };
    }
    if (Object.keys(iot).length) o.iot = iot;
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

/** What each URL of LocalCloud.urls is, for the banner. */
const URL_NOTES: Record<string, string> = {
  sts: 'STS endpoint: credentials node, RAM role mode',
  'sts-https': 'STS over HTTPS: trust the CA file below',
  mns: 'MNS endpoint: MNS topic out and queue in',
  'iot-mqtt': 'IoT MQTT broker over TCP: IoT broker node',
  'iot-ws': 'IoT MQTT broker over WebSocket',
  'iot-openapi': 'IoT OpenAPI endpoint: device out in OpenAPI Pub mode',
  'iot-amqp': 'IoT AMQP server-side subscription: IoT server subscription node',
  'iot-amqps': 'the same over TLS: trust the CA file below',
};
/**
 * The text printed once the local cloud runs: every URL, local test key, name and device a user types into a Node-RED
 * dialog, all read from the running cloud.
 */
export function banner(cloud: LocalCloud, run: { simulated?: { devices: number; intervalMs: number } } = {}): string {
  const row = (name: string, value: string, note?: string) => `  ${name.padEnd(19)} ${value}${note ? `   (${note})` : ''}`;
  const lines = ['aliyun-local: the local cloud is running', '', 'URLs'];
  for (const [name, url] of Object.entries(cloud.urls)) lines.push(row(name, url, URL_NOTES[name]));
  if (cloud.mns) lines.push(row('mns-push-cert', cloud.mns.certUrl, 'certificate that signs MNS HTTP pushes'));

  lines.push('', 'Local test keys: a fake account of this local cloud only, not real Alibaba Cloud secrets');
  lines.push(row('account ID', cloud.demo.accountId));
  lines.push(row('AccessKey ID', cloud.demo.accessKeyId, 'local test key'));
  lines.push(row('AccessKey secret', cloud.demo.accessKeySecret, 'local test secret'));
  if (cloud.demo.roleArn) lines.push(row('role ARN', cloud.demo.roleArn));

  if (cloud.mns) {
    const mns = cloud.mns;
    lines.push('', 'MNS');
    lines.push(row('account ID', mns.accountId));
    lines.push(row('region', mns.region));
    lines.push(row('topics', mns.topicNames().join(', ') || '(none)'));
    lines.push(row('queues', mns.queueNames().join(', ') || '(none)'));
    for (const topic of mns.topicNames()) {
      for (const sub of mns.subscriptions(topic)) lines.push(row('subscription', `${topic} → ${sub.endpoint}`, sub.subscriptionName));
    }
  }

  if (cloud.iot) {
    const iotConfig = cloud.config.iot ? cloud.config.iot : undefined;
    lines.push('', 'IoT platform');
    if (iotConfig?.regionId) lines.push(row('region', iotConfig.regionId));
    if (iotConfig?.application) {
      lines.push(row('broker app user', iotConfig.application.username, 'IoT broker node in application mode: may use every topic'));
      lines.push(row('broker app password', iotConfig.application.password, 'local test password'));
    }
    if (cloud.iot.amqp) lines.push(row('AMQP consumer groups', `${DEMO_CONSUMER_GROUP}, DEFAULT_GROUP`, 'IoT server subscription node'));
    const devices = cloud.iot.registry.listDevices();
    lines.push(`  devices: productKey, deviceName, deviceSecret (local test secrets)${devices.length ? '' : ' — none registered'}`);
    for (const d of devices) lines.push(`    ${d.productKey}  ${d.deviceName}  ${d.deviceSecret}${d.enabled ? '' : '  (disabled)'}`);
    if (run.simulated) lines.push(row('simulating', `${run.simulated.devices} device(s), a property post every ${run.simulated.intervalMs} ms each`));
  }

  lines.push('', 'TLS');
  lines.push(row('CA file', cloud.caFile, 'NODE_EXTRA_CA_CERTS for clients of the HTTPS endpoints'));

  lines.push('', 'Faults (README, section "The local cloud": Faults)');
  lines.push(row('STS', `curl -X PUT ${cloud.sts.url}/__admin/faults -d '{"throttle":{"count":3}}'`));
  if (cloud.mns) lines.push(row('MNS', `curl -X POST ${cloud.mns.url}/__emulator/faults -d '{"fail":{"kind":"throttle","count":3}}'`));
  if (cloud.iot?.openApiUrl) lines.push(row('IoT OpenAPI', `curl -X PUT ${cloud.iot.openApiUrl.replace(/\/$/, '')}/__emulator/faults -d '{"throttleNext":3}'`));
  lines.push('', 'Ctrl-C to stop.');
  return lines.join('\n');
}

/** An error of start() as a sentence that says what to change. */
function startError(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { port?: number; address?: string };
  if (err.code === 'EADDRINUSE') {
    return `port ${err.port ?? ''} on ${err.address ?? 'the host'} is already in use (another aliyun-local?): stop that program or choose other ports with --base-port N or the --*-port flags`;
  }
  if (err.code === 'EADDRNOTAVAIL') return `cannot bind to ${err.address ?? 'that address'}: --host must be an address of this machine`;
  return err.message;
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`aliyun-local: ${(e as Error).message}`);
    process.exitCode = 2;
    return;
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  let cloud: LocalCloud;
  try {
    cloud = await start(options);
  } catch (e) {
    console.error(`aliyun-local: ${startError(e)}`);
    process.exitCode = 1;
    return;
  }
  const intervalMs = options.intervalMs ?? 2000;
  const simulator =
    options.devices && cloud.iot
      ? await startSimulator({ url: cloud.iot.mqttUrl, devices: demoDevices(cloud.iot, options.devices), intervalMs })
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
  console.log(banner(cloud, { simulated: simulator ? { devices: options.devices ?? 0, intervalMs } : undefined }));
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error('aliyun-local:', (e as Error).message);
    process.exit(1);
  });
}
