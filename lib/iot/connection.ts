// One MQTT connection shared by several users (the IoT device in / out nodes of one broker config node):
// ref-counted subscriptions routed so every user gets each message once, our own capped and jittered reconnect,
// refused logins and "kicked by the same client ID" recognised, persistent sessions. No Node-RED here.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { connect, type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { checkKeepalive, DeviceConfigError, deviceEndpoint, isSignMethod, signDevice, type SignMethod } from './signing';
import { checkTopicName, parseTopicFilter } from './topics';
import { TopicIndex } from './topic-index';
import { redactUrl, refuseUserInfo } from '../url-safety';

export interface TlsOptions {
  /** PEM text of the CA(s) to trust; default the system store. */
  ca?: string;
  /** PEM client certificate and key for mutual TLS. The key is a secret. */
  cert?: string;
  key?: string;
  /** Verify the server certificate (default true). */
  rejectUnauthorized?: boolean;
}

export interface BackoffOptions {
  /** First retry delay (default 1000 ms). */
  initialMs?: number;
  /** Cap of the retry delay (default 60 000 ms). */
  maxMs?: number;
  /** A connection that stays up this long resets the backoff (default 30 000 ms). */
  stableMs?: number;
  /** Delay after a kick by another connection with the same client ID (default 5 × maxMs). */
  kickedMs?: number;
}

interface CommonOptions {
  tls?: TlsOptions;
  /** Seconds; default 60 (generic) / 300 (device). */
  keepalive?: number;
  /** Default true. false + a fixed client ID keeps the session (QoS 1 messages queue while we are away). */
  clean?: boolean;
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5. */
  protocolVersion?: 4 | 5;
  backoff?: BackoffOptions;
  /** Wait for CONNACK at most this long (default 10 000 ms). */
  connectTimeoutMs?: number;
}

export interface GenericConnectionOptions extends CommonOptions {
  mode: 'mqtt';
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  /** Default: a generated `nodered_…` ID (required when clean is false). */
  clientId?: string;
  username?: string;
  password?: string;
}

export interface DeviceConnectionOptions extends CommonOptions {
  mode: 'device';
  /** New public / Enterprise instance endpoint, e.g. iot-06z00xxxxxxx.mqtt.iothub.aliyuncs.com[:port]. */
  instanceEndpoint?: string;
  /** Region of the legacy public endpoint `${productKey}.iot-as-mqtt.${region}.aliyuncs.com`. */
  region?: string;
  productKey: string;
  deviceName: string;
  deviceSecret: string;
  signMethod?: SignMethod;
  /** 'tls' (securemode=2, default) or 'tcp' (securemode=3). */
  secureMode?: 'tls' | 'tcp';
  /** Default false; true uses MQTT over WebSocket. */
  websocket?: boolean;
  port?: number;
  /** The device's client ID; default `${productKey}.${deviceName}`. */
  clientId?: string;
}

export type ConnectionOptions = GenericConnectionOptions | DeviceConnectionOptions;

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'retrying' | 'refused' | 'kicked' | 'stopped';

export interface ConnectionStatus {
  state: ConnectionState;
  /** When a retry is scheduled: in how many ms (from `at`). */
  retryInMs?: number;
  /** Why we are not connected, in words safe to show (never a secret). */
  reason?: string;
  /** CONNACK return / reason code of a refused login. */
  code?: number;
  at: number;
}

/** A bad setting of the connection; the message says what to fix and never contains a secret. */
export class ConnectionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionConfigError';
  }
}

/** A publish that could not be handed to the broker. */
export class PublishError extends Error {
  readonly code: 'NOT_CONNECTED' | 'STOPPED' | 'REFUSED' | 'FAILED';
  constructor(code: PublishError['code'], message: string) {
    super(message);
    this.name = 'PublishError';
    this.code = code;
  }
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  receivedAt: number;
  /**
   * QoS 1/2 only, and only while the handler runs: takes the acknowledgement (PUBACK / PUBCOMP) into the caller's
   * hands. The connection acknowledges once every user that deferred has called the returned function with `true`;
   * one `false` leaves the message unacknowledged, so the broker redelivers it on the next connection (MQTT
   * redelivers only then). Acknowledgements of QoS 1 messages go out in the order the messages arrived (MQTT 3.1.1
   * and 5 §4.6): a later message's PUBACK waits for the earlier ones to be acknowledged or given up.
   */
  defer?: () => (safe: boolean) => void;
}

/** One QoS 1/2 message whose acknowledgement may be deferred by its users. */
interface PendingAck {
  messageId: number;
  qos: 1 | 2;
  /** The connection (count of CONNACKs) it arrived on; an acknowledgement never goes out on a later one. */
  generation: number;
  packet: IPublishPacket;
  deferred: boolean;
  holds: number;
  unsafe: boolean;
  /** mqtt.js has handed the acknowledgement to us (handleMessage ran). */
  registered: boolean;
  state: 'open' | 'ack' | 'drop';
}

