// What a real MNS queue (or HTTP push) body can be, and the message inside it (spec §3.2, §11.2, §15.1):
//  - an XML <Notification> (a topic subscription's default format) or its JSON form → the inner Message, with the
//    notification's metadata;
//  - the IoT Platform legacy envelope {messageid, messagetype, topic, payload, timestamp}, raw or as Base64 of
//    the JSON (what real consumers decode first) → the device payload, with msg.iot fields;
//  - anything else (a SIMPLIFIED notification, a plain queue message) → the body itself.
// Then the inner text is decoded per the node's payload format. A 19-digit `messageid` stays exact (a string).
import { looksBase64 } from './body';
import { fieldsOf, parseXml } from './xml';

export type PayloadFormat = 'auto' | 'text' | 'json' | 'base64';

/** The topic envelope of an XML or JSON notification (msg.mns.notification). */
export interface NotificationInfo {
  topicOwner: string;
  topicName: string;
  subscriber: string;
  subscriptionName: string;
  messageId: string;
  messageMD5: string;
  messageTag?: string;
  /** Epoch ms. */
  publishTime?: number;
}

export interface LegacyIotInfo {
  productKey?: string;
  deviceName?: string;
  topic?: string;
  /** Exact, as a string (the envelope's 19-digit number would be rounded by JSON.parse). */
  messageId?: string;
  messageType: string;
  timestamp?: number;
  /** The device payload bytes. */
  raw: Buffer;
  /** Whether the queue body was the JSON envelope itself or Base64 of it. */
  wrapping: 'raw' | 'base64';
}

export type EnvelopeKind = 'xml-notification' | 'json-notification' | 'legacy-iot' | 'plain';

export interface Unwrapped {
  envelope: EnvelopeKind;
  /** The message text inside the envelope (the body itself for 'plain'). */
  message: string;
  notification?: NotificationInfo;
}

export interface DecodedMessage {
  envelope: EnvelopeKind;
  payload: unknown;
  notification?: NotificationInfo;
  iot?: LegacyIotInfo;
}

/**
 * JSON.parse, except that integer literals beyond Number.MAX_SAFE_INTEGER become strings with their exact digits
 * (spec §15.1: `"messageid": 1073124162769526784`). Throws SyntaxError like JSON.parse.
 */
export function parseJsonExact(text: string): unknown {
  let out: string | undefined;
  let last = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      if (c === 0x2d) i++;
      while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      const digitsEnd = i;
      let integer = true;
      while (i < n && /[.eE+\-0-9]/.test(text[i])) {
        integer = false;
        i++;
      }
      const digits = digitsEnd - start - (c === 0x2d ? 1 : 0);
      if (integer && digits >= 16 && !Number.isSafeInteger(Number(text.slice(start, digitsEnd)))) {
        out = (out ?? '') + text.slice(last, start) + `"${text.slice(start, digitsEnd)}"`;
        last = digitsEnd;
      }
      continue;
    }
    i++;
  }
  return JSON.parse(out === undefined ? text : out + text.slice(last));
}

function notificationFrom(get: (k: string) => string | undefined): NotificationInfo | undefined {
  const topicName = get('TopicName');
  const messageId = get('MessageId');
  if (!topicName || !messageId || get('Message') === undefined) return undefined;
  const info: NotificationInfo = {
    topicOwner: get('TopicOwner') ?? '',
    topicName,
    subscriber: get('Subscriber') ?? '',
    subscriptionName: get('SubscriptionName') ?? '',
    messageId,
    messageMD5: get('MessageMD5') ?? '',
  };
  const tag = get('MessageTag');
  if (tag) info.messageTag = tag;
  const publishTime = Number(get('PublishTime'));
  if (get('PublishTime') !== undefined && Number.isFinite(publishTime)) info.publishTime = publishTime;
  return info;
}

