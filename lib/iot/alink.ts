// What the IoT device in node makes of one MQTT message: the payload in the chosen format and msg.iot
// (productKey, deviceName, topicClass from the topic; messageId from the Alink `id` when present).
import * as nodeBuffer from 'node:buffer';
import { parseTopic, type TopicClass } from './topics';

export type PayloadFormat = 'auto' | 'string' | 'buffer';
export const PAYLOAD_FORMATS: readonly PayloadFormat[] = ['auto', 'string', 'buffer'];

export interface IotMeta {
  productKey?: string;
  deviceName?: string;
  topic: string;
  topicClass: TopicClass;
  /** The Alink request `id` when the payload is an Alink JSON message, else a generated unique ID. */
  messageId: string;
  /** Milliseconds since 1970 when the message arrived. */
  receivedAt: number;
  qos: number;
  /** The bytes as received. */
  raw: Buffer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Native UTF-8 check (Node ≥ 18.14); the fatal TextDecoder otherwise. */
const isUtf8 = (nodeBuffer as { isUtf8?: (b: Buffer) => boolean }).isUtf8;

function decodeUtf8(raw: Buffer): string | undefined {
  if (isUtf8) {
    // Decoding replaces invalid bytes with U+FFFD: only then is the (slower) validity check needed.
    const text = raw.toString('utf8');
    if (text.indexOf('\uFFFD') < 0) return text;
    return isUtf8(raw) ? text : undefined;
  }
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

/**
 * auto: the parsed JSON when the bytes are JSON text, else the text when they are valid UTF-8, else the Buffer
 * (bytes that are not text are kept rather than mangled); string: UTF-8 text; buffer: the bytes.
 */
export function decodePayload(raw: Buffer, format: PayloadFormat): unknown {
  if (format === 'buffer') return raw;
  if (format === 'string') return raw.toString('utf8');
  const text = decodeUtf8(raw);
  if (text === undefined) return raw;
  if (text.length > 0 && looksLikeJson(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** Cheap pre-check so that plain text does not pay for a failing JSON.parse (JSON.parse decides). */
function looksLikeJson(text: string): boolean {
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x0a || text.charCodeAt(i) === 0x0d || text.charCodeAt(i) === 0x09)) i++;
  const c = text.charCodeAt(i);
  // { [ " digit - t f n
  return c === 0x7b || c === 0x5b || c === 0x22 || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x74 || c === 0x66 || c === 0x6e;
}

let counter = 0;
let lastMs = 0;

/** A unique, increasing decimal ID: the milliseconds followed by a 6-digit counter within that millisecond. */
export function generateMessageId(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  }
  counter++;
  if (counter > 999_999) {
    lastMs++;
    counter = 1;
  }
  return `${lastMs}${String(counter).padStart(6, '0')}`;
}

/** The Alink `id` ("0" to "4294967295", sent as a string or a number) of a parsed payload, if any. */
export function alinkId(payload: unknown): string | undefined {
  if (!payload || typeof payload !== 'object' || Buffer.isBuffer(payload) || Array.isArray(payload)) return undefined;
  const id = (payload as { id?: unknown }).id;
  if (typeof id === 'string' && /^\d{1,10}$/.test(id)) return id;
  if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 4294967295) return String(id);
  return undefined;
}

/** Builds msg.iot for a received message. `parsed` is the decoded payload when already computed. */
export function iotMeta(topic: string, raw: Buffer, qos: number, receivedAt: number, parsed?: unknown): IotMeta {
  const t = parseTopic(topic);
  let id = alinkId(parsed);
  if (id === undefined && parsed === undefined && raw.length > 0 && raw.length < 65536 && raw[0] === 0x7b) {
    id = alinkId(decodePayload(raw, 'auto'));
  }
  const meta: IotMeta = {
    topic,
    topicClass: t.topicClass,
    messageId: id ?? generateMessageId(receivedAt),
    receivedAt,
    qos,
    raw,
  };
  if (t.productKey !== undefined) meta.productKey = t.productKey;
  if (t.deviceName !== undefined) meta.deviceName = t.deviceName;
  return meta;
}
