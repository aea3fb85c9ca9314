// The local IoT platform's MQTT side: an aedes broker on loopback (TCP and WebSocket) that logs devices in with
// Alibaba's signing, keeps each device to its own topics, kicks the older connection of a device that logs in
// twice, publishes device online/offline status, and lets one application account use every topic.
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Aedes, AedesPublishPacket, Client, ConnectPacket, PublishPacket, Subscription, UnsubscribePacket } from 'aedes' with { 'resolution-mode': 'import' };
import { CONNACK, expectedPassword, parseMqttClientId, readDeviceClaim, samePassword } from './auth';
import { devicePublishAllowed, deviceSubscribeAllowed } from './acl';
import type { DeviceRegistry } from './registry';

export interface ApplicationAccount {
  username: string;
  password: string;
}

export interface IotBrokerOptions {
  registry: DeviceRegistry;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  mqttPort?: number;
  /** Default 0; false turns the WebSocket listener off. */
  wsPort?: number | false;
  /** An account that may subscribe and publish to every topic (e.g. Node-RED in "MQTT broker" mode). */
  application?: ApplicationAccount;
  /** What happens to a device publishing outside its topics: dropped (default) or the connection closed. */
  forbiddenPublish?: 'drop' | 'disconnect';
  /** Refuse devices whose keepalive is outside 30-1200 s, as the platform does (default true). */
  enforceKeepalive?: boolean;
  /** Messages kept per topic for inspection (default 50). */
  recentPerTopic?: number;
  /** Answer Alink property/event posts on their `_reply` topic with code 200, as the platform does (default true). */
  replyToPosts?: boolean;
  /** Offset of the `time`/`lastTime` fields of status messages from UTC, in minutes (default 480: China time). */
  statusUtcOffsetMinutes?: number;
}

export interface DeviceSession {
  /** The full MQTT client ID from CONNECT. */
  mqttClientId: string;
  productKey: string;
  deviceName: string;
  transport: 'tcp' | 'ws';
  clientIp: string;
  connectedAt: number;
}

export interface RecordedMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  at: number;
  /** MQTT client ID of the publisher; null for the platform itself (OpenAPI Pub, status messages). */
  from: string | null;
}

export interface Refusal {
  at: number;
  kind: 'connect' | 'publish' | 'subscribe';
  mqttClientId: string;
  /** CONNACK return code (connect) or 0x80 (subscribe). */
  returnCode?: number;
  topic?: string;
  reason: string;
}

type Kind = { kind: 'device'; productKey: string; deviceName: string } | { kind: 'application' };

interface ConnectionInfo {
  transport: 'tcp' | 'ws';
  clientIp: string;
  connect?: ConnectPacket;
  /** The client ID as the client sent it (a device's is replaced by its identity for session keeping). */
  originalClientId?: string;
  identity?: Kind;
  kicked?: boolean;
}

const DROP_PREFIX = '$SYS/local-iot/dropped/';

export class IotBroker {
  readonly events = new EventEmitter();
  mqttUrl = '';
  wsUrl = '';
  private aedes!: Aedes;
  private tcp?: TcpServer;
  private http?: HttpServer;
  private wss?: WebSocketServer;
  private readonly sockets = new Set<Socket>();
  private readonly info = new WeakMap<Client, ConnectionInfo>();
  private readonly sessions = new Map<Client, DeviceSession>();
  private readonly recent = new Map<string, RecordedMessage[]>();
  private readonly refusalLog: Refusal[] = [];
  /** Shared subscriptions ($share/<group>/<filter>), which aedes lacks: filter → group → members. */
  private readonly shared = new Map<string, Map<string, Set<Client>>>();
  private readonly opts: Required<Omit<IotBrokerOptions, 'application'>> & { application?: ApplicationAccount };
  private stopped = false;

