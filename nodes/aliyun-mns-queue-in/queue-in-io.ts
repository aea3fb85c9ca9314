// Pure pieces of the MNS queue in node: config normalisation and turning a queue message into msg fields.
import { endpointFromFields, wholeNumberField as int, type MnsNetwork, type PayloadFormat, type PoisonAction, type ReceivedMessage } from '../../lib/mns';

export type { PayloadFormat };
export type AckMode = 'complete' | 'send';

export interface QueueInConfig {
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
  queue?: string;
  waitSeconds?: string | number;
  batchSize?: string | number;
  concurrency?: string | number;
  payloadFormat?: PayloadFormat;
  ackMode?: AckMode;
  ackTimeout?: string | number;
  /** Deliveries before a message counts as poison (DequeueCount above it); empty = 5, 0 = never. */
  maxDeliveries?: string | number;
  poisonAction?: PoisonAction;
}

export interface NormalisedQueueIn {
  endpoint: string;
  accountId?: string;
  queue: string;
  waitSeconds: number;
  batchSize: number;
  concurrency: number;
  payloadFormat: PayloadFormat;
  ackMode: AckMode;
  ackTimeoutMs: number;
  maxDeliveries: number;
  poisonAction: PoisonAction;
}

export function normaliseQueueIn(c: QueueInConfig): NormalisedQueueIn {
  const custom = c.endpointType === 'custom';
  // With an endpoint config node, the endpoint comes from it (resolveMnsEndpoint).
  const endpoint = c.mnsEndpoint ? '' : endpointFromFields(c);
  const queue = (c.queue ?? '').trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,119}$/.test(queue)) throw new Error(`the queue name "${queue}" is invalid: use 1–120 letters, digits and "-", starting with a letter or digit`);
  const payloadFormat = c.payloadFormat ?? 'auto';
  if (!['auto', 'text', 'json', 'base64'].includes(payloadFormat)) throw new Error(`payload format must be auto, text, json or base64, got "${payloadFormat}"`);
  const ackMode = c.ackMode ?? 'complete';
  if (ackMode !== 'complete' && ackMode !== 'send') throw new Error(`delete mode must be "complete" or "send", got "${String(ackMode)}"`);
  const poisonAction = c.poisonAction ?? 'delete';
  if (poisonAction !== 'delete' && poisonAction !== 'keep') throw new Error(`poison messages must be "delete" or "keep", got "${String(poisonAction)}"`);
  return {
    endpoint,
    accountId: custom ? undefined : c.accountId?.trim(),
    queue,
    waitSeconds: int(c.waitSeconds, 10, 0, 30, 'wait seconds'),
    batchSize: int(c.batchSize, 16, 1, 16, 'batch size'),
    concurrency: int(c.concurrency, 16, 1, 1000, 'concurrency'),
    payloadFormat,
    ackMode,
    ackTimeoutMs: int(c.ackTimeout, 60, 1, 43200, 'processing timeout (seconds)') * 1000,
    maxDeliveries: int(c.maxDeliveries, 5, 0, 1000, 'maximum deliveries'),
    poisonAction,
  };
}

export function mnsInfo(queue: string, m: ReceivedMessage): Record<string, unknown> {
  return {
    queue,
    messageId: m.messageId,
    receiptHandle: m.receiptHandle,
    bodyMD5: m.bodyMD5,
    dequeueCount: m.dequeueCount,
    enqueueTime: m.enqueueTime,
    firstDequeueTime: m.firstDequeueTime,
    nextVisibleTime: m.nextVisibleTime,
    priority: m.priority,
  };
}
