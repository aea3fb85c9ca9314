// The local cloud: stand-ins of STS (and, as they land, MNS, the IoT MQTT broker and the IoT OpenAPI) sharing
// one AccountBook. `start()` brings everything up on 127.0.0.1; `stop()` closes every socket it opened.
//
// Extension: a service is a module that exports a starter `(ctx: EmulatorContext) => Promise<EmulatorService>`.
// Add it to SERVICES below (and its options to LocalCloudConfig); the STS is started first so that other
// services can verify callers against the AccessKeys and STS credentials in `ctx.accounts`.
import fs from 'node:fs';
import { AccountBook, type AccessKeyRecord } from './accounts';
import { LocalSts, TEST_CA_FILE, type StsRole } from './sts/server';
import { startMns, type MnsConfig, type MnsEmulator } from './mns';
import { startIotPlatform, type IotPlatform, type IotPlatformOptions } from './iot';

export { AccountBook } from './accounts';
export { LocalSts, TEST_CA_FILE } from './sts/server';
export type { StsRole, StsFaults, StsLogEntry } from './sts/server';
export { startMns } from './mns';
export type { MnsEmulator, MnsOptions, MnsConfig } from './mns';
export { startIotPlatform } from './iot';
export type { IotPlatform, IotPlatformOptions } from './iot';
export { startSimulator } from './simulator';
export type { SimulatorOptions } from './simulator';

export interface AccountConfig {
  accountId: string;
  accessKeys: { accessKeyId: string; accessKeySecret: string; userName?: string }[];
}

export interface LocalCloudConfig {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  accounts?: AccountConfig[];
  roles?: StsRole[];
  sts?: {
    /** Default 0 (a free port). */
    port?: number;
    /** HTTPS port with the test CA (for @alicloud/credentials); default 0; null disables HTTPS. */
    httpsPort?: number | null;
    /** Real lifetime of issued credentials in seconds, whatever DurationSeconds asked (tests). */
    lifetimeSeconds?: number;
  };
  /** The local MNS (topics, queues, subscriptions); `false` leaves it off. The account ID defaults to the first account's. */
  mns?: Omit<MnsConfig, 'host' | 'accessKeys'> | false;
  /** The local IoT platform (MQTT broker with device login, OpenAPI Pub); `false` leaves it off. */
  iot?: Omit<IotPlatformOptions, 'host' | 'accounts'> | false;
}

export interface StartOptions extends LocalCloudConfig {
  /** A JSON file with a LocalCloudConfig; values given here win over the file. */
  configFile?: string;
}

/** What every service gets when it starts. */
export interface EmulatorContext {
  host: string;
  accounts: AccountBook;
  config: LocalCloudConfig;
  /** Where services leave their handles for the caller of start(). */
  handles: { mns?: MnsEmulator; iot?: IotPlatform };
}

/** A running service: its URLs (printed by the CLI) and how to stop it. */
export interface EmulatorService {
  name: string;
  urls: Record<string, string>;
  stop(): Promise<void>;
}

export type ServiceStarter = (ctx: EmulatorContext) => Promise<EmulatorService>;

/** Services started after STS, in order. Each receives the shared account book so it can verify callers. */
const SERVICES: ServiceStarter[] = [startMnsService, startIotService];

async function startMnsService(ctx: EmulatorContext): Promise<EmulatorService> {
  if (ctx.config.mns === false) return { name: 'mns (off)', urls: {}, stop: async () => undefined };
  const mns = await startMns({
    accountId: ctx.config.accounts?.[0]?.accountId ?? DEMO_ACCOUNT_ID,
    ...ctx.config.mns,
    host: ctx.host,
    accounts: ctx.accounts,
  });
  ctx.handles.mns = mns;
  return { name: 'mns', urls: { mns: mns.url }, stop: () => mns.stop() };
}

