// AMQP 1.0 subscription client (rhea) for the IoT Platform's server-side subscription, and for any AMQP 1.0 broker
// (generic mode). One instance = one connection with one receiver link. It owns the reconnect (rhea's own reconnect
// does not re-create receivers reliably, spec §4.7): after any loss it waits a capped, jittered backoff, asks for a
// fresh login (Alibaba's signature carries a timestamp), reconnects and re-opens the receiver.
// Credit is granted one by one as messages are settled, so at most `prefetch` messages are ever unsettled here.
import type { ConnectionOptions } from 'node:tls';
import { create_container, type Connection, type Delivery, type EventContext, type Receiver } from 'rhea';
import { alinkId, decodePayload, generateMessageId, type PayloadFormat } from './alink';
import { parseTopic, type TopicClass } from './topics';

/** Why the connection is down, in the user's words. */
export type AmqpTrouble = 'signature' | 'group' | 'throttled' | 'network' | 'refused' | 'credentials' | 'config';

export interface AmqpStatus {
  state: 'connecting' | 'connected' | 'retrying' | 'stopped';
  reason?: AmqpTrouble;
  /** Text from the peer or the socket (never a secret). */
  detail?: string;
  retryInMs?: number;
}

export interface AmqpLoginParts {
  username?: string;
  /** A secret. */
  password?: string;
}

export interface ReceivedAmqpMessage {
  body: Buffer;
  /** Application properties as sent (topic, messageId, generateTime, ... for the IoT platform). */
  properties: Record<string, unknown>;
  /** The AMQP message-id and subject, when present. */
  messageId?: string;
  subject?: string;
  /** Accept (the platform forgets it). Idempotent; a no-op when the connection it came on is gone. */
  accept(): void;
  /** Release (the platform delivers it again). */
  release(): void;
}

export interface AmqpSubscriptionOptions {
  host: string;
  port: number;
  tls: boolean;
  /** Extra CA certificates (PEM) to trust besides the system ones. */
  ca?: string | Buffer;
  /** Server name for TLS; default the host. */
  servername?: string;
  /** The source address of the receiver ('' = none, as the IoT platform expects). */
  address?: string;
  /** Called before every connection attempt. Throwing (e.g. credentials unavailable) counts as a failed attempt. */
  login: () => Promise<AmqpLoginParts> | AmqpLoginParts;
  /** Idle timeout announced to the peer, ms (the IoT platform accepts 30 000–300 000). */
  idleTimeoutMs: number;
  /** Unsettled messages at most (credit). */
  prefetch: number;
  /** First and longest reconnect wait, ms (default 1 000 and 60 000). */
  backoffMs?: { initial: number; max: number };
  /** The connection attempt is abandoned after this long (default 20 000 ms). */
  connectTimeoutMs?: number;
  /** AMQP container ID (default the login client ID or a generated one). */
  containerId?: string;
  onMessage(m: ReceivedAmqpMessage): void;
  onStatus?(s: AmqpStatus): void;
}

/** Bounds the IoT platform enforces; the editor and the node check them too. */
export const IDLE_TIMEOUT_RANGE_S: readonly [number, number] = [30, 300];

/** Sorts a peer's error into a reason. SASL failures and unauthorized access are the signature being refused. */
export function classifyAmqpError(err: unknown): { reason: AmqpTrouble; detail: string } {
  const e = err as { condition?: string; description?: string; message?: string; code?: string } | undefined;
  const condition = e?.condition ?? '';
  const text = e?.description ?? e?.message ?? String(err ?? '');
  const detail = condition && !text.includes(condition) ? `${condition}: ${text}` : text;
  if (/unauthorized|authenticate|sasl/i.test(condition + ' ' + text)) return { reason: 'signature', detail };
  if (/resource-limit|throttl|too many/i.test(condition + ' ' + text)) return { reason: 'throttled', detail };
  if (/not-found/.test(condition) || /group .*(does not exist|not found)/i.test(text)) return { reason: 'group', detail };
  if (e?.code && /^E[A-Z]+/.test(e.code)) return { reason: 'network', detail: `${e.code}${text && !text.includes(e.code) ? `: ${text}` : ''}` };
  if (condition) return { reason: 'refused', detail };
  return { reason: 'network', detail: text || 'connection lost' };
}

/** Capped exponential backoff with jitter: a wait in [½, 1] × min(max, initial × 2^attempt). */
export function backoffDelay(attempt: number, initial: number, max: number, random: () => number = Math.random): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/** The bytes of an AMQP body: a data section, a binary or string value, or (generic brokers) JSON of any other value. */
export function amqpBodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body && typeof body === 'object' && 'content' in body && Buffer.isBuffer((body as { content: unknown }).content)) return (body as { content: Buffer }).content;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Array.isArray(body) && body.every((b) => b && typeof b === 'object' && Buffer.isBuffer((b as { content?: unknown }).content))) {
    return Buffer.concat(body.map((b: { content: Buffer }) => b.content));
  }
  try {
    return Buffer.from(JSON.stringify(body), 'utf8');
  } catch {
    return Buffer.from(String(body), 'utf8');
  }
}