  constructor(options: IotBrokerOptions) {
    this.opts = {
      host: '127.0.0.1',
      mqttPort: 0,
      wsPort: 0,
      forbiddenPublish: 'drop',
      enforceKeepalive: true,
      recentPerTopic: 50,
      statusUtcOffsetMinutes: 480,
      replyToPosts: true,
      ...definedOnly(options),
    };
    this.events.setMaxListeners(0);
  }

  get registry(): DeviceRegistry {
    return this.opts.registry;
  }

  async start(): Promise<void> {
    const { Aedes: AedesClass } = await import('aedes');
    this.aedes = await AedesClass.createBroker({
      maxClientsIdLength: 256,
      preConnect: (client, packet, done) => this.preConnect(client, packet, done),
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
    });
    this.aedes.on('unsubscribe', (filters, client) => this.leaveShared(client, filters));
    this.aedes.on('clientDisconnect', (client) => this.onGone(client));
    this.aedes.on('publish', (packet, client) => this.record(packet, client));
    // Errors of single connections are expected (kicks, resets); they must not crash the emulator.
    this.aedes.on('clientError', () => undefined);
    this.aedes.on('connectionError', () => undefined);

    this.tcp = createTcpServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.attach(socket, 'tcp', socket.remoteAddress ?? '');
    });
    await listen(this.tcp, this.opts.mqttPort, this.opts.host);
    this.mqttUrl = `mqtt://${this.opts.host}:${(this.tcp.address() as AddressInfo).port}`;

    if (this.opts.wsPort !== false) {
      this.http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      this.http.on('connection', (socket) => {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      });
      this.wss = new WebSocketServer({ server: this.http });
      this.wss.on('connection', (ws, req: IncomingMessage) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined);
        this.attach(stream, 'ws', req.socket.remoteAddress ?? '', req);
      });
      await listen(this.http, this.opts.wsPort, this.opts.host);
      this.wsUrl = `ws://${this.opts.host}:${(this.http.address() as AddressInfo).port}/mqtt`;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const closing: Promise<unknown>[] = [];
    if (this.tcp) closing.push(new Promise((resolve) => this.tcp?.close(resolve)));
    if (this.wss) closing.push(new Promise((resolve) => this.wss?.close(resolve)));
    if (this.http) closing.push(new Promise((resolve) => this.http?.close(resolve)));
    if (this.aedes) await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    for (const ws of this.wss?.clients ?? []) ws.terminate();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
    this.events.removeAllListeners();
  }

  /** Devices connected now. */
  connectedDevices(): DeviceSession[] {
    return [...this.sessions.values()].map((s) => ({ ...s }));
  }

  isOnline(productKey: string, deviceName: string): boolean {
    return [...this.sessions.values()].some((s) => s.productKey === productKey && s.deviceName === deviceName);
  }

  /** Recent messages on one topic, or on all topics in arrival order. */
  recentMessages(topic?: string): RecordedMessage[] {
    const list = topic === undefined ? [...this.recent.values()].flat().sort((a, b) => a.at - b.at) : this.recent.get(topic) ?? [];
    return list.map((m) => ({ ...m, payload: Buffer.from(m.payload) }));
  }

  refusals(): Refusal[] {
    return this.refusalLog.map((r) => ({ ...r }));
  }

  /** Publishes as the platform (bypasses topic permissions), e.g. for OpenAPI Pub. */
  publish(topic: string, payload: Buffer, qos: 0 | 1 = 0, retain = false): Promise<void> {
    const packet: PublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup: false };
    return new Promise((resolve, reject) => this.aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  private attach(stream: Duplex, transport: 'tcp' | 'ws', clientIp: string, req?: IncomingMessage): void {
    if (this.stopped) {
      stream.destroy();
      return;
    }
    const client = this.aedes.handle(stream, req);
    this.info.set(client, { transport, clientIp: clientIp.replace(/^::ffff:/, '') });
    stream.on('close', () => {
      this.onGone(client);
      this.leaveShared(client);
    });
  }

  /** The client ID the client sent. */
  private idOf(client: Client): string {
    return this.info.get(client)?.originalClientId ?? client.id;
  }

  private refuse(refusal: Omit<Refusal, 'at'>): void {
    const entry = { at: Date.now(), ...refusal };
    this.refusalLog.push(entry);
    if (this.refusalLog.length > 500) this.refusalLog.shift();
    this.events.emit('refused', entry);
  }

  private preConnect(client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void {
    const info = this.info.get(client);
    if (info) {
      info.connect = packet;
      info.originalClientId = packet.clientId;
    }
    // The platform keeps one session per device, whatever the timestamp in the clientId: key aedes' session
    // (persistent subscriptions, queued QoS 1, duplicate-ID takeover) on productKey/deviceName.
    const device = parseMqttClientId(packet.clientId ?? '');
    const amp = packet.username?.indexOf('&') ?? -1;
    if (device && packet.username && amp > 0) {
      packet.clientId = `iot-device:${packet.username.slice(amp + 1)}/${packet.username.slice(0, amp)}`;
    }
    done(null, true);
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
  ): void {
    const info = this.info.get(client);
    const packet = info?.connect;
    const mqttClientId = info?.originalClientId ?? client.id ?? '';
    const deny = (returnCode: number, reason: string): void => {
      this.refuse({ kind: 'connect', mqttClientId, returnCode, reason });
      done(Object.assign(new Error(reason), { returnCode }), false);
    };

    const app = this.opts.application;
    if (app && username === app.username) {
      const given = Buffer.from(password ?? Buffer.alloc(0));
      const wanted = Buffer.from(app.password, 'utf8');
      if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
        deny(CONNACK.NOT_AUTHORIZED, 'application account: wrong password');
        return;
      }
      if (info) info.identity = { kind: 'application' };
      done(null, true);
      return;
    }

    const result = readDeviceClaim(mqttClientId, username, password);
    if (!result.ok) {
      deny(result.returnCode, result.reason);
      return;
    }
    const { claim } = result;
    const device = this.opts.registry.getDevice(claim.productKey, claim.deviceName);
    if (!device) {
      deny(CONNACK.NOT_AUTHORIZED, `device ${claim.productKey}/${claim.deviceName} does not exist`);
      return;
    }
    if (!device.enabled) {
      deny(CONNACK.NOT_AUTHORIZED, `device ${claim.productKey}/${claim.deviceName} is disabled`);
      return;
    }
    const expected = expectedPassword(claim.signMethod, device.deviceSecret, claim.clientId, claim.productKey, claim.deviceName, claim.timestamp);
    if (!samePassword(expected, password)) {
      deny(CONNACK.NOT_AUTHORIZED, `signature does not match for ${claim.productKey}/${claim.deviceName} (check deviceSecret and signmethod)`);
      return;
    }
    const keepalive = packet?.keepalive ?? 0;
    if (this.opts.enforceKeepalive && (keepalive < 30 || keepalive > 1200)) {
      deny(CONNACK.IDENTIFIER_REJECTED, `keepalive ${keepalive} s is outside 30-1200 s`);
      return;
    }
    if (info) info.identity = { kind: 'device', productKey: claim.productKey, deviceName: claim.deviceName };

    // One connection per device: the newer login kicks the older one ("Kicked by the same device").
    const older = [...this.sessions.entries()].filter(
      ([c, s]) => c !== client && s.productKey === claim.productKey && s.deviceName === claim.deviceName,
    );
    const accept = (): void => {
      // Online from here: the CONNACK follows, so anyone who sees the CONNACK also sees the session.
      this.online(client);
      done(null, true);
    };
    if (older.length === 0) {
      accept();
      return;
    }
    let pending = older.length;
    for (const [oldClient, session] of older) {
      const oldInfo = this.info.get(oldClient);
      if (oldInfo) oldInfo.kicked = true;
      this.events.emit('kicked', { ...session });
      oldClient.close(() => {
        this.onGone(oldClient);
        if (--pending === 0) accept();
      });
    }
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const identity = client ? this.info.get(client)?.identity : undefined;
    if (!client || identity?.kind !== 'device') {
      done(null);
      return;
    }
    if (devicePublishAllowed(identity.productKey, identity.deviceName, packet.topic)) {
      done(null);
      return;
    }
    const reason = `device ${identity.productKey}/${identity.deviceName} may not publish to ${packet.topic}`;
    this.refuse({ kind: 'publish', mqttClientId: this.idOf(client), topic: packet.topic, reason });
    if (this.opts.forbiddenPublish === 'disconnect') {
      done(new Error(reason));
      return;
    }
    // Dropped: acknowledged as usual but delivered to nobody and not retained.
    packet.topic = DROP_PREFIX + client.id;
    packet.retain = false;
    done(null);
  }

  private authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    const identity = this.info.get(client)?.identity;
    if (identity?.kind !== 'device') {
      const share = /^\$share\/([^/+#]+)\/(.+)$/.exec(sub.topic);
      if (sub.topic.startsWith('$share/') && !share) {
        this.refuse({ kind: 'subscribe', mqttClientId: this.idOf(client), topic: sub.topic, returnCode: 0x80, reason: 'shared subscription must be $share/<group>/<filter>' });
        done(null, null);
        return;
      }
      if (share) {
        const [, group, filter] = share;
        const groups = this.shared.get(filter) ?? new Map<string, Set<Client>>();
        this.shared.set(filter, groups);
        const members = groups.get(group) ?? new Set<Client>();
        groups.set(group, members);
        members.add(client);
        done(null, { ...sub, topic: filter });
        return;
      }
      done(null, sub);
      return;
    }
    if (deviceSubscribeAllowed(identity.productKey, identity.deviceName, sub.topic)) {
      done(null, sub);
      return;
    }
    this.refuse({
      kind: 'subscribe',
      mqttClientId: this.idOf(client),
      topic: sub.topic,
      returnCode: 0x80,
      reason: `device ${identity.productKey}/${identity.deviceName} may not subscribe to ${sub.topic}`,
    });
    done(null, null); // SUBACK 0x80 for this filter; the connection stays
  }

  /** Drops refused device publishes; delivers a message of a shared subscription to one member of each group. */
  private authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    if (packet.topic.startsWith(DROP_PREFIX)) return null;
    let sharedMatch = false;
    for (const [filter, groups] of this.shared) {
      if (!filterMatches(filter, packet.topic)) continue;
      for (const members of groups.values()) {
        if (!members.has(client)) continue;
        sharedMatch = true;
        const ordered = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        if (ordered[packet.brokerCounter % ordered.length] === client) return packet;
      }
    }
    return sharedMatch ? null : packet;
  }

  private leaveShared(client: Client, filters?: string[]): void {
    for (const [filter, groups] of this.shared) {
      for (const [group, members] of groups) {
        if (filters && !filters.includes(`$share/${group}/${filter}`)) continue;
        if (!members.delete(client)) continue;
        if (members.size === 0) groups.delete(group);
        if (filters && ![...groups.values()].some((m) => m.has(client)) && !client.closed) {
          client.unsubscribe({ cmd: 'unsubscribe', unsubscriptions: [filter] } as UnsubscribePacket, () => undefined);
        }
      }
      if (groups.size === 0) this.shared.delete(filter);
    }
  }

  private online(client: Client): void {
    const info = this.info.get(client);
    if (info?.identity?.kind !== 'device' || client.closed || this.sessions.has(client)) return;
    const session: DeviceSession = {
      mqttClientId: info.originalClientId ?? client.id,
      productKey: info.identity.productKey,
      deviceName: info.identity.deviceName,
      transport: info.transport,
      clientIp: info.clientIp,
      connectedAt: Date.now(),
    };
    this.sessions.set(client, session);
    this.publishStatus('online', session);
    this.events.emit('online', { ...session });
  }

  private onGone(client: Client): void {
    const session = this.sessions.get(client);
    if (!session) return;
    this.sessions.delete(client);
    const kicked = this.info.get(client)?.kicked === true;
    if (!this.stopped) this.publishStatus('offline', session);
    this.events.emit('offline', { ...session }, kicked ? 'Kicked by the same device' : 'Device disconnect');
  }

  private publishStatus(status: 'online' | 'offline', session: DeviceSession): void {
    const now = Date.now();
    const body = {
      status,
      productKey: session.productKey,
      deviceName: session.deviceName,
      time: this.localTime(now),
      utcTime: new Date(now).toISOString(),
      lastTime: this.localTime(now),
      utcLastTime: new Date(now).toISOString(),
      clientIp: session.clientIp,
    };
    const topic = `/as/mqtt/status/${session.productKey}/${session.deviceName}`;
    this.publish(topic, Buffer.from(JSON.stringify(body)), 1).catch(() => undefined);
  }

  private localTime(ms: number): string {
    // "yyyy-MM-dd HH:mm:ss.SSS" in the platform's zone.
    return new Date(ms + this.opts.statusUtcOffsetMinutes * 60_000).toISOString().replace('T', ' ').replace('Z', '');
  }

  private record(packet: AedesPublishPacket, client: Client | null): void {
    if (packet.topic.startsWith('$SYS')) return;
    const entry: RecordedMessage = {
      topic: packet.topic,
      payload: Buffer.from(packet.payload as Buffer),
      qos: packet.qos,
      retain: packet.retain,
      at: Date.now(),
      from: client ? this.idOf(client) : null,
    };
    let list = this.recent.get(packet.topic);
    if (!list) {
      if (this.recent.size >= 1000) this.recent.delete(this.recent.keys().next().value as string);
      list = [];
      this.recent.set(packet.topic, list);
    }
    list.push(entry);
    if (list.length > this.opts.recentPerTopic) list.shift();
    this.events.emit('message', entry);
    if (client && this.opts.replyToPosts) this.replyToPost(client, entry);
  }

  /** Alink request/reply: /sys/{pk}/{dn}/thing/event/{identifier}/post → …/post_reply {id, code:200, data:{}}. */
  private replyToPost(client: Client, entry: RecordedMessage): void {
    const identity = this.info.get(client)?.identity;
    if (identity?.kind !== 'device') return;
    const prefix = `/sys/${identity.productKey}/${identity.deviceName}/thing/event/`;
    if (!entry.topic.startsWith(prefix) || !entry.topic.endsWith('/post')) return;
    const identifier = entry.topic.slice(prefix.length, -'/post'.length);
    if (!identifier || identifier.includes('/')) return;
    let request: { id?: unknown; method?: unknown } | undefined;
    try {
      request = JSON.parse(entry.payload.toString('utf8')) as { id?: unknown; method?: unknown };
    } catch {
      request = undefined;
    }
    const id = typeof request?.id === 'string' || typeof request?.id === 'number' ? String(request.id) : undefined;
    const reply =
      request && typeof request === 'object' && id !== undefined
        ? { code: 200, data: {}, id, message: 'success', method: typeof request.method === 'string' ? request.method : `thing.event.${identifier}.post`, version: '1.0' }
        : { code: 460, data: {}, id: id ?? '0', message: 'request parameter error', version: '1.0' };
    this.publish(`${entry.topic}_reply`, Buffer.from(JSON.stringify(reply)), 0).catch(() => undefined);
  }
}

/** MQTT topic-filter matching (+ one level, # the rest); wildcards at the first level skip $-topics. */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

/** Drops keys whose value is undefined, so that they do not override defaults. */
export function definedOnly<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}

function listen(server: TcpServer | HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
