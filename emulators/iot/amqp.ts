// The local stand-in of the IoT Platform's AMQP 1.0 server-side subscription (../shared/spec/iot-device.md §4.4,
// §4.7), built on rhea's container as a listener, independent of lib/:
// - SASL PLAIN with Alibaba's username `clientId|iotInstanceId=…,authMode=aksign|ststoken[,securityToken=…],
//   signMethod=…,consumerGroupId=…,authId=…,timestamp=…|` and password base64(HMAC(secret, "authId=…&timestamp=…")),
//   checked against the shared AccountBook (an STS token must be one the local STS issued and not expired);
// - consumer groups: every group gets every message, each message goes to one client of the group; a message is
//   done when the client accepts it; released / rejected ones are delivered again at once, unsettled ones after
//   `redeliverAfterMs` (30 s), those of a client that went away at once; a backlog is kept while no client is there;
// - the rules: idle timeout 30–300 s, the receiver link within 15 s, one receiver and no sender per connection,
//   at most `maxClientsPerGroup` clients per group;
// - faults: drop every connection, refuse logins, apply acknowledgements late.
// Device messages and status events of the local MQTT broker are fed in by `attachBroker`.
import { EventEmitter } from 'node:events';
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { Server, Socket } from 'node:net';
import path from 'node:path';
import { create_container, message as rheaMessage, type Connection, type Delivery, type EventContext, type Sender } from 'rhea';
import type { AccountBook } from '../accounts';

export interface ConsumerGroupSpec {
  /** The consumer group ID, e.g. "DEFAULT_GROUP" or a console-style ID. */
  id: string;
  /** Owner account; a key of another account is told the group does not exist. Default: any account. */
  accountId?: string;
}

export interface AmqpMessage {
  /** The AMQP body bytes. */
  body: Buffer;
  /** Application properties: topic, messageId, generateTime, qos. */
  properties: Record<string, string | number>;
}

export interface AmqpFaults {
  /** Refuse every login (SASL outcome "auth"). */
  refuseLogins?: boolean;
  /** Apply every disposition only after this many ms (slow acknowledgements). */
  ackDelayMs?: number;
}

export interface AmqpServerOptions {
  accounts: AccountBook;
  host?: string;
  /** Plain AMQP port (0 = free port, false = off). */
  port?: number | false;
  /** AMQPS port with the local test CA (0 = free port, false = off). */
  tlsPort?: number | false;
  groups?: ConsumerGroupSpec[];
  /** When set, the username must carry this iotInstanceId. */
  iotInstanceId?: string;
  /** Unsettled messages are delivered again after this long (default 30 000 ms). */
  redeliverAfterMs?: number;
  /** Clients allowed per consumer group (default 64). */
  maxClientsPerGroup?: number;
  /** The receiver link must be open this long after the connection (default 15 000 ms). */
  receiverWithinMs?: number;
  /** Allowed idle-timeout range (default 30 000–300 000 ms). */
  idleTimeoutRange?: [number, number];
  /** Timestamps further from now than this are refused (default 15 min). */
  maxClockSkewMs?: number;
  /** Backlog kept per group (default 1 000 000 messages; older ones are dropped and counted). */
  maxBacklog?: number;
  /** Messages assigned to one client and waiting for its credit, at most (default 5 000). */
  maxAssignedPerClient?: number;
}

export interface AmqpClientInfo {
  connectionId: string;
  clientId: string;
  consumerGroupId: string;
  authMode: string;
  accessKeyId: string;
  connectedAt: number;
}

export interface AmqpRefusal {
  at: number;
  reason: string;
  /** SASL refusal ("login") or a connection closed after open ("connection"). */
  stage: 'login' | 'connection';
  condition?: string;
}

export interface GroupStats {
  /** Messages not yet handed to a client. */
  backlog: number;
  /** Handed out and not settled. */
  inflight: number;
  delivered: number;
  accepted: number;
  redelivered: number;
  dropped: number;
  clients: number;
}

