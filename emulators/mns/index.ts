// The local MNS: `startMns(options)` starts it and returns a handle to inspect and steer it.
//
//   const mns = await startMns({ accounts, topics: [{ name: 'iot-telemetry' }], queues: [{ name: 'app' }],
//                                subscriptions: [{ topic: 'iot-telemetry', name: 'to-app', queue: 'app' }] });
//   new MNSClient(mns.accountId, { endpoint: mns.url, accessKeyId, accessKeySecret })
//   mns.messages('app'); mns.published('iot-telemetry'); mns.faults.fail({ kind: 'throttle', count: 3 });
//   await mns.stop();
//
// HTTP inspection and control (no signature): GET /__emulator, /__emulator/topics/{t}/published,
// /__emulator/queues/{q}, /__emulator/deliveries; GET|POST|DELETE /__emulator/faults; PUT|DELETE
// /__emulator/topics/{t}, /__emulator/queues/{q}, /__emulator/topics/{t}/subscriptions/{s} (JSON bodies).
import { readFileSync } from 'node:fs';
import { AccountBook } from '../accounts';
import type { AccessKeyRecord } from '../accounts';
import { MnsServer } from './server';
import type { PublishedMessage, RequestRecord, SubscriptionInfo, SubscriptionOptions, TopicAttributes } from './server';
import type { FaultController, FaultInput, FailureKind, FailureRule, FaultState } from './faults';
import type { MessageView, QueueAttributes } from './queue';
import type { Delivery, NotifyContentFormat, NotifyStrategy, PushOptions } from './push';

export type {
  Delivery, FailureKind, FailureRule, FaultController, FaultInput, FaultState, MessageView, NotifyContentFormat, NotifyStrategy,
  PublishedMessage, PushOptions, QueueAttributes, RequestRecord, SubscriptionInfo, SubscriptionOptions, TopicAttributes,
};
export { MnsError } from './errors';
export { stringToSign, signV2, bodyMd5 } from './signature';

export interface TopicConfig extends Partial<TopicAttributes> { name: string }
export interface QueueConfig extends Partial<QueueAttributes> { name: string }
export interface SubscriptionConfig extends SubscriptionOptions { topic: string; name: string }

/** What a JSON config file may hold (all optional); options given in code win over the file. */
export interface MnsConfig {
  accountId?: string;
  region?: string;
  host?: string;
  port?: number;
  /** AccessKeys to add to the account book (for a standalone emulator started from a config file). */
  accessKeys?: Array<Omit<AccessKeyRecord, 'accountId'> & { accountId?: string }>;
  topics?: TopicConfig[];
  queues?: QueueConfig[];
  subscriptions?: SubscriptionConfig[];
  push?: PushOptions;
  enforceAccountOwnership?: boolean;
  publishedLimit?: number;
}

export interface MnsOptions extends MnsConfig {
  /** The local cloud's account book (AccessKeys and STS credentials). A new empty book when absent. */
  accounts?: AccountBook;
  /** Path of a JSON file in the MnsConfig shape. */
  configFile?: string;
}

export interface MnsEmulator {
  /** Full endpoint for clients, e.g. http://127.0.0.1:40123 (pass as `endpoint` to @alicloud/mns). */
  readonly url: string;
  readonly port: number;
  readonly accountId: string;
  readonly region: string;
  readonly accounts: AccountBook;
  /** URL of the PEM certificate whose key signs HTTP pushes (its base64 is sent in x-mns-signing-cert-url). */
  readonly certUrl: string;
  readonly certificatePem: string;
  /**
   * Events: 'request' (every signed API request, with status and error code), 'published', 'enqueued', 'received',
   * 'deleted', 'long-poll' (a receive is parked waiting), 'delivery' (a fan-out attempt's outcome), 'outage', 'outage-end',
   * 'signature-mismatch' ({accessKeyId, stringToSign}: what the server signed, to debug a client).
   */
  readonly events: NodeJS.EventEmitter;
  readonly faults: FaultController;
  /** Request counts by status (and error code). */
  readonly stats: { requests: number; byStatus: Record<string, number> };
  createTopic(name: string, attributes?: Partial<TopicAttributes>): 'created' | 'exists';
  deleteTopic(name: string): void;
  createQueue(name: string, attributes?: Partial<QueueAttributes>): 'created' | 'exists';
  deleteQueue(name: string): void;
  subscribe(topic: string, name: string, options: SubscriptionOptions): 'created' | 'exists';
  unsubscribe(topic: string, name: string): void;
  /** `acs:mns:{region}:{accountId}:queues/{name}`, the endpoint of a queue subscription. */
  queueEndpoint(queueName: string): string;
  /** Messages currently in the queue, in any state (delayed, active, inactive). */
  messages(queueName: string): MessageView[];
  /** Messages published to the topic, oldest first. */
  published(topicName: string): PublishedMessage[];
  subscriptions(topicName: string): SubscriptionInfo[];
  /** Fan-out deliveries with their state (delivered, pending retry, discarded). */
  deliveries(): Delivery[];
  topicNames(): string[];
  queueNames(): string[];
  /** Sends directly to a queue, as if SendMessage had been called; returns the stored message. */
  send(queueName: string, body: string, options?: { delaySeconds?: number; priority?: number }): MessageView;
  /** Publishes directly, as if PublishMessage had been called. */
  publish(topicName: string, body: string, tag?: string): PublishedMessage;
  /** Closes the listener, every socket, long poll, timer and push retry. */
  stop(): Promise<void>;
}

