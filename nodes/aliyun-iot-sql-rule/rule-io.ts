// Pure helpers of the SQL rule node: config normalisation, turning a Node-RED message into the engine's
// RuleMessage, and validating the editor's test requests. No Node-RED import, so they are testable alone.
import type { RuleDataType, RuleMessage, RuleTslInfo } from '../../lib/sql/types';

export type NonMatching = 'drop' | 'output';

export interface TagEntry {
  key: string;
  value: string;
}

export interface SqlRuleConfig {
  name?: string;
  sql?: string;
  dataType?: string;
  timezone?: string;
  strict?: boolean | string;
  tags?: unknown;
  nonMatching?: string;
  outputs?: number | string;
}

export interface NormalisedConfig {
  name: string;
  sql: string;
  dataType: RuleDataType;
  timezone: string;
  strict: boolean;
  tags: Record<string, string>;
  nonMatching: NonMatching;
}

export const DEFAULT_TIMEZONE = 'Asia/Shanghai';

/** Limits of the editor's test endpoint. The SQL and the test payload are typed by hand, so these are generous. */
export const LIMITS = {
  sqlChars: 64 * 1024,
  topicChars: 1024,
  payloadChars: 256 * 1024,
  tags: 200,
  tagChars: 1024,
  idChars: 256,
};

/** True when `tz` is an IANA timezone this Node.js knows. */
export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Tags arrive from the editor as a list of `{key, value}` (the editable list) or, from the test endpoint, also as a
 * plain object. Blank keys are ignored; values become text (attribute() returns text). Returns an error text for
 * anything else.
 */
export function normaliseTags(input: unknown): { tags: Record<string, string> } | { error: string } {
  const tags: Record<string, string> = Object.create(null) as Record<string, string>;
  if (input === undefined || input === null || input === '') return { tags };
  let entries: Array<[unknown, unknown]>;
  if (Array.isArray(input)) {
    entries = input.map((e: unknown) => {
      if (!e || typeof e !== 'object') return [undefined, undefined];
      const o = e as Record<string, unknown>;
      return [o.key, o.value];
    });
  } else if (typeof input === 'object') {
    entries = Object.entries(input as Record<string, unknown>);
  } else {
    return { error: 'tags must be a list of {key, value} or an object of key → value' };
  }
  if (entries.length > LIMITS.tags) return { error: `too many tags (${entries.length}); at most ${LIMITS.tags}` };
  for (const [k, v] of entries) {
    if (typeof k !== 'string') return { error: 'every tag needs a text key' };
    const key = k.trim();
    if (key === '') continue;
    if (v !== undefined && v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      return { error: `tag '${key}' must have a text value` };
    }
    const value = v === undefined || v === null ? '' : String(v);
    if (key.length > LIMITS.tagChars || value.length > LIMITS.tagChars) {
      return { error: `tag '${key.slice(0, 40)}' is longer than ${LIMITS.tagChars} characters` };
    }
    tags[key] = value;
  }
  return { tags };
}

export function normaliseDataType(v: unknown): RuleDataType | undefined {
  if (v === undefined || v === null || v === '') return 'JSON';
  if (typeof v !== 'string') return undefined;
  const up = v.toUpperCase();
  return up === 'JSON' || up === 'BINARY' ? up : undefined;
}

/** Read the deployed node config; throws an Error whose message says what to fix. */
export function normaliseConfig(config: SqlRuleConfig): NormalisedConfig {
  const dataType = normaliseDataType(config.dataType);
  if (!dataType) throw new Error(`data type must be JSON or BINARY, not '${String(config.dataType)}'`);
  const timezone = (config.timezone ?? '').trim() || DEFAULT_TIMEZONE;
  if (!isValidTimezone(timezone)) throw new Error(`unknown timezone '${timezone}' (use an IANA name such as Asia/Shanghai)`);
  const t = normaliseTags(config.tags);
  if ('error' in t) throw new Error(t.error);
  const outputs = Number(config.outputs ?? 1);
  const nonMatching: NonMatching = config.nonMatching === 'output' || (config.nonMatching === undefined && outputs === 2)
    ? 'output'
    : 'drop';
  return {
    name: config.name ?? '',
    sql: config.sql ?? '',
    dataType,
    timezone,
    strict: config.strict === true || config.strict === 'true',
    tags: t.tags,
    nonMatching,
  };
}

/** The parts of a Node-RED message this node reads. */
export interface InputMessage {
  _msgid?: string;
  topic?: unknown;
  payload?: unknown;
  iot?: unknown;
}

