// Pure pieces of the MNS topic out node: config normalisation, the body, and Alibaba's error record.
import { encodeBody, bodyProblem, tagProblem, parseRetryPolicy, type BodyEncoding, type RetryPolicy, type MnsNetwork } from '../../lib/mns';
import { endpointFromFields, wholeNumberField as int } from '../../lib/mns';

export interface TopicOutConfig {
  name?: string;
  /** Id of an aliyun-mns-endpoint config node; when set, the per-node endpoint fields below are not used. */
  mnsEndpoint?: string;
  /** Id of the aliyun-credentials config node (not `credentials`: Node-RED reserves that name). */
  aliyunCredentials?: string;
  endpointType?: 'region' | 'custom';
  accountId?: string;
  region?: string;
  network?: MnsNetwork;
  endpoint?: string;
  topic?: string;
  bodyEncoding?: BodyEncoding;
  tag?: string;
  retries?: string | number;
  retryDelays?: string;
  concurrency?: string | number;
  queueLimit?: string | number;
  timeout?: string | number;
  /** 'disk' (default): the durable outbox; 'memory': the in-memory queue only. */
  outbox?: string;
  /** Outbox limits: messages, and MiB of bodies. */
  outboxLimit?: string | number;
  outboxMB?: string | number;
}

export interface NormalisedTopicOut {
  endpoint: string;
  accountId?: string;
  /** Region for the error record's actionRegion (the config node's region; the host of an old-form custom URL). */
  region: string;
  topic: string;
  bodyEncoding: BodyEncoding;
  tag?: string;
  retry: RetryPolicy;
  concurrency: number;
  queueLimit: number;
  timeoutMs: number;
  outbox: boolean;
  outboxLimit: number;
  outboxBytes: number;
}

export const TOPIC_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,119}$/;

export function normaliseTopicOut(c: TopicOutConfig): NormalisedTopicOut {
  const custom = c.endpointType === 'custom';
  // With an endpoint config node, the endpoint and region come from it (resolveMnsEndpoint).
  const endpoint = c.mnsEndpoint ? '' : endpointFromFields(c);
  const topic = (c.topic ?? '').trim();
  if (topic !== '' && !TOPIC_NAME.test(topic)) throw new Error(`the topic name "${topic}" is invalid: use 1–120 letters, digits and "-", starting with a letter or digit`);
  const encoding = c.bodyEncoding ?? 'json';
  if (encoding !== 'json' && encoding !== 'base64') throw new Error(`body encoding must be "json" or "base64", got "${String(encoding)}"`);
  const tag = (c.tag ?? '').trim();
  if (tag !== '') {
    const p = tagProblem(tag);
    if (p) throw new Error(p);
  }
  const region = c.mnsEndpoint ? '' : custom ? new URL(endpoint).host : (c.region ?? '').trim();
  return {
    endpoint,
    accountId: custom ? undefined : c.accountId?.trim(),
    region,
    topic,
    bodyEncoding: encoding,
    tag: tag === '' ? undefined : tag,
    retry: parseRetryPolicy(c.retries, c.retryDelays),
    concurrency: int(c.concurrency, 16, 1, 256, 'concurrency'),
    queueLimit: int(c.queueLimit, 1000, 1, 1_000_000, 'queue limit'),
    timeoutMs: int(c.timeout, 10, 1, 120, 'timeout (seconds)') * 1000,
    outbox: outboxMode(c.outbox),
    outboxLimit: int(c.outboxLimit, 100_000, 1, 10_000_000, 'outbox limit'),
    outboxBytes: int(c.outboxMB, 256, 1, 65_536, 'outbox size (MiB)') * 1024 * 1024,
  };
}

function outboxMode(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'disk') return true;
  if (v === 'memory') return false;
  throw new Error(`outbox must be "disk" or "memory", got "${v}"`);
}

/** The body for a message, or the reason it cannot be published (what to fix). */
export function bodyFor(payload: unknown, encoding: BodyEncoding): { body: string } | { error: string } {
  let body: string;
  try {
    body = encodeBody(payload, encoding);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const problem = bodyProblem(body);
  if (problem) return { error: encoding === 'base64' || Buffer.isBuffer(payload) ? `${problem} (after Base64 encoding)` : problem };
  return { body };
}

export interface MsgIot {
  productKey?: string;
  deviceName?: string;
  topic?: string;
  messageId?: string | number;
  raw?: unknown;
}

export interface ErrorRecord {
  ruleName: string;
  topic: string;
  productKey: string;
  deviceName: string;
  messageId: string;
  base64OriginalPayload: string;
  failures: Array<{ actionType: 'MNS'; actionRegion: string; actionResource: string; errorMessage: string }>;
}

function rawBytes(raw: unknown): Buffer | undefined {
  if (Buffer.isBuffer(raw)) return raw;
  if (raw instanceof Uint8Array) return Buffer.from(raw);
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  if (raw && typeof raw === 'object' && (raw as { type?: unknown }).type === 'Buffer' && Array.isArray((raw as { data?: unknown }).data)) {
    return Buffer.from((raw as { data: number[] }).data);
  }
  return undefined;
}

function payloadBytes(payload: unknown): Buffer {
  const b = rawBytes(payload);
  if (b) return b;
  if (payload === undefined) return Buffer.alloc(0);
  try {
    return Buffer.from(JSON.stringify(payload) ?? String(payload), 'utf8');
  } catch {
    return Buffer.from(String(payload), 'utf8');
  }
}

/** Alibaba's error-action record (DESIGN.md, iot-sql §4) for a message MNS did not take. */
export function errorRecord(
  msg: { topic?: unknown; payload?: unknown; iot?: MsgIot; rule?: { name?: string } },
  mnsTopic: string,
  region: string,
  errorMessage: string,
): ErrorRecord {
  const iot = msg.iot && typeof msg.iot === 'object' ? msg.iot : undefined;
  const original = (iot && rawBytes(iot.raw)) ?? payloadBytes(msg.payload);
  return {
    ruleName: typeof msg.rule?.name === 'string' ? msg.rule.name : '',
    topic: String(iot?.topic ?? (typeof msg.topic === 'string' ? msg.topic : '')),
    productKey: String(iot?.productKey ?? ''),
    deviceName: String(iot?.deviceName ?? ''),
    messageId: iot?.messageId !== undefined ? String(iot.messageId) : '',
    base64OriginalPayload: original.toString('base64'),
    failures: [{ actionType: 'MNS', actionRegion: region, actionResource: mnsTopic, errorMessage }],
  };
}