/** The mqtt.js 5 members the deferred acknowledgement uses (the ones its own handlers use after handleMessage). */
interface MqttInternals {
  incomingStore: { del(packet: IPublishPacket, cb: () => void): void };
  _releaseIncomingQoS2Publish(messageId: number): void;
  _sendPacket(packet: { cmd: 'puback' | 'pubcomp'; messageId: number }): void;
}

/** Passed to mqtt.js' handleMessage callback: do not acknowledge now (we may do it later, or never). */
const NOT_NOW = new Error('acknowledgement deferred');

export interface SubscriptionHandlers {
  onMessage(message: IncomingMessage): void;
  /** The broker refused this subscription (SUBACK failure code), e.g. an ACL. */
  onRefused?(subscription: string, code: number): void;
  /** The broker granted it (called after every (re)subscribe). */
  onGranted?(subscription: string, qos: number): void;
}

interface UserSub {
  ref: string;
  subscription: string;
  filter: string;
  /** The filter's levels, split once. */
  levels: string[];
  shared: boolean;
  qos: 0 | 1 | 2;
  /** Undefined while the user is detached (closed for a restart): its subscription stays at the broker. */
  handlers: SubscriptionHandlers | undefined;
}

/**
 * A message that matched a detached user, or no user while unrouted messages are held (a (re)start in progress).
 * mqtt.js hands messages over one at a time and acknowledges (QoS 1 PUBACK, QoS 2 PUBCOMP) only when our
 * handleMessage calls back, so the connection waits here, unacknowledged, until those users come back (a redeploy),
 * are purged, or the connection closes (then the broker redelivers it).
 */
interface Waiting {
  message: IncomingMessage;
  packet: IPublishPacket;
  ids: number[] | undefined;
  levels: string[];
  /** Refs of the users that got it. */
  got: Set<string>;
  release?: (err?: Error) => void;
}

/** What onMessage decided for a packet; read by handleMessage, which runs right after it for the same packet. */
type Verdict = 'ack' | 'refuse' | Waiting;

interface BrokerSub {
  qos: 0 | 1 | 2;
  /** MQTT 5 subscription identifier. */
  id: number;
}

/** What the MQTT client is given; the password is a secret. */
export interface ResolvedConnection {
  url: string;
  clientOptions: IClientOptions;
  /** For display: where we connect, without credentials. */
  display: string;
  device?: { productKey: string; deviceName: string };
  clientId: string;
}

const NOT_AUTHORIZED_V3 = new Set([4, 5]);
/** The Receive Maximum an MQTT 5 connection announces. */
export const RECEIVE_MAXIMUM = 1000;
const NOT_AUTHORIZED_V5 = new Set([0x86, 0x87, 0x8c]);

function randomClientId(): string {
  return `nodered_${randomBytes(6).toString('hex')}`;
}

function tlsFields(tls: TlsOptions | undefined): Partial<IClientOptions> {
  if (!tls) return {};
  const out: Record<string, unknown> = {};
  if (tls.ca && tls.ca.trim()) out.ca = tls.ca;
  if (tls.cert && tls.cert.trim()) out.cert = tls.cert;
  if (tls.key && tls.key.trim()) out.key = tls.key;
  if (tls.rejectUnauthorized === false) out.rejectUnauthorized = false;
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new ConnectionConfigError('TLS client certificate and key go together: set both or neither');
  }
  if (out.cert !== undefined) {
    // Node's TLS reads them only when the socket opens, and throws there (out of start()); read them now instead.
    // OpenSSL's words name the problem, never the key's content.
    try {
      createSecureContext({ cert: out.cert as string, key: out.key as string });
    } catch (err) {
      throw new ConnectionConfigError(
        `TLS client certificate or key is not usable (${(err as Error).message}): paste both as PEM text, the key unencrypted and matching the certificate`,
      );
    }
  }
  return out as Partial<IClientOptions>;
}