function isBytes(v: unknown): v is Buffer | Uint8Array {
  return Buffer.isBuffer(v) || v instanceof Uint8Array;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Build the engine's message from a Node-RED message.
 * - topic: `msg.topic`, else `msg.iot.topic`.
 * - payload: `msg.payload` (so upstream edits count). The one exception: a BINARY rule needs bytes, so when
 *   msg.payload is a parsed value (not a Buffer or text) and `msg.iot.raw` holds the device's bytes, those are used.
 * - productKey / deviceName / messageId from `msg.iot` when present (the engine derives the first two from the
 *   topic otherwise); messageId falls back to `msg._msgid`.
 * - tags: the node's tags, over `msg.iot.tags` (the node's configuration wins).
 * - now: `msg.iot.receivedAt` (ms epoch) when given, else the evaluation time.
 * - tsl: `msg.iot.tsl` = { iotId?, deviceType?, eventName?, eventType? } for TSL parsing of raw Alink posts.
 */
export function toRuleMessage(
  msg: InputMessage,
  cfg: Pick<NormalisedConfig, 'dataType' | 'tags'>,
): { message: RuleMessage } | { error: 'missing-topic' } {
  const iot = msg.iot && typeof msg.iot === 'object' ? (msg.iot as Record<string, unknown>) : undefined;
  const topic = str(msg.topic) ?? str(iot?.topic);
  if (!topic) return { error: 'missing-topic' };
  let payload: unknown = msg.payload;
  if (cfg.dataType === 'BINARY' && !isBytes(payload) && typeof payload !== 'string' && iot && isBytes(iot.raw)) {
    payload = iot.raw;
  }
  let tags: Record<string, string> = cfg.tags;
  if (iot && iot.tags && typeof iot.tags === 'object') {
    const fromMsg = normaliseTags(iot.tags);
    if ('tags' in fromMsg) tags = { ...fromMsg.tags, ...cfg.tags };
  }
  const message: RuleMessage = { topic, payload, tags };
  const productKey = str(iot?.productKey);
  const deviceName = str(iot?.deviceName);
  const messageId = iot?.messageId !== undefined && iot.messageId !== null && iot.messageId !== ''
    ? String(iot.messageId)
    : str(msg._msgid);
  if (productKey) message.productKey = productKey;
  if (deviceName) message.deviceName = deviceName;
  if (messageId) message.messageId = messageId;
  // The time the device message arrived (set by IoT device in): gmtCreate, default property times and timestamp().
  const receivedAt = iot?.receivedAt;
  if (typeof receivedAt === 'number' && Number.isFinite(receivedAt)) message.now = receivedAt;
  const tsl = tslInfo(iot?.tsl);
  if (tsl) message.tsl = tsl;
  return { message };
}

/** A validated request of the editor's Test button. */
export interface TestRequest {
  sql: string;
  dataType: RuleDataType;
  timezone: string;
  strict: boolean;
  message: RuleMessage;
}

const PAYLOAD_ENCODINGS = ['text', 'hex', 'base64'] as const;

