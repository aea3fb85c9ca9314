// Pure pieces of the MNS queue in node: config normalisation and turning a queue message into msg fields.
import { endpointFromFields, looksBase64, parseLegacyIot, wholeNumberField as int, type MnsNetwork, type ReceivedMessage } from '../../lib/mns';

export type PayloadFormat = 'auto' | 'text' | 'json' | 'base64';
export type AckMode = 'complete' | 'send';

export interface QueueInConfig {
  name?: string;
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
}

export function normaliseQueueIn(c: QueueInConfig): NormalisedQueueIn {
  const custom = c.endpointType === 'custom';
  const endpoint = endpointFromFields(c);
  const queue = (c.queue ?? '').trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,119}$/.test(queue)) throw new Error(`the queue name "${queue}" is invalid: use 1–120 letters, digits and "-", starting with a letter or digit`);
  const payloadFormat = c.payloadFormat ?? 'auto';
  if (!['auto', 'text', 'json', 'base64'].includes(payloadFormat)) throw new Error(`payload format must be auto, text, json or base64, got "${payloadFormat}"`);
  const ackMode = c.ackMode ?? 'complete';
  if (ackMode !== 'complete' && ackMode !== 'send') throw new Error(`delete mode must be "complete" or "send", got "${String(ackMode)}"`);
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
  };
}

export interface DecodedMessage {
  payload: unknown;
  /** Set when the body is the IoT Platform legacy queue format (spec §11.2). */
  iot?: { productKey?: string; deviceName?: string; topic?: string; messageId?: string; messageType: string; timestamp?: number; raw: Buffer };
}

function textOrJson(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** msg.payload (and msg.iot for the legacy IoT format) from a queue message body; throws with what is wrong. */
export function decodeBody(body: string, format: PayloadFormat): DecodedMessage {
  switch (format) {
    case 'text':
      return { payload: body };
    case 'json':
      try {
        return { payload: JSON.parse(body) as unknown };
      } catch (err) {
        throw new Error(`the message body is not JSON (${(err as Error).message}); choose payload format "auto" or "text"`, { cause: err });
      }
    case 'base64':
      if (!looksBase64(body)) throw new Error('the message body is not Base64; choose payload format "auto" or "text"');
      return { payload: Buffer.from(body, 'base64') };
    case 'auto':
    default: {
      const legacy = parseLegacyIot(body);
      if (legacy) {
        const raw = Buffer.from(legacy.payload, 'base64');
        const parts = typeof legacy.topic === 'string' ? legacy.topic.split('/') : [];
        const payload = textOrJson(raw);
        const fromStatus = payload && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
        const iot: DecodedMessage['iot'] = {
          messageType: legacy.messagetype,
          raw,
          productKey: parts[1] || (typeof fromStatus.productKey === 'string' ? fromStatus.productKey : undefined),
          deviceName: parts[2] || (typeof fromStatus.deviceName === 'string' ? fromStatus.deviceName : undefined),
        };
        if (typeof legacy.topic === 'string') iot.topic = legacy.topic;
        if (legacy.messageid !== undefined) iot.messageId = String(legacy.messageid);
        if (typeof legacy.timestamp === 'number') iot.timestamp = legacy.timestamp;
        return { payload, iot };
      }
      return { payload: textOrJson(Buffer.from(body, 'utf8')) };
    }
  }
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