/** Validates the options and computes what the MQTT client gets (device login signed per the spec). */
export function resolveConnection(options: ConnectionOptions, now: number = Date.now()): ResolvedConnection {
  const protocolVersion = options.protocolVersion ?? 4;
  if (protocolVersion !== 4 && protocolVersion !== 5) {
    throw new ConnectionConfigError(`MQTT protocol version ${JSON.stringify(protocolVersion)} is not supported: use 4 (3.1.1) or 5`);
  }
  const clean = options.clean ?? true;
  const base: IClientOptions = {
    protocolVersion,
    clean,
    reconnectPeriod: 0,
    resubscribe: false,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    ...tlsFields(options.tls),
  };
  // MQTT 5 ends a session at DISCONNECT unless a session expiry interval says otherwise: with clean session off,
  // keep it (0xFFFFFFFF = never expires, the MQTT 3.1.1 behaviour; a broker may cap it).
  if (protocolVersion === 5 && !clean) base.properties = { sessionExpiryInterval: 0xffffffff };
  // MQTT 5: announce how many QoS 1/2 messages may be unacknowledged at once. Acknowledging when the flow has
  // finished keeps messages unacknowledged for longer, so a generous window keeps the stream flowing. (MQTT 3.1.1
  // has no such property: the broker's own limit applies, e.g. Mosquitto's max_inflight_messages, default 20.)
  if (protocolVersion === 5) base.properties = { ...base.properties, receiveMaximum: RECEIVE_MAXIMUM };
  if (options.mode === 'mqtt') {
    // The broker has its own username and password fields: user:password@ in the URL is refused before anything
    // quotes the URL, and the URL is quoted only through redactUrl.
    const text = String(options.url ?? '');
    refuseUserInfo(text, 'the broker URL', 'put the username and password in their own fields', (m) => new ConnectionConfigError(m));
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConnectionConfigError(`broker URL ${JSON.stringify(redactUrl(text))} is not a URL: use e.g. mqtt://host:1883 or mqtts://host:8883`);
    }
    const scheme = url.protocol.replace(/:$/, '');
    if (!['mqtt', 'mqtts', 'ws', 'wss'].includes(scheme)) {
      throw new ConnectionConfigError(`broker URL scheme "${scheme}" is not supported: use mqtt, mqtts, ws or wss`);
    }
    if (url.username || url.password) {
      throw new ConnectionConfigError('put the username and password in their own fields, not in the broker URL');
    }
    const keepalive = options.keepalive ?? 60;
    if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535) {
      throw new ConnectionConfigError(`keepalive ${JSON.stringify(keepalive)} s is not valid: 0-65535`);
    }
    const fixedId = options.clientId?.trim();
    if (!clean && !fixedId) {
      throw new ConnectionConfigError('a persistent session (clean session off) needs a fixed client ID: set the client ID');
    }
    const clientId = fixedId || randomClientId();
    const clientOptions: IClientOptions = { ...base, keepalive, clientId };
    if (options.username) clientOptions.username = options.username;
    if (options.password) clientOptions.password = options.password;
    return { url: url.toString(), clientOptions, display: `${scheme}://${url.host}`, clientId };
  }
  if (options.mode !== 'device') {
    throw new ConnectionConfigError(`connection mode ${JSON.stringify((options as { mode?: unknown }).mode)} is unknown: use mqtt or device`);
  }
  try {
    const keepalive = checkKeepalive(options.keepalive ?? 300);
    const secure = (options.secureMode ?? 'tls') === 'tls';
    if (options.secureMode !== undefined && options.secureMode !== 'tls' && options.secureMode !== 'tcp') {
      throw new DeviceConfigError(`secure mode ${JSON.stringify(options.secureMode)} is not supported: use tls or tcp`);
    }
    if (options.signMethod !== undefined && !isSignMethod(options.signMethod)) {
      throw new DeviceConfigError(`sign method ${JSON.stringify(options.signMethod)} is not supported: use hmacsha256, hmacsha1 or hmacmd5`);
    }
    const transport = options.websocket ? (secure ? 'wss' : 'ws') : secure ? 'mqtts' : 'mqtt';
    const endpoint = deviceEndpoint({
      instanceHost: options.instanceEndpoint,
      region: options.region,
      productKey: options.productKey,
      transport,
      port: options.port,
    });
    const login = signDevice({
      productKey: options.productKey,
      deviceName: options.deviceName,
      deviceSecret: options.deviceSecret,
      signMethod: options.signMethod ?? 'hmacsha256',
      secureMode: endpoint.secureMode,
      // A persistent session is found again by its MQTT client ID, so leave the (optional) timestamp out of it then.
      timestamp: clean ? now : null,
      clientId: options.clientId?.trim() || undefined,
    });
    const clientOptions: IClientOptions = {
      ...base,
      keepalive,
      clientId: login.clientId,
      username: login.username,
      password: login.password,
    };
    return {
      url: endpoint.url,
      clientOptions,
      display: endpoint.url,
      device: { productKey: options.productKey, deviceName: options.deviceName },
      clientId: login.clientId,
    };
  } catch (err) {
    if (err instanceof DeviceConfigError) throw new ConnectionConfigError(err.message);
    throw err;
  }
}

/** True when every topic matching `inner` also matches `outer` (neither is a shared subscription). */
export function filterCovers(outer: string, inner: string): boolean {
  const a = outer.split('/');
  const b = inner.split('/');
  if (b[0]?.startsWith('$') && (a[0] === '+' || a[0] === '#')) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= b.length || b[i] === '#') return false;
    if (a[i] === '+') continue;
    if (a[i] !== b[i]) return false;
  }
  return a.length === b.length;
}

function maxQos(a: 0 | 1 | 2, b: 0 | 1 | 2): 0 | 1 | 2 {
  return a > b ? a : b;
}

