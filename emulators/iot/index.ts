// The local IoT platform: MQTT broker with Alibaba device login (TCP + WebSocket) and the OpenAPI Pub action.
import { AccountBook } from '../accounts';
import { IotBroker, type ApplicationAccount, type DeviceSession, type RecordedMessage, type Refusal } from './broker';
import { IotOpenApi, type OpenApiFaults, type PubCall } from './openapi';
import { DeviceRegistry, type DeviceRecord, type DeviceSpec } from './registry';
import { LocalAmqpServer, type AmqpServerOptions } from './amqp';

export { IotBroker, IotOpenApi, DeviceRegistry, LocalAmqpServer };
export type { AmqpServerOptions, AmqpFaults, AmqpMessage, AmqpClientInfo, AmqpRefusal, ConsumerGroupSpec, GroupStats } from './amqp';
export type { ApplicationAccount, DeviceSession, RecordedMessage, Refusal, OpenApiFaults, PubCall, DeviceRecord, DeviceSpec };

export interface IotPlatformOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** MQTT over TCP; default 0 (a free port). */
  mqttPort?: number;
  /** MQTT over WebSocket; default 0, false to turn it off. */
  wsPort?: number | false;
  /** OpenAPI (Pub) over HTTP; default 0, false to turn it off. */
  openApiPort?: number | false;
  /** Devices registered at start (their products are created with them). */
  devices?: DeviceSpec[];
  /** Products registered at start, optionally owned by an account (Pub from other accounts is refused). */
  products?: Array<{ productKey: string; accountId?: string }>;
  /** The account that may use every topic, e.g. { username: 'app', password: '…' }. */
  application?: ApplicationAccount;
  /** Callers of the OpenAPI; default a new, empty book. Share the one the local STS issues into. */
  accounts?: AccountBook;
  regionId?: string;
  /** When set, Pub must carry this IotInstanceId (Enterprise / new public instance). */
  iotInstanceId?: string;
  forbiddenPublish?: 'drop' | 'disconnect';
  enforceKeepalive?: boolean;
  /** Answer Alink property/event posts on `_reply` (default true). */
  replyToPosts?: boolean;
  /** Messages kept per topic for inspection (default 50). */
  recentPerTopic?: number;
  qpsLimit?: number;
  /**
   * The AMQP server-side subscription (device messages and status events of the broker, to consumer groups);
   * `false` turns it off. Ports default to 0 (free ports); `tlsPort: false` leaves AMQPS off.
   */
  amqp?: Omit<AmqpServerOptions, 'accounts' | 'host'> | false;
}

export interface IotPlatform {
  /** mqtt://127.0.0.1:<port> */
  mqttUrl: string;
  /** ws://127.0.0.1:<port>/mqtt, or '' when off. */
  wsUrl: string;
  /** http://127.0.0.1:<port>/ for the OpenAPI, or '' when off. */
  openApiUrl: string;
  registry: DeviceRegistry;
  accounts: AccountBook;
  broker: IotBroker;
  openApi?: IotOpenApi;
  /** The AMQP subscription server, unless off; `amqp.url` (plain) and `amqp.tlsUrl` (test CA). */
  amqp?: LocalAmqpServer;
  addDevice(spec: DeviceSpec): DeviceRecord;
  connectedDevices(): DeviceSession[];
  recentMessages(topic?: string): RecordedMessage[];
  refusals(): Refusal[];
  setFaults(faults: OpenApiFaults): void;
  clearFaults(): void;
  stop(): Promise<void>;
}

export async function startIotPlatform(options: IotPlatformOptions = {}): Promise<IotPlatform> {
  const host = options.host ?? '127.0.0.1';
  const registry = new DeviceRegistry();
  for (const p of options.products ?? []) registry.addProduct(p.productKey, p.accountId);
  for (const d of options.devices ?? []) registry.addDevice(d);
  const accounts = options.accounts ?? new AccountBook();
  const broker = new IotBroker({
    registry,
    host,
    mqttPort: options.mqttPort ?? 0,
    wsPort: options.wsPort ?? 0,
    application: options.application,
    forbiddenPublish: options.forbiddenPublish,
    enforceKeepalive: options.enforceKeepalive,
    replyToPosts: options.replyToPosts,
    recentPerTopic: options.recentPerTopic,
  });
  let openApi: IotOpenApi | undefined;
  let amqp: LocalAmqpServer | undefined;
  try {
    await broker.start();
    if (options.amqp !== false) {
      amqp = new LocalAmqpServer({ iotInstanceId: options.iotInstanceId, ...options.amqp, accounts, host });
      await amqp.start();
      amqp.attachBroker(broker);
    }
    if (options.openApiPort !== false) {
      openApi = new IotOpenApi({
        broker,
        accounts,
        host,
        port: options.openApiPort ?? 0,
        regionId: options.regionId,
        iotInstanceId: options.iotInstanceId,
        qpsLimit: options.qpsLimit,
      });
      await openApi.start();
    }
  } catch (err) {
    await amqp?.stop();
    await openApi?.stop();
    await broker.stop();
    throw err;
  }
  return {
    mqttUrl: broker.mqttUrl,
    wsUrl: broker.wsUrl,
    openApiUrl: openApi?.url ?? '',
    registry,
    accounts,
    broker,
    openApi,
    amqp,
    addDevice: (spec) => registry.addDevice(spec),
    connectedDevices: () => broker.connectedDevices(),
    recentMessages: (topic) => broker.recentMessages(topic),
    refusals: () => broker.refusals(),
    setFaults: (faults) => {
      if (!openApi) throw new Error('the OpenAPI is off (openApiPort: false)');
      openApi.setFaults(faults);
    },
    clearFaults: () => openApi?.clearFaults(),
    stop: async () => {
      await amqp?.stop();
      await openApi?.stop();
      await broker.stop();
    },
  };
}