const CERTS_DIR = path.join(__dirname, '..', 'sts', 'certs');
const HASH: Record<string, string> = { hmacsha1: 'sha1', hmacsha256: 'sha256', hmacmd5: 'md5' };

interface Pending {
  msg: AmqpMessage;
  /** How many times it was handed out. */
  deliveries: number;
}

interface Client {
  info: AmqpClientInfo;
  connection: Connection;
  sender?: Sender;
  group?: Group;
  receiverTimer?: NodeJS.Timeout;
  /** Messages assigned to this client in the group's rotation and not yet sent (waiting for its credit). */
  assigned: Pending[];
}

interface Inflight {
  item: Pending;
  client: Client;
  timer: NodeJS.Timeout;
}

interface Group {
  spec: ConsumerGroupSpec;
  backlog: Pending[];
  inflight: Map<Delivery, Inflight>;
  clients: Client[];
  next: number;
  stats: Omit<GroupStats, 'backlog' | 'inflight' | 'clients'>;
}

/** Parses `clientId|k=v,k=v|`; undefined when the shape is wrong. */
export function parseAmqpUsername(username: string): { clientId: string; params: Record<string, string> } | undefined {
  const m = /^([^|]+)\|([^|]*)\|$/.exec(username);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const part of m[2].split(',')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    params[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { clientId: m[1], params };
}

export class LocalAmqpServer {
  readonly events = new EventEmitter();
  /** amqp://host:port, or '' when off. */
  url = '';
  /** amqps://host:port, or '' when off. */
  tlsUrl = '';
  private readonly container = create_container({ id: 'local-iot-amqp' });
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly groups = new Map<string, Group>();
  private readonly clients = new Map<Connection, Client>();
  private readonly refusalLog: AmqpRefusal[] = [];
  private faults: AmqpFaults = {};
  private seq = 0;
  private connSeq = 0;
  private stopped = false;
  private readonly o: Required<Omit<AmqpServerOptions, 'iotInstanceId' | 'groups'>> & { iotInstanceId?: string };
  private detachBroker?: () => void;

  constructor(options: AmqpServerOptions) {
    this.o = {
      host: '127.0.0.1',
      port: 0,
      tlsPort: 0,
      redeliverAfterMs: 30_000,
      maxClientsPerGroup: 64,
      receiverWithinMs: 15_000,
      idleTimeoutRange: [30_000, 300_000],
      maxClockSkewMs: 15 * 60_000,
      maxBacklog: 1_000_000,
      maxAssignedPerClient: 5_000,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as LocalAmqpServer['o'];
    for (const g of options.groups ?? [{ id: 'DEFAULT_GROUP' }]) this.addGroup(g);
    this.events.setMaxListeners(0);
    this.container.sasl_server_mechanisms.enable_plain((username: string, password: string) => this.login(username, password));
    this.container.on('connection_open', (ctx: EventContext) => this.onOpen(ctx));
    this.container.on('sender_open', (ctx: EventContext) => this.onReceiverAttached(ctx));
    this.container.on('receiver_open', (ctx: EventContext) => this.closeWith(ctx.connection, 'amqp:not-allowed', 'a subscription connection may not open a sender'));
    this.container.on('sendable', (ctx: EventContext) => {
      const c = this.clients.get(ctx.connection);
      if (c?.group) this.pump(c.group);
    });
    this.container.on('accepted', (ctx: EventContext) => this.disposition(ctx.delivery!, 'accepted'));
    this.container.on('released', (ctx: EventContext) => this.disposition(ctx.delivery!, 'released'));
    this.container.on('rejected', (ctx: EventContext) => this.disposition(ctx.delivery!, 'released'));
    this.container.on('disconnected', (ctx: EventContext) => this.gone(ctx.connection));
    this.container.on('connection_close', (ctx: EventContext) => this.gone(ctx.connection));
    this.container.on('error', () => undefined);
    this.container.on('connection_error', () => undefined);
  }

  addGroup(spec: ConsumerGroupSpec): void {
    if (this.groups.has(spec.id)) return;
    this.groups.set(spec.id, { spec: { ...spec }, backlog: [], inflight: new Map(), clients: [], next: 0, stats: { delivered: 0, accepted: 0, redelivered: 0, dropped: 0 } });
  }

  async start(): Promise<void> {
    const listen = (options: Record<string, unknown>): Promise<number> =>
      new Promise((resolve, reject) => {
        const server = this.container.listen({ host: this.o.host, ...options }) as unknown as Server;
        this.servers.push(server);
        server.on('connection', (s: Socket) => {
          this.sockets.add(s);
          s.on('close', () => this.sockets.delete(s));
        });
        server.once('error', reject);
        server.once('listening', () => resolve((server.address() as { port: number }).port));
      });
    if (this.o.port !== false) this.url = `amqp://${this.o.host}:${await listen({ port: this.o.port })}`;
    if (this.o.tlsPort !== false) {
      const port = await listen({
        port: this.o.tlsPort,
        transport: 'tls',
        key: fs.readFileSync(path.join(CERTS_DIR, 'server-key.pem')),
        cert: fs.readFileSync(path.join(CERTS_DIR, 'server.pem')),
      });
      this.tlsUrl = `amqps://${this.o.host}:${port}`;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.detachBroker?.();
    for (const g of this.groups.values()) for (const f of g.inflight.values()) clearTimeout(f.timer);
    for (const c of this.clients.values()) if (c.receiverTimer) clearTimeout(c.receiverTimer);
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /** Puts one message into every consumer group. */
  publish(msg: AmqpMessage): void {
    if (this.stopped) return;
    for (const g of this.groups.values()) {
      g.backlog.push({ msg, deliveries: 0 });
      if (g.backlog.length > this.o.maxBacklog) {
        g.backlog.shift();
        g.stats.dropped++;
      }
      this.pump(g);
    }
  }

  /** Puts one message into one consumer group only (benchmarks, tests of one group). */
  publishTo(groupId: string, msg: AmqpMessage): void {
    const g = this.groups.get(groupId);
    if (!g) throw new Error(`no consumer group ${groupId}`);
    if (this.stopped) return;
    g.backlog.push({ msg, deliveries: 0 });
    this.pump(g);
  }

  /** The Alibaba-style message for a device topic and payload (property posts in the thing-model-parsed form). */
  messageFor(topic: string, payload: Buffer, qos = 0, at = Date.now()): AmqpMessage {
    const messageId = `${at}${String(++this.seq % 1_000_000).padStart(6, '0')}`;
    return { body: thingModelBody(topic, payload, at), properties: { topic, messageId, generateTime: at, qos } };
  }

  /**
   * Feeds device messages (anything a device published) and the platform's device status events of the local MQTT
   * broker into the groups. Returns a function that stops it.
   */
  attachBroker(broker: { events: EventEmitter }): () => void {
    const onMessage = (e: { topic: string; payload: Buffer; qos: number; at: number; from: string | null }): void => {
      const status = e.topic.startsWith('/as/mqtt/status/');
      if (e.from === null && !status) return; // the platform's own down-link messages are not device messages
      if (e.topic.endsWith('_reply') && e.from === null) return;
      this.publish(this.messageFor(e.topic, e.payload, e.qos, e.at));
    };
    broker.events.on('message', onMessage);
    this.detachBroker = () => broker.events.off('message', onMessage);
    return this.detachBroker;
  }

  setFaults(faults: AmqpFaults): void {
    this.faults = { ...this.faults, ...faults };
  }

  clearFaults(): void {
    this.faults = {};
  }

  /** Drops every client connection (sockets destroyed, no close frame), as a network fault would. */
  dropConnections(): void {
    for (const c of [...this.clients.values()]) {
      const socket = (c.connection as unknown as { socket?: Socket }).socket;
      socket?.destroy();
      this.gone(c.connection);
    }
  }

  clientsOf(groupId?: string): AmqpClientInfo[] {
    return [...this.clients.values()].filter((c) => c.group && (!groupId || c.group.spec.id === groupId)).map((c) => ({ ...c.info }));
  }

  stats(groupId: string): GroupStats {
    const g = this.groups.get(groupId);
    if (!g) throw new Error(`no consumer group ${groupId}`);
    const assigned = g.clients.reduce((n, c) => n + c.assigned.length, 0);
    return { ...g.stats, backlog: g.backlog.length + assigned, inflight: g.inflight.size, clients: g.clients.length };
  }

  refusals(): AmqpRefusal[] {
    return [...this.refusalLog];
  }

  // ---- login and connection rules ----

  private refuse(stage: AmqpRefusal['stage'], reason: string, condition?: string): false {
    const r: AmqpRefusal = { at: Date.now(), reason, stage, condition };
    this.refusalLog.push(r);
    if (this.refusalLog.length > 200) this.refusalLog.shift();
    this.events.emit('refused', r);
    return false;
  }

  /** SASL PLAIN check: username format, key, token and signature. */
  private login(username: string, password: string): boolean {
    if (this.faults.refuseLogins) return this.refuse('login', 'logins refused (fault)');
    const parsed = parseAmqpUsername(username);
    if (!parsed) return this.refuse('login', 'username is not clientId|k=v,…|');
    const p = parsed.params;
    for (const k of ['authMode', 'signMethod', 'consumerGroupId', 'authId', 'timestamp']) {
      if (!p[k]) return this.refuse('login', `username lacks ${k}`);
    }
    if (p.iotInstanceId === undefined) return this.refuse('login', 'username lacks iotInstanceId');
    if (this.o.iotInstanceId !== undefined && p.iotInstanceId !== this.o.iotInstanceId) return this.refuse('login', `iotInstanceId ${p.iotInstanceId} is not this instance`);
    const hash = HASH[p.signMethod];
    if (!hash) return this.refuse('login', `signMethod ${p.signMethod} is not supported`);
    if (!/^\d{10,16}$/.test(p.timestamp) || Math.abs(Date.now() - Number(p.timestamp)) > this.o.maxClockSkewMs) return this.refuse('login', 'timestamp is missing or too far from now');
    const found = this.o.accounts.resolve(p.authId);
    if (!found) return this.refuse('login', `AccessKey ${p.authId} does not exist`);
    if (p.authMode === 'aksign') {
      if (found.kind !== 'access-key') return this.refuse('login', 'temporary credentials need authMode=ststoken');
    } else if (p.authMode === 'ststoken') {
      if (found.kind !== 'sts') return this.refuse('login', 'authMode=ststoken with a permanent AccessKey');
      if (p.securityToken !== found.record.securityToken) return this.refuse('login', 'securityToken does not match the one issued');
      if (found.record.expiresAt <= Date.now()) return this.refuse('login', 'securityToken has expired');
    } else {
      return this.refuse('login', `authMode ${p.authMode} is not supported`);
    }
    const expected = createHmac(hash, found.record.accessKeySecret).update(`authId=${p.authId}&timestamp=${p.timestamp}`).digest();
    const given = Buffer.from(password, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return this.refuse('login', 'signature does not match');
    return true;
  }

  private closeWith(connection: Connection, condition: string, description: string): void {
    this.refuse('connection', description, condition);
    connection.close({ condition, description });
    this.gone(connection);
  }

  private onOpen(ctx: EventContext): void {
    const connection = ctx.connection;
    const username = (connection as unknown as { sasl_transport?: { username?: string } }).sasl_transport?.username ?? '';
    const parsed = parseAmqpUsername(username);
    if (!parsed) return this.closeWith(connection, 'amqp:unauthorized-access', 'no login');
    const p = parsed.params;
    const idle = (connection as unknown as { remote: { open?: { idle_time_out?: number } } }).remote.open?.idle_time_out ?? 0;
    const [lo, hi] = this.o.idleTimeoutRange;
    if (idle < lo || idle > hi) return this.closeWith(connection, 'amqp:invalid-field', `idle timeout ${idle} ms is outside ${lo}-${hi} ms`);
    const group = this.groups.get(p.consumerGroupId);
    const owner = this.o.accounts.resolve(p.authId)?.record.accountId;
    if (!group || (group.spec.accountId && group.spec.accountId !== owner)) {
      return this.closeWith(connection, 'amqp:not-found', `consumer group ${p.consumerGroupId} does not exist`);
    }
    if (group.clients.length >= this.o.maxClientsPerGroup) {
      return this.closeWith(connection, 'amqp:resource-limit-exceeded', `consumer group ${p.consumerGroupId} has ${group.clients.length} clients already (the limit)`);
    }
    const client: Client = {
      connection,
      assigned: [],
      info: { connectionId: `c${++this.connSeq}`, clientId: parsed.clientId, consumerGroupId: group.spec.id, authMode: p.authMode, accessKeyId: p.authId, connectedAt: Date.now() },
    };
    client.group = group;
    group.clients.push(client);
    this.clients.set(connection, client);
    client.receiverTimer = setTimeout(() => {
      if (!client.sender) this.closeWith(connection, 'amqp:precondition-failed', `no receiver link within ${this.o.receiverWithinMs} ms`);
    }, this.o.receiverWithinMs);
    this.events.emit('client', { ...client.info });
  }

  /** The client opened its receiver: our sender towards it. */
  private onReceiverAttached(ctx: EventContext): void {
    const client = this.clients.get(ctx.connection);
    const sender = ctx.sender!;
    if (!client) {
      sender.close({ condition: 'amqp:unauthorized-access', description: 'not logged in' });
      return;
    }
    if (client.sender) {
      this.closeWith(ctx.connection, 'amqp:not-allowed', 'a subscription connection may have only one receiver link');
      return;
    }
    client.sender = sender;
    if (client.receiverTimer) clearTimeout(client.receiverTimer);
    this.events.emit('receiver', { ...client.info });
    this.pump(client.group!);
  }

  private gone(connection: Connection): void {
    const client = this.clients.get(connection);
    if (!client) return;
    this.clients.delete(connection);
    if (client.receiverTimer) clearTimeout(client.receiverTimer);
    const g = client.group;
    if (!g) return;
    g.clients = g.clients.filter((c) => c !== client);
    // Whatever it held unsettled goes back to the front, to be delivered to the others (or to it when it returns).
    const back: Pending[] = client.assigned.splice(0);
    for (const [d, f] of g.inflight) {
      if (f.client !== client) continue;
      clearTimeout(f.timer);
      g.inflight.delete(d);
      back.push(f.item);
    }
    if (back.length) {
      g.stats.redelivered += back.length;
      g.backlog.unshift(...back);
    }
    client.sender = undefined;
    this.events.emit('client-gone', { ...client.info });
    this.pump(g);
  }

  // ---- delivery ----

  /**
   * Messages are assigned to the group's clients in strict rotation (as the platform spreads a group's partitions
   * over its clients: a slower client gets as many messages, and they wait for it), and each client is sent its own
   * as its credit allows. A client that already has `maxAssignedPerClient` waiting is skipped, so one stalled client
   * cannot hold the whole stream.
   */
  private pump(g: Group): void {
    if (this.stopped) return;
    while (g.backlog.length > 0) {
      const client = this.nextInRotation(g);
      if (!client) break;
      client.assigned.push(g.backlog.shift()!);
    }
    for (const client of g.clients) {
      const sender = client.sender;
      if (!sender || !sender.is_open()) continue;
      while (client.assigned.length > 0 && available(sender) > 0) {
        const item = client.assigned.shift()!;
        item.deliveries++;
        const delivery = sender.send({ body: rheaMessage.data_section(item.msg.body), application_properties: item.msg.properties, message_id: String(item.msg.properties.messageId ?? '') });
        const timer = setTimeout(() => this.expire(g, delivery), this.o.redeliverAfterMs);
        g.inflight.set(delivery, { item, client, timer });
        g.stats.delivered++;
      }
    }
  }

  /** The next client in the group's rotation that has a receiver and room for more assigned messages. */
  private nextInRotation(g: Group): Client | undefined {
    for (let i = 0; i < g.clients.length; i++) {
      const c = g.clients[(g.next + i) % g.clients.length];
      if (c.sender && c.sender.is_open() && c.assigned.length < this.o.maxAssignedPerClient) {
        g.next = (g.next + i + 1) % g.clients.length;
        return c;
      }
    }
    return undefined;
  }

  private expire(g: Group, delivery: Delivery): void {
    const f = g.inflight.get(delivery);
    if (!f) return;
    g.inflight.delete(delivery);
    g.stats.redelivered++;
    g.backlog.unshift(f.item);
    this.pump(g);
  }

  private disposition(delivery: Delivery, how: 'accepted' | 'released'): void {
    const apply = (): void => {
      const client = this.clients.get(delivery.link.connection);
      const g = client?.group;
      if (!g) return;
      const f = g.inflight.get(delivery);
      if (!f) return;
      clearTimeout(f.timer);
      g.inflight.delete(delivery);
      if (how === 'accepted') {
        g.stats.accepted++;
        this.events.emit('accepted', { group: g.spec.id, messageId: f.item.msg.properties.messageId, clientId: f.client.info.clientId });
      } else {
        g.stats.redelivered++;
        g.backlog.unshift(f.item);
        this.events.emit('released', { group: g.spec.id, messageId: f.item.msg.properties.messageId });
      }
      if (!delivery.remote_settled) delivery.update(true);
      this.pump(g);
    };
    if (this.faults.ackDelayMs) setTimeout(apply, this.faults.ackDelayMs);
    else apply();
  }
}

/** Credit left once the deliveries rhea has queued but not yet written are counted (it counts them at write time). */
function available(sender: Sender): number {
  const out = (sender as unknown as { session: { outgoing: { next_delivery_id: number; next_pending_delivery: number } } }).session.outgoing;
  return (sender as unknown as { credit: number }).credit - (out.next_delivery_id - out.next_pending_delivery);
}

/**
 * The body the platform forwards: for `/sys/{pk}/{dn}/thing/event/property/post` the thing-model-parsed form
 * (`items.X.value/time`, `iotId`, `deviceType`, `gmtCreate`, ...), for other topics the bytes as published.
 */
export function thingModelBody(topic: string, payload: Buffer, at: number): Buffer {
  const m = /^\/sys\/([^/]+)\/([^/]+)\/thing\/event\/property\/post$/.exec(topic);
  if (!m) return payload;
  let alink: { id?: unknown; params?: unknown };
  try {
    alink = JSON.parse(payload.toString('utf8')) as typeof alink;
  } catch {
    return payload;
  }
  if (!alink || typeof alink.params !== 'object' || alink.params === null) return payload;
  const items: Record<string, { value: unknown; time: number }> = {};
  for (const [k, v] of Object.entries(alink.params as Record<string, unknown>)) {
    const wrapped = v && typeof v === 'object' && 'value' in (v as object) ? (v as { value: unknown; time?: unknown }) : undefined;
    items[k] = wrapped ? { value: wrapped.value, time: typeof wrapped.time === 'number' ? wrapped.time : at } : { value: v, time: at };
  }
  const [, productKey, deviceName] = m;
  const body = {
    deviceType: 'CustomCategory',
    iotId: `${productKey}${deviceName}`.replace(/[^A-Za-z0-9]/g, '').slice(0, 20).padEnd(20, '0'),
    requestId: alink.id === undefined ? undefined : String(alink.id),
    checkFailedData: {},
    productKey,
    gmtCreate: at,
    deviceName,
    items,
  };
  return Buffer.from(JSON.stringify(body));
}