/**
 * One MQTT connection for many users. Events: 'status' (ConnectionStatus), 'unrouted' (IncomingMessage with no
 * user), 'log' ({ level, message }).
 */
export class IotConnection extends EventEmitter {
  readonly resolved: ResolvedConnection;
  private readonly backoff: Required<BackoffOptions>;
  private readonly protocolVersion: 4 | 5;
  private client: MqttClient | undefined;
  private current: ConnectionStatus = { state: 'idle', at: Date.now() };
  private readonly users = new Map<string, UserSub>();
  /** The users by filter: a message meets only the users whose filter can match it (see topic-index.ts). */
  private readonly index = new TopicIndex<UserSub>();
  /** What we subscribed at the broker on this connection. */
  private readonly active = new Map<string, BrokerSub>();
  private nextSubId = 1;
  private readonly subIds = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private shortLived = 0;
  private connectedAt: number | undefined;
  private sessionTakenOver = false;
  private refusal: { code: number; reason: string } | undefined;
  private lastError: string | undefined;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private readonly verdicts = new WeakMap<object, Verdict>();
  private readonly pendingAcks = new WeakMap<object, PendingAck>();
  /** QoS 1 messages of this connection whose PUBACK is ours to send, in arrival order. */
  private ackQueue: PendingAck[] = [];
  /** Deferred acknowledgements not yet given (QoS 1 and 2), for status and tests. */
  deferredAcks = 0;
  private waiting: Waiting | undefined;
  private holding = false;
  /** Messages not acknowledged because the connection was closing or they waited for a detached user. */
  unacknowledged = 0;
  /** How many times the client connected (CONNACK accepted); for tests and diagnostics. */
  connects = 0;
  /** Messages that matched no user. */
  unrouted = 0;

  constructor(options: ConnectionOptions) {
    super();
    this.resolved = resolveConnection(options);
    this.protocolVersion = options.protocolVersion ?? 4;
    const maxMs = options.backoff?.maxMs ?? 60_000;
    this.backoff = {
      initialMs: options.backoff?.initialMs ?? 1000,
      maxMs,
      stableMs: options.backoff?.stableMs ?? 30_000,
      kickedMs: options.backoff?.kickedMs ?? maxMs * 5,
    };
  }

  get status(): ConnectionStatus {
    return { ...this.current };
  }

  /** True once stop() was called: this connection will not connect again. */
  get isStopped(): boolean {
    return this.stopping;
  }

  get connected(): boolean {
    return this.current.state === 'connected';
  }

  private setStatus(s: Omit<ConnectionStatus, 'at'>): void {
    this.current = { ...s, at: Date.now() };
    this.emit('status', this.status);
  }

  /** Connects (idempotent). */
  start(): void {
    if (this.stopping || this.client) return;
    this.setStatus({ state: 'connecting' });
    const client = connect(this.resolved.url, this.resolved.clientOptions);
    this.client = client;
    client.on('connect', (connack) => this.onConnect(Boolean(connack.sessionPresent)));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    // mqtt.js calls this after 'message' and before it acknowledges (QoS 1 PUBACK, QoS 2 PUBCOMP); calling back
    // with an error leaves the message unacknowledged, so the broker redelivers it on the next connection (with a
    // persistent session, after a restart of Node-RED too). Works for MQTT 3.1.1 and 5 alike.
    client.handleMessage = (packet, callback) => this.settle(packet, callback);
    client.on('error', (err: Error & { code?: number | string }) => this.onError(err));
    client.on('disconnect', (packet) => {
      // MQTT 5: the server says why it closes; 0x8E = session taken over (same client ID elsewhere).
      if (packet.reasonCode === 0x8e) this.sessionTakenOver = true;
    });
    client.on('close', () => this.onClose());
  }