export class AmqpSubscription {
  private readonly o: AmqpSubscriptionOptions;
  private connection?: Connection;
  private receiver?: Receiver;
  private timer?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private attempt = 0;
  private stopped = true;
  private generation = 0;
  private lastStatus?: AmqpStatus;

  constructor(options: AmqpSubscriptionOptions) {
    this.o = options;
  }

  get status(): AmqpStatus | undefined {
    return this.lastStatus;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  /** Closes the connection; unsettled messages are left to the peer (it delivers them again). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    const c = this.connection;
    this.connection = undefined;
    this.receiver = undefined;
    if (c) {
      await new Promise<void>((resolve) => {
        const done = setTimeout(() => {
          c.socket?.destroy();
          resolve();
        }, 2000);
        const finish = (): void => {
          clearTimeout(done);
          resolve();
        };
        c.once('connection_close', finish);
        c.once('disconnected', finish);
        if (c.is_open()) c.close();
        else {
          c.socket?.destroy();
          finish();
        }
      });
      c.socket?.destroy();
    }
    this.emit({ state: 'stopped' });
  }

  private emit(s: AmqpStatus): void {
    this.lastStatus = s;
    this.o.onStatus?.(s);
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.emit({ state: 'connecting' });
    let login: AmqpLoginParts;
    try {
      login = await this.o.login();
    } catch (err) {
      if (gen === this.generation) this.retry({ reason: 'credentials', detail: (err as Error).message });
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    const container = create_container({ id: this.o.containerId ?? (login.username?.split('|')[0] || `nr-amqp-${process.pid}`) });
    const options: Record<string, unknown> = {
      host: this.o.host,
      port: this.o.port,
      reconnect: false,
      idle_time_out: this.o.idleTimeoutMs,
      hostname: this.o.host,
    };
    if (login.username !== undefined) {
      options.username = login.username;
      options.password = login.password ?? '';
    }
    if (this.o.tls) {
      const tls: ConnectionOptions = { servername: this.o.servername ?? (/^[\d.:]+$/.test(this.o.host) ? '' : this.o.host) };
      if (this.o.ca) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { rootCertificates } = require('node:tls') as typeof import('node:tls');
        tls.ca = [...rootCertificates, this.o.ca.toString()];
      }
      Object.assign(options, { transport: 'tls' }, tls);
    }
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed || gen !== this.generation) return;
      failed = true;
      const c = this.connection;
      this.connection = undefined;
      this.receiver = undefined;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      c?.socket?.destroy();
      if (!this.stopped) this.retry(classifyAmqpError(err));
    };
    let connection: Connection;
    try {
      connection = container.connect(options as unknown as Parameters<typeof container.connect>[0]);
    } catch (err) {
      fail(err);
      return;
    }
    this.connection = connection;
    this.connectTimer = setTimeout(() => fail({ message: `no answer within ${this.o.connectTimeoutMs ?? 20_000} ms` }), this.o.connectTimeoutMs ?? 20_000);
    connection.on('connection_open', () => {
      if (gen !== this.generation) return;
      // One receiver per connection, opened at once (the platform closes a connection without one within 15 s).
      const receiver = connection.open_receiver({ source: { address: this.o.address ?? '' }, credit_window: 0, autoaccept: false });
      this.receiver = receiver;
      receiver.on('receiver_open', () => {
        if (gen !== this.generation) return;
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.attempt = 0;
        receiver.add_credit(Math.max(1, this.o.prefetch));
        this.emit({ state: 'connected' });
      });
      receiver.on('message', (ctx: EventContext) => this.deliver(gen, receiver, ctx));
      receiver.on('receiver_close', (ctx: EventContext) => fail(ctx.receiver?.error ?? { message: 'the receiver was closed by the peer' }));
      receiver.on('receiver_error', (ctx: EventContext) => fail(ctx.receiver?.error ?? { message: 'receiver error' }));
    });
    connection.on('connection_error', (ctx: EventContext) => fail(ctx.connection.error ?? (ctx as { error?: unknown }).error));
    connection.on('connection_close', (ctx: EventContext) => fail(ctx.connection.error ?? { message: 'the peer closed the connection' }));
    connection.on('disconnected', (ctx: EventContext) => fail(ctx.error ?? ctx.connection.error ?? { message: 'disconnected' }));
    connection.on('error', (ctx: EventContext) => fail((ctx as { error?: unknown }).error ?? { message: 'connection error' }));
  }

  private retry(why: { reason: AmqpTrouble; detail: string }): void {
    if (this.stopped) return;
    const { initial, max } = this.o.backoffMs ?? { initial: 1000, max: 60_000 };
    const wait = backoffDelay(this.attempt++, initial, max);
    this.emit({ state: 'retrying', reason: why.reason, detail: why.detail, retryInMs: wait });
    if (this.timer) clearTimeout(this.timer);
    const gen = this.generation;
    this.timer = setTimeout(() => {
      if (!this.stopped && gen === this.generation) void this.connect();
    }, wait);
  }

  private deliver(gen: number, receiver: Receiver, ctx: EventContext): void {
    const delivery = ctx.delivery as Delivery;
    const m = ctx.message!;
    let settled = false;
    const settle = (accept: boolean): void => {
      if (settled) return;
      settled = true;
      if (gen !== this.generation || !receiver.is_open() || !receiver.connection.is_open()) return; // the peer redelivers
      if (accept) delivery.accept();
      else delivery.release();
      receiver.add_credit(1);
    };
    const props = (m.application_properties ?? {}) as Record<string, unknown>;
    this.o.onMessage({
      body: amqpBodyBytes(m.body),
      properties: props,
      messageId: m.message_id === undefined || m.message_id === null ? undefined : String(m.message_id),
      subject: typeof m.subject === 'string' ? m.subject : undefined,
      accept: () => settle(true),
      release: () => settle(false),
    });
  }
}

/** msg.iot as set by the AMQP subscription: the device-in shape; fields the message cannot fill are absent. */
export interface AmqpIotMeta {
  productKey?: string;
  deviceName?: string;
  topic?: string;
  topicClass?: TopicClass;
  messageId: string;
  receivedAt: number;
  qos: number;
  raw: Buffer;
}

export interface AmqpIotMessage {
  topic?: string;
  payload: unknown;
  iot: AmqpIotMeta;
  /** False when the IoT application properties (topic, messageId, generateTime) were missing. */
  complete: boolean;
}

function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\d{1,16}$/.test(v)) return Number(v);
  return undefined;
}