/** Reads and checks a JSON config file. */
export function loadMnsConfig(file: string): MnsConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the MNS config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`the MNS config file ${file} must hold a JSON object`);
  const config = parsed as MnsConfig;
  for (const key of ['topics', 'queues', 'subscriptions', 'accessKeys'] as const) {
    if (config[key] !== undefined && !Array.isArray(config[key])) throw new Error(`"${key}" in ${file} must be an array`);
  }
  return config;
}

export async function startMns(options: MnsOptions = {}): Promise<MnsEmulator> {
  const file = options.configFile ? loadMnsConfig(options.configFile) : {};
  const pick = <K extends keyof MnsConfig>(key: K): MnsConfig[K] => (options[key] !== undefined ? options[key] : file[key]);
  const accountId = pick('accountId') ?? '1234567890123456';
  if (!/^\d+$/.test(accountId)) throw new Error(`accountId must be digits (an Alibaba Cloud account UID), got "${accountId}"`);
  const region = pick('region') ?? 'cn-hangzhou';
  if (!/^[a-z0-9-]+$/.test(region)) throw new Error(`region must look like cn-hangzhou, got "${region}"`);
  const accounts = options.accounts ?? new AccountBook();
  for (const key of [...(file.accessKeys ?? []), ...(options.accessKeys ?? [])]) {
    if (!key.accessKeyId || !key.accessKeySecret) throw new Error('every entry of accessKeys needs accessKeyId and accessKeySecret');
    accounts.addAccessKey({ ...key, accountId: key.accountId ?? accountId });
  }

  const server = new MnsServer({
    accounts,
    accountId,
    region,
    host: pick('host') ?? '127.0.0.1',
    port: pick('port') ?? 0,
    enforceAccountOwnership: pick('enforceAccountOwnership') ?? true,
    push: { ...file.push, ...options.push },
    publishedLimit: pick('publishedLimit') ?? 100_000,
  });
  try {
    for (const q of [...(file.queues ?? []), ...(options.queues ?? [])]) {
      const { name, ...attrs } = q;
      server.createQueue(name, attrs);
    }
    for (const t of [...(file.topics ?? []), ...(options.topics ?? [])]) {
      const { name, ...attrs } = t;
      server.createTopic(name, attrs);
    }
    for (const s of [...(file.subscriptions ?? []), ...(options.subscriptions ?? [])]) {
      const { topic, name, ...rest } = s;
      server.subscribe(topic, name, rest);
    }
  } catch (err) {
    throw new Error(`the local MNS configuration is invalid: ${(err as Error).message}`, { cause: err });
  }
  await server.start();

  return {
    get url() { return server.url; },
    get port() { return server.port; },
    accountId,
    region,
    accounts,
    get certUrl() { return server.certUrl; },
    get certificatePem() { return server.certificatePem; },
    events: server.events,
    faults: server.faults,
    stats: server.stats,
    createTopic: (name, attributes) => server.createTopic(name, attributes),
    deleteTopic: (name) => server.deleteTopic(name),
    createQueue: (name, attributes) => server.createQueue(name, attributes),
    deleteQueue: (name) => server.deleteQueue(name),
    subscribe: (topic, name, opts) => server.subscribe(topic, name, opts),
    unsubscribe: (topic, name) => server.unsubscribe(topic, name),
    queueEndpoint: (name) => server.queueEndpoint(name),
    messages: (name) => server.messages(name),
    published: (name) => server.published(name),
    subscriptions: (name) => server.subscriptions(name),
    deliveries: () => server.deliveryLog(),
    topicNames: () => server.topicNames(),
    queueNames: () => server.queueNames(),
    send: (queue, body, opts) => server.send(queue, body, opts),
    publish: (topic, body, tag) => server.publish(topic, body, tag),
    stop: () => server.stop(),
  };
}