async function startIotService(ctx: EmulatorContext): Promise<EmulatorService> {
  if (ctx.config.iot === false) return { name: 'iot (off)', urls: {}, stop: async () => undefined };
  const iot = await startIotPlatform({ ...ctx.config.iot, host: ctx.host, accounts: ctx.accounts });
  ctx.handles.iot = iot;
  const urls: Record<string, string> = { 'iot-mqtt': iot.mqttUrl };
  if (iot.wsUrl) urls['iot-ws'] = iot.wsUrl;
  if (iot.openApiUrl) urls['iot-openapi'] = iot.openApiUrl;
  if (iot.amqp?.url) urls['iot-amqp'] = iot.amqp.url;
  if (iot.amqp?.tlsUrl) urls['iot-amqps'] = iot.amqp.tlsUrl;
  return { name: 'iot', urls, stop: () => iot.stop() };
}

export const DEMO_ACCOUNT_ID = '1234567890123456';
export const DEMO_ACCESS_KEY: AccessKeyRecord = {
  accessKeyId: 'LTAI5tLocalDemoUser01',
  accessKeySecret: 'local-demo-secret-not-for-production',
  accountId: DEMO_ACCOUNT_ID,
  userName: 'node-red',
};
/** The account's own (root) key: useful to show that root keys cannot assume roles. */
export const DEMO_ROOT_KEY: AccessKeyRecord = {
  accessKeyId: 'LTAI5tLocalDemoRoot01',
  accessKeySecret: 'local-demo-root-secret-not-for-production',
  accountId: DEMO_ACCOUNT_ID,
};
export const DEMO_ROLE_ARN = `acs:ram::${DEMO_ACCOUNT_ID}:role/iot-mns-writer`;
export const DEMO_REGION = 'cn-shanghai';
/** MNS topic the demo rule publishes to, and the queue subscribed to it (the application server's side). */
export const DEMO_MNS_TOPIC = 'iot-hot-devices';
export const DEMO_MNS_QUEUE = 'app-hot-devices';
/** A product of the local IoT platform with three devices (secrets are local demo values). */
export const DEMO_PRODUCT_KEY = 'a1DemoHot01';
export const DEMO_DEVICES = ['sensor-01', 'sensor-02', 'sensor-03'].map((deviceName, i) => ({
  productKey: DEMO_PRODUCT_KEY,
  deviceName,
  deviceSecret: `local-demo-device-secret-0${i + 1}`,
}));
/** The consumer group of the local AMQP server-side subscription the demo's "Fleet from the cloud" flow uses. */
export const DEMO_CONSUMER_GROUP = 'demo-fleet-group';
/** MNS topic and queue of the "Fleet from the cloud" example (apart from the full-path example's, so counts stay apart). */
export const DEMO_FLEET_TOPIC = 'iot-fleet-hot';
export const DEMO_FLEET_QUEUE = 'app-fleet-hot';
/** The application account of the local IoT broker: may subscribe to and publish on every topic. */
export const DEMO_APPLICATION = { username: 'node-red-app', password: 'local-demo-app-password' };

export function defaultConfig(): LocalCloudConfig {
  return {
    host: '127.0.0.1',
    accounts: [{ accountId: DEMO_ACCOUNT_ID, accessKeys: [{ ...DEMO_ACCESS_KEY }, { ...DEMO_ROOT_KEY }] }],
    roles: [{ arn: DEMO_ROLE_ARN, maxSessionDuration: 3600 }],
    sts: { port: 0, httpsPort: 0 },
    mns: {
      region: DEMO_REGION,
      port: 0,
      topics: [{ name: DEMO_MNS_TOPIC }, { name: DEMO_FLEET_TOPIC }],
      queues: [{ name: DEMO_MNS_QUEUE }, { name: DEMO_FLEET_QUEUE }],
      // Created as the MNS console does by default: the queues receive XML <Notification> bodies (spec §15.1).
      subscriptions: [
        { topic: DEMO_MNS_TOPIC, name: `${DEMO_MNS_QUEUE}-sub`, queue: DEMO_MNS_QUEUE },
        { topic: DEMO_FLEET_TOPIC, name: `${DEMO_FLEET_QUEUE}-sub`, queue: DEMO_FLEET_QUEUE },
      ],
    },
    iot: {
      mqttPort: 0,
      wsPort: 0,
      openApiPort: 0,
      regionId: DEMO_REGION,
      products: [{ productKey: DEMO_PRODUCT_KEY, accountId: DEMO_ACCOUNT_ID }],
      devices: DEMO_DEVICES.map((d) => ({ ...d })),
      application: { ...DEMO_APPLICATION },
      amqp: { port: 0, tlsPort: 0, groups: [{ id: DEMO_CONSUMER_GROUP, accountId: DEMO_ACCOUNT_ID }, { id: 'DEFAULT_GROUP', accountId: DEMO_ACCOUNT_ID }] },
    },
  };
}