/** Validate the JSON body of `POST aliyun-iot-sql-rule/test`. Errors name the field and what to fix. */
export function parseTestRequest(body: unknown): { request: TestRequest } | { status: 400 | 413; error: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { status: 400, error: 'send a JSON object: { sql, topic, payload, dataType?, timezone?, tags?, ... }' };
  }
  const b = body as Record<string, unknown>;
  if (typeof b.sql !== 'string' || b.sql.trim() === '') return { status: 400, error: "'sql' is required: the rule's SQL text" };
  if (b.sql.length > LIMITS.sqlChars) return { status: 413, error: `'sql' is longer than ${LIMITS.sqlChars} characters` };
  if (typeof b.topic !== 'string' || b.topic.trim() === '') {
    return { status: 400, error: "'topic' is required: the device topic, e.g. /sys/a1B2c3D4e5F/dev01/thing/event/property/post" };
  }
  if (b.topic.length > LIMITS.topicChars) return { status: 413, error: `'topic' is longer than ${LIMITS.topicChars} characters` };
  const dataType = normaliseDataType(b.dataType);
  if (!dataType) return { status: 400, error: "'dataType' must be JSON or BINARY" };
  if (b.timezone !== undefined && b.timezone !== null && typeof b.timezone !== 'string') {
    return { status: 400, error: "'timezone' must be text, e.g. Asia/Shanghai" };
  }
  const timezone = (typeof b.timezone === 'string' ? b.timezone.trim() : '') || DEFAULT_TIMEZONE;
  if (!isValidTimezone(timezone)) return { status: 400, error: `'timezone' '${timezone}' is not a known IANA timezone` };
  const encoding = b.payloadEncoding === undefined || b.payloadEncoding === null || b.payloadEncoding === ''
    ? 'text'
    : b.payloadEncoding;
  if (typeof encoding !== 'string' || !(PAYLOAD_ENCODINGS as readonly string[]).includes(encoding)) {
    return { status: 400, error: "'payloadEncoding' must be text, hex or base64" };
  }
  const rawPayload = b.payload === undefined || b.payload === null ? '' : b.payload;
  if (typeof rawPayload !== 'string') return { status: 400, error: "'payload' must be text (JSON is sent as its text)" };
  if (rawPayload.length > LIMITS.payloadChars) {
    return { status: 413, error: `'payload' is longer than ${LIMITS.payloadChars} characters` };
  }
  let payload: Buffer;
  if (encoding === 'hex') {
    const hex = rawPayload.replace(/\s+/g, '');
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      return { status: 400, error: "'payload' is not hex: use pairs of 0-9 a-f, spaces allowed" };
    }
    payload = Buffer.from(hex, 'hex');
  } else if (encoding === 'base64') {
    const b64 = rawPayload.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b64)) return { status: 400, error: "'payload' is not Base64" };
    payload = Buffer.from(b64, 'base64');
  } else {
    payload = Buffer.from(rawPayload, 'utf8');
  }
  const t = normaliseTags(b.tags);
  if ('error' in t) return { status: 400, error: `'tags': ${t.error}` };
  const message: RuleMessage = { topic: b.topic.trim(), payload, tags: t.tags };
  for (const field of ['productKey', 'deviceName', 'messageId'] as const) {
    const v = b[field];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') return { status: 400, error: `'${field}' must be text` };
    if (v.length > LIMITS.idChars) return { status: 413, error: `'${field}' is longer than ${LIMITS.idChars} characters` };
    message[field] = v;
  }
  if (!message.messageId) message.messageId = String(Date.now()) + '000001';
  return {
    request: { sql: b.sql, dataType, timezone, strict: b.strict === true, message },
  };
}

/** Counters shown in the status. */
export interface Counts {
  matched: number;
  filtered: number;
  noMatch: number;
  dropped: number;
}

/** SQL errors carry a 1-based line and column; anything else is a plain error. */
export function sqlErrorPosition(err: unknown): { line: number; column: number } | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { line?: unknown; column?: unknown };
  if (typeof e.line === 'number' && typeof e.column === 'number') return { line: e.line, column: e.column };
  return undefined;
}

export function isBinaryOutput(v: unknown): v is Buffer | Uint8Array {
  return isBytes(v);
}

/** The time source of the status throttle; tests swap in a manual clock so nothing depends on real timing. */
export interface StatusClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemStatusClock: StatusClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The clock a node takes when it starts. Tests set `current` before loading a flow and restore it after. */
export const statusClock: { current: StatusClock } = { current: systemStatusClock };

export interface StatusThrottle {
  /** A count changed: draw now if the last drawing is at least `intervalMs` old, else once when it is. */
  changed(): void;
  /** Stop for good (node closed): a pending drawing is cancelled. */
  stop(): void;
}

/**
 * Redraw the status at most every `intervalMs`; the last change is always drawn once the interval has passed,
 * so the status never stays behind the counts.
 */
export function createStatusThrottle(draw: () => void, intervalMs: number, clock: StatusClock): StatusThrottle {
  let lastDrawn = -Infinity;
  let timer: unknown;
  let pending = false;
  let stopped = false;
  const drawNow = (): void => {
    lastDrawn = clock.now();
    draw();
  };
  return {
    changed(): void {
      if (stopped || pending) return;
      const wait = lastDrawn + intervalMs - clock.now();
      if (wait <= 0) {
        drawNow();
        return;
      }
      pending = true;
      timer = clock.setTimeout(() => {
        pending = false;
        timer = undefined;
        if (!stopped) drawNow();
      }, wait);
    },
    stop(): void {
      stopped = true;
      if (pending) clock.clearTimeout(timer);
      pending = false;
      timer = undefined;
    },
  };
}

/** Text of a message's TSL facts (`msg.iot.tsl`), for the engine's `message.tsl`; anything else is ignored. */
export function tslInfo(v: unknown): RuleTslInfo | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const info: RuleTslInfo = {};
  for (const k of ['iotId', 'deviceType', 'eventName', 'eventType'] as const) {
    const s = o[k];
    if (typeof s === 'string' && s !== '') info[k] = s;
  }
  return Object.keys(info).length > 0 ? info : undefined;
}