/**
 * What a received message becomes: msg.topic, msg.payload per the payload format, and msg.iot with productKey,
 * deviceName and topicClass from the `topic` property, messageId from the `messageId` property (else the AMQP
 * message-id, the Alink id, or a generated one), receivedAt from `generateTime` (else now).
 */
export function amqpToIotMessage(m: Pick<ReceivedAmqpMessage, 'body' | 'properties' | 'messageId' | 'subject'>, format: PayloadFormat, now = Date.now()): AmqpIotMessage {
  const payload = decodePayload(m.body, format);
  const topic = typeof m.properties.topic === 'string' && m.properties.topic ? m.properties.topic : undefined;
  const propId = m.properties.messageId;
  const generateTime = numberOf(m.properties.generateTime);
  const complete = topic !== undefined && propId !== undefined && generateTime !== undefined;
  const messageId =
    (propId !== undefined && propId !== null && String(propId)) ||
    m.messageId ||
    alinkId(format === 'auto' ? payload : undefined) ||
    generateMessageId(now);
  const iot: AmqpIotMeta = { messageId, receivedAt: generateTime ?? now, qos: numberOf(m.properties.qos) ?? 0, raw: m.body };
  if (topic !== undefined) {
    const t = parseTopic(topic);
    iot.topic = topic;
    iot.topicClass = t.topicClass;
    if (t.productKey !== undefined) iot.productKey = t.productKey;
    if (t.deviceName !== undefined) iot.deviceName = t.deviceName;
  }
  const out: AmqpIotMessage = { payload, iot, complete };
  if (topic !== undefined) out.topic = topic;
  return out;
}

/** Parses `amqp[s]://host[:port]` (a bare host means amqps on 5671). Throws with what to fix. */
export function parseAmqpEndpoint(text: string): { host: string; port: number; tls: boolean } {
  const raw = (text ?? '').trim();
  if (!raw) throw new Error('the AMQP endpoint is empty: enter the host from the console, or amqps://host:5671');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `amqps://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`the AMQP endpoint "${raw.replace(/\/\/[^@/]*@/, "//…@")}" is not a host name or an amqp(s):// URL`);
  }
  if (url.username || url.password) throw new Error('the AMQP endpoint must not contain a user name or password: put them in the credentials fields');
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') throw new Error(`the AMQP endpoint must start with amqps:// or amqp://, not ${url.protocol}//`);
  const tls = url.protocol === 'amqps:';
  const port = url.port ? Number(url.port) : tls ? 5671 : 5672;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, tls };
}