  private onConnect(sessionPresent: boolean): void {
    this.connects++;
    this.connectedAt = Date.now();
    this.refusal = undefined;
    this.lastError = undefined;
    this.sessionTakenOver = false;
    this.active.clear();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = undefined;
      this.attempt = 0;
      this.shortLived = 0;
    }, this.backoff.stableMs);
    this.setStatus({ state: 'connected' });
    this.emit('log', { level: 'debug', message: `connected to ${this.resolved.display} (session present: ${sessionPresent})` });
    this.syncSubscriptions();
  }

  private onError(err: Error & { code?: number | string }): void {
    if (typeof err.code === 'number') {
      const v5 = this.protocolVersion === 5;
      const notAuthorized = v5 ? NOT_AUTHORIZED_V5.has(err.code) : NOT_AUTHORIZED_V3.has(err.code);
      let reason: string;
      if (notAuthorized) {
        reason = this.resolved.device ? 'not authorized: check deviceSecret and sign method' : 'not authorized: check username and password';
      } else if ((!v5 && err.code === 2) || (v5 && err.code === 0x85)) {
        reason = 'client ID rejected by the broker (check the client ID and keepalive)';
      } else if ((!v5 && err.code === 3) || (v5 && err.code === 0x88)) {
        reason = 'server unavailable';
      } else if ((!v5 && err.code === 1) || (v5 && err.code === 0x84)) {
        reason = 'protocol version not accepted: try MQTT 3.1.1';
      } else {
        reason = `connection refused (code ${err.code})`;
      }
      this.refusal = { code: err.code, reason };
      return;
    }
    this.lastError = typeof err.code === 'string' ? err.code : err.message;
  }

  private onClose(): void {
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
    this.releaseWaiting('the connection closed');
    this.dropAcks();
    if (this.stopping) return;
    const wasConnected = this.connectedAt !== undefined;
    const lifetime = wasConnected ? Date.now() - (this.connectedAt as number) : 0;
    this.connectedAt = undefined;
    this.active.clear();
    if (wasConnected && lifetime < this.backoff.stableMs) this.shortLived++;
    if (this.retryTimer) return; // already scheduled (close after error)
    let delay: number;
    if (this.refusal) {
      delay = this.nextDelay();
      this.setStatus({ state: 'refused', reason: this.refusal.reason, code: this.refusal.code, retryInMs: delay });
    } else if (wasConnected && (this.sessionTakenOver || this.shortLived >= 2)) {
      // Closed right after a good login, again: another connection uses our client ID. Back off hard, so the two
      // don't take turns kicking each other.
      delay = jitter(this.backoff.kickedMs);
      this.setStatus({
        state: 'kicked',
        reason: 'kicked: another connection uses this client ID',
        retryInMs: delay,
      });
    } else {
      delay = this.nextDelay();
      const reason = wasConnected ? 'connection lost' : this.lastError ? `cannot connect: ${this.lastError}` : 'cannot connect';
      this.setStatus({ state: 'retrying', reason, retryInMs: delay });
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopping || !this.client) return;
      this.setStatus({ state: 'connecting' });
      this.client.reconnect();
    }, delay);
  }

  private nextDelay(): number {
    const exp = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return jitter(exp);
  }

  // ---- subscriptions ---------------------------------------------------------------------------------------------

  /**
   * Adds (or replaces) the subscription of one user. Throws a TopicError for a bad filter.
   * Each distinct filter is subscribed once; each message reaches every matching user once.
   */
  subscribe(ref: string, subscription: string, qos: 0 | 1 | 2, handlers: SubscriptionHandlers): void {
    const parsed = parseTopicFilter(subscription);
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new ConnectionConfigError(`QoS ${JSON.stringify(qos)} is not valid: 0, 1 or 2`);
    const user: UserSub = { ref, subscription, filter: parsed.filter, levels: parsed.filter.split('/'), shared: parsed.shareGroup !== undefined, qos, handlers };
    const before = this.users.get(ref);
    if (before) this.index.remove(before.filter, before);
    this.users.set(ref, user);
    this.index.add(user.filter, user);
    if (this.connected) this.syncSubscriptions();
    this.recheckWaiting();
  }

  unsubscribe(ref: string): void {
    const user = this.users.get(ref);
    if (!user) return;
    this.users.delete(ref);
    this.index.remove(user.filter, user);
    if (this.connected) this.syncSubscriptions();
    this.recheckWaiting();
  }

  /**
   * While on, every message waits (unacknowledged) instead of being handed to a user or counted as unrouted: for the
   * time the users and the nodes behind them are being (re)created, e.g. a persistent session delivering right after
   * CONNACK while Node-RED is still creating the flow. Turning it off lets a waiting message go on.
   */
  holdUnrouted(on: boolean): void {
    this.holding = on;
    if (!on) this.recheckWaiting();
  }

  /**
   * Takes the user's handlers away but keeps its subscription at the broker (no UNSUBSCRIBE): for a node that is
   * only restarting. Messages for it wait unacknowledged until subscribe() with the same ref brings it back.
   */
  detach(ref: string): void {
    const u = this.users.get(ref);
    if (u) u.handlers = undefined;
  }

  /** Refs of the users that are detached. */
  detachedUsers(): string[] {
    return [...this.users.values()].filter((u) => !u.handlers).map((u) => u.ref);
  }

  /** The broker-level subscriptions the current users need. */
  wantedSubscriptions(): Map<string, 0 | 1 | 2> {
    const distinct = new Map<string, { qos: 0 | 1 | 2; filter: string; shared: boolean }>();
    for (const u of this.users.values()) {
      const prev = distinct.get(u.subscription);
      distinct.set(u.subscription, { qos: prev ? maxQos(prev.qos, u.qos) : u.qos, filter: u.filter, shared: u.shared });
    }
    const wanted = new Map<string, 0 | 1 | 2>();
    if (this.protocolVersion === 5) {
      // Subscription identifiers tell which subscriptions a message came through: no need to merge.
      for (const [s, d] of distinct) wanted.set(s, d.qos);
      return wanted;
    }
    // MQTT 3.1.1: a broker may send one copy per matching subscription and there is no way to tell them apart,
    // so a filter covered by a broader one is not subscribed itself; the broader one carries the highest QoS.
    const plain = [...distinct.entries()].filter(([, d]) => !d.shared);
    for (const [s, d] of distinct) {
      if (d.shared) {
        wanted.set(s, d.qos);
        continue;
      }
      const cover = plain.find(([o]) => o !== s && filterCovers(o, s) && !(filterCovers(s, o) && o > s));
      if (!cover) wanted.set(s, d.qos);
    }
    for (const [s, d] of plain) {
      if (wanted.has(s)) continue;
      for (const [o] of wanted) {
        if (!distinct.get(o)?.shared && filterCovers(o, s)) wanted.set(o, maxQos(wanted.get(o) as 0 | 1 | 2, d.qos));
      }
    }
    return wanted;
  }

  private subIdFor(subscription: string): number {
    let id = this.subIds.get(subscription);
    if (id === undefined) {
      id = this.nextSubId++;
      this.subIds.set(subscription, id);
    }
    return id;
  }

  private syncSubscriptions(): void {
    const client = this.client;
    if (!client || !this.connected) return;
    const wanted = this.wantedSubscriptions();
    for (const [subscription, qos] of wanted) {
      const have = this.active.get(subscription);
      if (have && have.qos >= qos) continue;
      const id = this.subIdFor(subscription);
      this.active.set(subscription, { qos, id });
      const opts: { qos: 0 | 1 | 2; properties?: { subscriptionIdentifier: number } } = { qos };
      if (this.protocolVersion === 5) opts.properties = { subscriptionIdentifier: id };
      client.subscribe(subscription, opts, (err, granted) => {
        // mqtt.js reports a SUBACK failure code as an error carrying the SUBACK packet.
        const codes = (err as (Error & { packet?: { granted?: Array<number | { qos: number }> } }) | null)?.packet?.granted;
        if (err && Array.isArray(codes) && codes.length > 0) {
          const first = codes[0];
          this.reportGrant(subscription, typeof first === 'number' ? first : first.qos);
          return;
        }
        if (err) {
          if (!this.stopping) this.emit('log', { level: 'warn', message: `subscribe ${subscription} failed: ${err.message}` });
          return;
        }
        for (const g of granted ?? []) this.reportGrant(g.topic, g.qos);
      });
    }
    const gone = [...this.active.keys()].filter((s) => !wanted.has(s));
    for (const s of gone) {
      this.active.delete(s);
      client.unsubscribe(s, () => undefined);
    }
  }

  /** Tells the users behind a broker subscription whether it was granted. */
  private reportGrant(subscription: string, code: number): void {
    const refused = code >= 0x80;
    if (refused) this.active.delete(subscription);
    for (const u of this.users.values()) {
      const through = u.subscription === subscription || (!u.shared && !subscription.startsWith('$share/') && filterCovers(subscription, u.subscription));
      if (!through) continue;
      if (refused) u.handlers?.onRefused?.(u.subscription, code);
      else u.handlers?.onGranted?.(u.subscription, code);
    }
  }

  private matches(u: UserSub, ids: number[] | undefined, levels: string[], topic: string): boolean {
    if (ids) return ids.includes(this.subIds.get(u.subscription) ?? -1);
    return levelsMatch(u.levels, levels, topic);
  }

  private deliver(u: UserSub, message: IncomingMessage): boolean {
    if (!u.handlers) return false;
    try {
      u.handlers.onMessage(message);
    } catch (err) {
      this.emit('log', { level: 'error', message: `message handler failed: ${(err as Error).message}` });
    }
    return true;
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (this.stopping) {
      // Closing: nobody may take it any more. Not acknowledged, so the broker keeps it for the next connection.
      this.verdicts.set(packet, 'refuse');
      return;
    }
    const message: IncomingMessage = {
      topic,
      payload,
      qos: packet.qos,
      retain: packet.retain,
      receivedAt: Date.now(),
    };
    if (packet.qos > 0 && packet.messageId !== undefined) {
      const pa: PendingAck = {
        messageId: packet.messageId,
        qos: packet.qos as 1 | 2,
        generation: this.connects,
        packet,
        deferred: false,
        holds: 0,
        unsafe: false,
        registered: false,
        state: 'open',
      };
      this.pendingAcks.set(packet, pa);
      message.defer = () => this.deferAck(pa);
    }
    let ids: number[] | undefined;
    const sid = packet.properties?.subscriptionIdentifier;
    if (sid !== undefined) ids = Array.isArray(sid) ? sid : [sid];
    if (this.holding) {
      // A (re)start is in progress: Node-RED creates the nodes one by one, so those behind a user may not exist yet
      // and would lose what it sends. Nobody gets it (unacknowledged) until holding ends.
      this.verdicts.set(packet, { message, packet, ids, levels: ids ? [] : topic.split('/'), got: new Set() });
      return;
    }
    let delivered = 0;
    let detached = false;
    const levels = ids ? [] : topic.split('/');
    const candidates = this.index.match(topic); // a superset of the users this message is for; matches() decides
    for (const u of candidates) {
      if (!this.matches(u, ids, levels, topic)) continue;
      if (this.deliver(u, message)) delivered++;
      else detached = true;
    }
    if (detached || (delivered === 0 && this.holding)) {
      const got = new Set<string>();
      if (delivered > 0) for (const u of candidates) if (u.handlers && this.matches(u, ids, levels, topic)) got.add(u.ref);
      this.verdicts.set(packet, { message, packet, ids, levels, got });
      return;
    }
    this.verdicts.set(packet, 'ack');
    if (delivered === 0) {
      this.unrouted++;
      this.emit('unrouted', message);
    }
  }

  /** mqtt.js' handleMessage: acknowledge (callback()) or not (callback(err)); a waiting message holds the callback. */
  private settle(packet: IPublishPacket, callback: (err?: Error) => void): void {
    const verdict = this.verdicts.get(packet);
    this.verdicts.delete(packet);
    if (verdict === undefined || verdict === 'ack') {
      this.acknowledge(packet, callback);
    } else if (verdict === 'refuse' || this.stopping || !this.client?.connected) {
      if (packet.qos > 0) this.unacknowledged++;
      callback(new Error('not acknowledged: the connection is closing'));
    } else {
      verdict.release = callback;
      this.waiting = verdict;
      this.recheckWaiting();
    }
  }

  /**
   * The users changed or holding ended: give the waiting message to users that (re)attached and match it; once no
   * detached user matches (and it reached one, or nothing is held any more), acknowledge it.
   */
  private recheckWaiting(): void {
    const w = this.waiting;
    if (!w || this.holding) return;
    let detached = false;
    for (const u of this.users.values()) {
      if (w.got.has(u.ref) || !this.matches(u, w.ids, w.levels, w.message.topic)) continue;
      if (this.deliver(u, w.message)) w.got.add(u.ref);
      else detached = true;
    }
    if (detached || (w.got.size === 0 && this.holding)) return;
    this.waiting = undefined;
    if (w.got.size === 0) {
      this.unrouted++;
      this.emit('unrouted', w.message);
    }
    const release = w.release;
    if (release) this.acknowledge(w.packet, release);
  }

  /** Lets the connection go on without acknowledging the waiting message (the broker redelivers it). */
  private releaseWaiting(why: string): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = undefined;
    if (w.message.qos > 0) this.unacknowledged++;
    w.release?.(new Error(`not acknowledged: ${why}`));
  }

  // ---- acknowledgements ------------------------------------------------------------------------------------------

  private deferAck(pa: PendingAck): (safe: boolean) => void {
    if (pa.registered && !pa.deferred) throw new Error('defer() is only possible while the message handler runs');
    if (!pa.deferred) this.deferredAcks++;
    pa.deferred = true;
    pa.holds++;
    let called = false;
    return (safe: boolean) => {
      if (called) return;
      called = true;
      if (!safe) pa.unsafe = true;
      pa.holds--;
      if (pa.holds > 0) return;
      if (pa.state === 'open') this.deferredAcks--;
      pa.state = pa.unsafe ? 'drop' : 'ack';
      if (pa.registered) this.flushAcks(pa);
    };
  }

  /**
   * mqtt.js asks whether to acknowledge now. Yes (callback()) when no user deferred it and no earlier QoS 1
   * acknowledgement is still pending; otherwise we take the acknowledgement over (callback(NOT_NOW) keeps mqtt.js
   * from sending it, and lets it go on to the next packet, so many messages can be in flight).
   */
  private acknowledge(packet: IPublishPacket, callback: (err?: Error) => void): void {
    const pa = this.pendingAcks.get(packet);
    this.pendingAcks.delete(packet);
    if (!pa || (!pa.deferred && (pa.qos === 2 || this.ackQueue.length === 0))) {
      if (pa && pa.generation !== this.connects) callback(NOT_NOW); // arrived on a connection that has closed since
      else callback();
      return;
    }
    callback(NOT_NOW);
    pa.registered = true;
    if (!pa.deferred) pa.state = 'ack';
    if (pa.qos === 1) this.ackQueue.push(pa);
    this.flushAcks(pa);
  }

  /** Sends what can be sent: QoS 1 PUBACKs from the head of the queue in order, a QoS 2 PUBCOMP as it is decided. */
  private flushAcks(changed: PendingAck): void {
    // mqtt.js' own acknowledgement path (used by handlePublish / handlePubrel after handleMessage calls back).
    const client = this.client as unknown as MqttInternals | undefined;
    const live = (pa: PendingAck): boolean => Boolean(client && this.connected && pa.generation === this.connects);
    if (changed.qos === 2) {
      if (changed.state === 'open' || !changed.registered) return;
      if (changed.state === 'drop' || !live(changed)) {
        this.unacknowledged++;
        return;
      }
      const c = client as MqttInternals;
      c.incomingStore.del(changed.packet, () => undefined);
      c._releaseIncomingQoS2Publish(changed.messageId);
      c._sendPacket({ cmd: 'pubcomp', messageId: changed.messageId });
      return;
    }
    while (this.ackQueue.length > 0 && this.ackQueue[0].state !== 'open') {
      const pa = this.ackQueue.shift() as PendingAck;
      if (pa.state === 'drop' || !live(pa)) {
        this.unacknowledged++;
        continue;
      }
      (client as MqttInternals)._sendPacket({ cmd: 'puback', messageId: pa.messageId });
    }
  }

  /** The connection closed: nothing of it can be acknowledged any more; the broker redelivers it (persistent session). */
  private dropAcks(): void {
    for (const pa of this.ackQueue) {
      if (pa.state === 'open') this.deferredAcks--;
      pa.state = 'drop';
      this.unacknowledged++;
    }
    this.ackQueue = [];
  }

  /** Unsubscribes the users still detached (they did not come back after a restart); returns their refs. */
  purgeDetached(): string[] {
    const refs = this.detachedUsers();
    for (const ref of refs) this.unsubscribe(ref);
    return refs;
  }

  // ---- publish ---------------------------------------------------------------------------------------------------

  /**
   * Publishes; waits up to `waitMs` (default 10 s) for the connection when it is down, then fails without sending.
   * QoS 1/2 resolve on the broker's acknowledgement.
   */
  async publish(topic: string, payload: Buffer | string, options: { qos?: 0 | 1 | 2; retain?: boolean; waitMs?: number } = {}): Promise<void> {
    checkTopicName(topic);
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new PublishError('FAILED', `QoS ${JSON.stringify(qos)} is not valid: 0, 1 or 2`);
    if (this.stopping) throw new PublishError('STOPPED', 'the broker connection is closed');
    if (!this.connected) await this.waitConnected(options.waitMs ?? 10_000);
    const client = this.client as MqttClient;
    const opts: IClientPublishOptions = { qos, retain: options.retain ?? false };
    await new Promise<void>((resolve, reject) => {
      client.publish(topic, payload, opts, (err, packet) => {
        if (err) {
          reject(new PublishError('FAILED', `publish to ${topic} failed: ${err.message}`));
          return;
        }
        const rc = (packet as { reasonCode?: number } | undefined)?.reasonCode;
        if (rc !== undefined && rc >= 0x80) {
          reject(new PublishError('REFUSED', `the broker refused the publish to ${topic} (reason code 0x${rc.toString(16)})`));
          return;
        }
        resolve();
      });
    });
  }

  private waitConnected(waitMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.off('status', onStatus);
        if (err) reject(err);
        else resolve();
      };
      const onStatus = (s: ConnectionStatus): void => {
        if (s.state === 'connected') done();
        else if (s.state === 'stopped') done(new PublishError('STOPPED', 'the broker connection is closed'));
      };
      const timer = setTimeout(() => {
        const why = this.current.reason ? ` (${this.current.reason})` : '';
        done(new PublishError('NOT_CONNECTED', `not connected to ${this.resolved.display} after ${waitMs} ms${why}; message not sent`));
      }, waitMs);
      this.on('status', onStatus);
    });
  }

  // ---- stop ------------------------------------------------------------------------------------------------------

  /** Disconnects (a clean DISCONNECT, keeping a persistent session) and clears every timer. Idempotent. */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopping = true;
    this.releaseWaiting('the connection is closing');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.retryTimer = undefined;
    this.stableTimer = undefined;
    const client = this.client;
    this.stopPromise = (async () => {
      if (client) {
        let timer: NodeJS.Timeout | undefined;
        const graceful = client.endAsync(false).catch(() => undefined);
        const bounded = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), 2000);
        });
        const result = await Promise.race([graceful, bounded]);
        clearTimeout(timer);
        if (result === 'timeout') await client.endAsync(true).catch(() => undefined);
      }
      this.setStatus({ state: 'stopped' });
      this.removeAllListeners('status');
    })();
    return this.stopPromise;
  }
}

/** MQTT matching on pre-split levels (same rules as topics.topicMatches: `#` also matches the parent, `$` topics
 * are not matched by a leading wildcard). */
function levelsMatch(f: string[], t: string[], topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A delay between half and all of `ms`, so that many clients do not retry in step. */
function jitter(ms: number): number {
  return Math.round(ms / 2 + Math.random() * (ms / 2));
}