/** The notification inside an XML or JSON body, or undefined when the body is no notification. */
export function parseNotification(body: string): Unwrapped | undefined {
  const start = body.trimStart();
  if (start.startsWith('<')) {
    const xml = parseXml(body, 1);
    const fields = xml?.name === 'Notification' ? fieldsOf(xml) : undefined;
    if (!fields) return undefined;
    const notification = notificationFrom((k) => fields.get(k));
    return notification ? { envelope: 'xml-notification', message: fields.get('Message') ?? '', notification } : undefined;
  }
  if (start.startsWith('{') && body.includes('"TopicName"') && body.includes('"Message"')) {
    let v: unknown;
    try {
      v = parseJsonExact(body);
    } catch {
      return undefined;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o.Message !== 'string') return undefined;
    const get = (k: string): string | undefined => {
      const x = Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
      return typeof x === 'string' ? x : typeof x === 'number' ? String(x) : undefined;
    };
    const notification = notificationFrom(get);
    return notification ? { envelope: 'json-notification', message: o.Message, notification } : undefined;
  }
  return undefined;
}

/** Unwraps a queue (or push) body: a notification's inner message, or the body itself. */
export function unwrapBody(body: string): Unwrapped {
  return parseNotification(body) ?? { envelope: 'plain', message: body };
}

function legacyFromText(text: string, wrapping: 'raw' | 'base64'): LegacyIotInfo | undefined {
  if (!text.trimStart().startsWith('{') || !text.includes('"messagetype"')) return undefined;
  let v: unknown;
  try {
    v = parseJsonExact(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.messagetype !== 'string' || typeof o.payload !== 'string') return undefined;
  if (o.payload !== '' && !looksBase64(o.payload)) return undefined;
  const raw = Buffer.from(o.payload, 'base64');
  const info: LegacyIotInfo = { messageType: o.messagetype, raw, wrapping };
  if (typeof o.topic === 'string') {
    info.topic = o.topic;
    const parts = o.topic.split('/');
    if (parts[1]) info.productKey = parts[1];
    if (parts[2]) info.deviceName = parts[2];
  }
  if (typeof o.messageid === 'string' || typeof o.messageid === 'number') info.messageId = String(o.messageid);
  if (typeof o.timestamp === 'number') info.timestamp = o.timestamp;
  return info;
}

/** The IoT Platform legacy queue envelope (spec §11.2, §15.1), as raw JSON or as Base64 of it. */
export function parseLegacyEnvelope(text: string): LegacyIotInfo | undefined {
  const raw = legacyFromText(text, 'raw');
  if (raw) return raw;
  if (text.length >= 40 && looksBase64(text)) {
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    return legacyFromText(decoded, 'base64');
  }
  return undefined;
}

function textOrJson(text: string): unknown {
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

/** msg.payload from a message text per the payload format; throws with what is wrong. */
export function decodeInner(text: string, format: PayloadFormat): { payload: unknown; iot?: LegacyIotInfo } {
  switch (format) {
    case 'text':
      return { payload: text };
    case 'json':
      try {
        return { payload: JSON.parse(text) as unknown };
      } catch (err) {
        throw new Error(`the message body is not JSON (${(err as Error).message}); choose payload format "auto" or "text"`, { cause: err });
      }
    case 'base64':
      if (!looksBase64(text)) throw new Error('the message body is not Base64; choose payload format "auto" or "text"');
      return { payload: Buffer.from(text, 'base64') };
    case 'auto':
    default: {
      const iot = parseLegacyEnvelope(text);
      if (iot) {
        const payload = textOrJson(iot.raw.toString('utf8'));
        // A status message names the device in its payload, not in a topic.
        if (payload && typeof payload === 'object' && !Array.isArray(payload)) {
          const p = payload as Record<string, unknown>;
          if (!iot.productKey && typeof p.productKey === 'string') iot.productKey = p.productKey;
          if (!iot.deviceName && typeof p.deviceName === 'string') iot.deviceName = p.deviceName;
        }
        return { payload, iot };
      }
      return { payload: textOrJson(text) };
    }
  }
}

/** The whole decoding of a queue or push body: unwrap the envelope, then decode the message inside. */
export function decodeMessage(body: string, format: PayloadFormat): DecodedMessage {
  const u = unwrapBody(body);
  const inner = decodeInner(u.message, format);
  const out: DecodedMessage = { envelope: inner.iot ? 'legacy-iot' : u.envelope, payload: inner.payload };
  if (u.notification) out.notification = u.notification;
  if (inner.iot) out.iot = inner.iot;
  return out;
}