export interface LocalCloud {
  accounts: AccountBook;
  sts: LocalSts;
  /** The local MNS, unless turned off. */
  mns?: MnsEmulator;
  /** The local IoT platform, unless turned off. */
  iot?: IotPlatform;
  /** Every running service by name, including "sts". */
  services: EmulatorService[];
  /** name → URL, e.g. { sts: 'http://127.0.0.1:17100', 'sts-https': 'https://127.0.0.1:17101' }. */
  urls: Record<string, string>;
  /** CA certificate to trust (NODE_EXTRA_CA_CERTS) for the HTTPS endpoints. */
  caFile: string;
  /** The first configured RAM user key and role (the demo ones by default). */
  demo: { accessKeyId: string; accessKeySecret: string; accountId: string; roleArn?: string };
  stop(): Promise<void>;
}

export function loadConfigFile(file: string): LocalCloudConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`local cloud config ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`local cloud config ${file}: must be a JSON object`);
  return parsed as LocalCloudConfig;
}

export async function start(options: StartOptions = {}): Promise<LocalCloud> {
  const base = defaultConfig();
  const fromFile = options.configFile ? loadConfigFile(options.configFile) : {};
  const config: LocalCloudConfig = {
    ...base,
    ...fromFile,
    ...stripUndefined(options),
    sts: { ...base.sts, ...fromFile.sts, ...options.sts },
    mns: mergeSection(base.mns, fromFile.mns, options.mns),
    iot: mergeSection(base.iot, fromFile.iot, options.iot),
  };
  const host = config.host ?? '127.0.0.1';
  const accounts = new AccountBook();
  for (const account of config.accounts ?? []) {
    for (const k of account.accessKeys) accounts.addAccessKey({ ...k, accountId: account.accountId });
  }
  const started: EmulatorService[] = [];
  const handles: EmulatorContext['handles'] = {};
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  const sts = new LocalSts({
    accounts,
    roles: config.roles,
    host,
    port: config.sts?.port ?? 0,
    httpsPort: config.sts?.httpsPort === null ? undefined : (config.sts?.httpsPort ?? 0),
    lifetimeSeconds: config.sts?.lifetimeSeconds,
  });
  try {
    await sts.start();
    const stsUrls: Record<string, string> = { sts: sts.url };
    if (sts.httpsUrl) stsUrls['sts-https'] = sts.httpsUrl;
    started.push({ name: 'sts', urls: stsUrls, stop: () => sts.stop() });
    const ctx: EmulatorContext = { host, accounts, config, handles };
    for (const startService of SERVICES) started.push(await startService(ctx));
  } catch (e) {
    await stopAll();
    throw e;
  }
  const firstUser = (config.accounts ?? []).flatMap((a) => a.accessKeys.filter((k) => k.userName).map((k) => ({ ...k, accountId: a.accountId })))[0];
  const demoKey = firstUser ?? DEMO_ACCESS_KEY;
  const services = [...started];
  let stopped: Promise<void> | undefined;
  return {
    accounts,
    sts,
    mns: handles.mns,
    iot: handles.iot,
    services,
    urls: Object.assign({}, ...services.map((s) => s.urls)) as Record<string, string>,
    caFile: TEST_CA_FILE,
    demo: { accessKeyId: demoKey.accessKeyId, accessKeySecret: demoKey.accessKeySecret, accountId: demoKey.accountId, roleArn: config.roles?.[0]?.arn },
    stop: () => (stopped ??= stopAll()),
  };
}

/** A section given as `false` anywhere turns the service off; objects merge shallowly, later ones winning. */
function mergeSection<T extends object>(...parts: Array<T | false | undefined>): T | false {
  if (parts.some((p) => p === false)) return false;
  return Object.assign({}, ...parts.filter(Boolean)) as T;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && k !== 'configFile') (out as Record<string, unknown>)[k] = v;
  return out;
}
