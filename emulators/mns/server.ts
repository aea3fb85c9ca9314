// The local MNS: an HTTP server speaking the MNS 2015-06-06 wire protocol (see ../../../shared/spec/mns-sts.md),
// verifying V2 signatures and STS tokens against the local cloud's AccountBook, with an unsigned inspection and
// fault-injection API under /__emulator.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import type { AccountBook } from '../accounts';
import { MnsError } from './errors';
import { RequestIds, TopicMessageIds } from './ids';
import { FaultController } from './faults';
import type { FaultInput } from './faults';
import { Queue, QUEUE_DEFAULTS, QUEUE_RANGES } from './queue';
import type { MessageView, QueueAttributes, StoredMessage } from './queue';
import { Pusher, renderNotification } from './push';
import type { Delivery, NotifyContentFormat, NotifyStrategy, PushOptions } from './push';
import { bodyMd5, contentMd5Matches, createPushSigner, parseAuthorization, signV2, signaturesEqual, stringToSign } from './signature';
import type { PushSigner } from './signature';
import { MNS_NAMESPACE, XmlSyntaxError, child, parseXml, renderXml } from './xml';
import type { XmlElement, XmlNode } from './xml';

export const MNS_VERSION = '2015-06-06';
const ALLOWED_SKEW_MS = 15 * 60 * 1000;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const MAX_BATCH = 16;
const MAX_WAIT_SECONDS = 30;
const BATCH_TOTAL_BYTES = 65536;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const CERT_PATH = '/x509_public_certificate.pem';

export interface TopicAttributes {
  MaximumMessageSize: number;
  LoggingEnabled: boolean;
}

export interface PublishedMessage {
  messageId: string;
  body: string;
  bodyMd5: string;
  tag?: string;
  publishTime: number;
}

export interface SubscriptionOptions {
  /** `http(s)://…`, `acs:mns:{region}:{accountId}:queues/{name}`, `mail:directmail:…` or `sms:directsms:…`. */
  endpoint?: string;
  /** Shorthand for a queue endpoint of this emulator's account and region. */
  queue?: string;
  filterTag?: string;
  notifyStrategy?: NotifyStrategy;
  notifyContentFormat?: NotifyContentFormat;
}

export interface SubscriptionInfo {
  topicName: string;
  subscriptionName: string;
  endpoint: string;
  filterTag?: string;
  notifyStrategy: NotifyStrategy;
  notifyContentFormat: NotifyContentFormat;
  createTime: number;
  lastModifyTime: number;
}

interface Topic {
  name: string;
  attributes: TopicAttributes;
  createTime: number;
  lastModifyTime: number;
  published: PublishedMessage[];
  messageCount: number;
  subscriptions: Map<string, SubscriptionInfo>;
}

export interface MnsServerOptions {
  accounts: AccountBook;
  accountId: string;
  region: string;
  host: string;
  port: number;
  /** Refuse keys whose AccountBook record belongs to another account (the real service does). Default true. */
  enforceAccountOwnership: boolean;
  push: PushOptions;
  /** How many published messages per topic the inspection API keeps. Default 100 000. */
  publishedLimit: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  code?: string;
  requestId: string;
  accessKeyId?: string;
  fault?: string;
}

interface Reply {
  status: number;
  xml?: string;
  headers?: Record<string, string>;
}

class Stopped extends Error {}

function isTrue(value: string): boolean {
  return /^true$/i.test(value.trim());
}

export class MnsServer {
  readonly events = new EventEmitter();
  readonly faults: FaultController;
  readonly accounts: AccountBook;
  readonly accountId: string;
  readonly region: string;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly topics = new Map<string, Topic>();
  private readonly queues = new Map<string, Queue>();
  private readonly deliveries: Delivery[] = [];
  private deliveryIds = 0;
  private readonly requestIds = new RequestIds();
  private readonly topicIds = new TopicMessageIds();
  private pusher!: Pusher;
  private signer!: PushSigner;
  private boundPort = 0;
  private listening = false;
  private stopped = false;
  private outageEnd: (() => void) | undefined;
  private outageTimer: NodeJS.Timeout | undefined;
  readonly stats = { requests: 0, byStatus: {} as Record<string, number> };

  constructor(private readonly options: MnsServerOptions) {
    this.accounts = options.accounts;
    this.accountId = options.accountId;
    this.region = options.region;
    this.events.setMaxListeners(0);
    this.faults = new FaultController((ms) => this.outage(ms));
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Last resort: never leave a request hanging because of a bug.
        if (!res.headersSent && !res.destroyed) {
          res.statusCode = 500;
          res.end(String(err));
        }
      });
    });
    this.server.keepAliveTimeout = 65_000;
    this.server.on('connection', (socket: Socket) => {
      if (this.stopped || this.faults.outageUntil !== undefined) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<void> {
    this.signer = await createPushSigner(`${this.accountId}.mns.${this.region}.emulator.local`);
    this.pusher = new Pusher(this.options.push, {
      privateKey: this.signer.privateKey,
      certUrl: () => this.certUrl,
      nextRequestId: () => this.requestIds.next(),
    }, (delivery) => this.events.emit('delivery', { ...delivery }));
    await this.listen(this.options.port);
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, this.options.host, () => {
        this.server.off('error', onError);
        this.boundPort = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  get port(): number { return this.boundPort; }
  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${this.boundPort}`;
  }
  get certUrl(): string { return `${this.url}${CERT_PATH}`; }
  get certificatePem(): string { return this.signer.certificatePem; }
  /** How the real service names itself in Location headers, resource URLs and HostId. */
  get publicEndpoint(): string { return `http://${this.accountId}.mns.${this.region}.aliyuncs.com`; }
  queueEndpoint(queueName: string): string { return `acs:mns:${this.region}:${this.accountId}:queues/${queueName}`; }

  // ------------------------------------------------------------------------------------------------------
  // Lifecycle

  private closeConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private outage(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const until = Date.now() + ms;
    this.faults.outageUntil = Math.max(this.faults.outageUntil ?? 0, until);
    if (this.outageTimer) clearTimeout(this.outageTimer);
    const previousEnd = this.outageEnd;
    const done = new Promise<void>((resolve) => {
      this.outageEnd = () => {
        previousEnd?.();
        resolve();
      };
    });
    if (this.listening) {
      this.listening = false;
      this.server.close();
    }
    this.closeConnections();
    this.events.emit('outage', { until: this.faults.outageUntil });
    this.outageTimer = setTimeout(() => {
      this.outageTimer = undefined;
      const finish = (): void => {
        this.faults.outageUntil = undefined;
        const end = this.outageEnd;
        this.outageEnd = undefined;
        this.events.emit('outage-end', {});
        end?.();
      };
      if (this.stopped) return finish();
      this.listen(this.boundPort).then(finish, (err: Error) => {
        this.events.emit('error', new Error(`the local MNS could not listen again on port ${this.boundPort} after the outage: ${err.message}`));
        finish();
      });
    }, Math.max(0, (this.faults.outageUntil ?? until) - Date.now()));
    return done;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.outageTimer) clearTimeout(this.outageTimer);
    this.outageTimer = undefined;
    this.faults.outageUntil = undefined;
    const end = this.outageEnd;
    this.outageEnd = undefined;
    end?.();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.pusher?.stop();
    for (const queue of this.queues.values()) queue.close();
    const closed = this.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    this.listening = false;
    this.closeConnections();
    this.server.closeAllConnections?.();
    await closed;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(new Stopped());
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.stopped) reject(new Stopped());
        else resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  // ------------------------------------------------------------------------------------------------------
  // Programmatic resource management (also used by the config file and the signed API)

  createTopic(name: string, attrs: Partial<TopicAttributes> = {}): 'created' | 'exists' {
    validateName(name, 'Topic');
    const attributes: TopicAttributes = { MaximumMessageSize: 65536, LoggingEnabled: false, ...attrs };
    checkRange('MaximumMessageSize', attributes.MaximumMessageSize, 1024, 65536);
    const existing = this.topics.get(name);
    if (existing) {
      if (sameAttributes(existing.attributes, attributes)) return 'exists';
      throw new MnsError('TopicAlreadyExist', `The topic ${name} already exists with different attributes.`);
    }
    const now = Date.now();
    this.topics.set(name, { name, attributes, createTime: now, lastModifyTime: now, published: [], messageCount: 0, subscriptions: new Map() });
    return 'created';
  }

  deleteTopic(name: string): void {
    this.topics.delete(name);
  }

  createQueue(name: string, attrs: Partial<QueueAttributes> = {}): 'created' | 'exists' {
    validateName(name, 'Queue');
    const attributes: QueueAttributes = { ...QUEUE_DEFAULTS, ...attrs };
    validateQueueAttributes(attributes);
    const existing = this.queues.get(name);
    if (existing) {
      if (sameAttributes(existing.attributes, attributes)) return 'exists';
      throw new MnsError('QueueAlreadyExist', `The queue ${name} already exists with different attributes.`);
    }
    this.queues.set(name, new Queue(name, attributes, {
      onEnqueued: (q, m) => this.events.emit('enqueued', { queue: q.name, message: messageEvent(m) }),
      onReceived: (q, m) => this.events.emit('received', { queue: q.name, message: messageEvent(m) }),
      onDeleted: (q, m) => this.events.emit('deleted', { queue: q.name, message: messageEvent(m) }),
    }));
    return 'created';
  }

  deleteQueue(name: string): void {
    const queue = this.queues.get(name);
    if (!queue) return;
    this.queues.delete(name);
    queue.close();
  }

  subscribe(topicName: string, subscriptionName: string, options: SubscriptionOptions): 'created' | 'exists' {
    const topic = this.topics.get(topicName);
    if (!topic) throw new MnsError('TopicNotExist', `The topic ${topicName} does not exist.`);
    validateName(subscriptionName, 'Subscription');
    const endpoint = options.endpoint ?? (options.queue !== undefined ? this.queueEndpoint(options.queue) : undefined);
    if (!endpoint) throw new MnsError('EndpointInvalid', 'A subscription needs an Endpoint (an http(s) URL or acs:mns:{region}:{accountId}:queues/{name}).');
    this.validateEndpoint(endpoint, topic);
    const filterTag = options.filterTag === '' ? undefined : options.filterTag;
    if (filterTag !== undefined && filterTag.length > 16) throw new MnsError('InvalidArgument', 'The value of FilterTag should be at most 16 characters.');
    const notifyStrategy = options.notifyStrategy ?? 'BACKOFF_RETRY';
    if (notifyStrategy !== 'BACKOFF_RETRY' && notifyStrategy !== 'EXPONENTIAL_DECAY_RETRY') {
      throw new MnsError('InvalidArgument', 'NotifyStrategy must be BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY.');
    }
    const notifyContentFormat = options.notifyContentFormat ?? 'XML';
    if (!['XML', 'JSON', 'SIMPLIFIED'].includes(notifyContentFormat)) {
      throw new MnsError('InvalidArgument', 'NotifyContentFormat must be XML, JSON or SIMPLIFIED.');
    }
    const existing = topic.subscriptions.get(subscriptionName);
    if (existing) {
      if (existing.endpoint === endpoint && existing.filterTag === filterTag && existing.notifyStrategy === notifyStrategy
        && existing.notifyContentFormat === notifyContentFormat) return 'exists';
      throw new MnsError('SubscriptionAlreadyExist', `The subscription ${subscriptionName} already exists with different attributes.`);
    }
    if (topic.subscriptions.size >= 100) throw new MnsError('InvalidArgument', 'A topic can have at most 100 subscriptions.');
    const now = Date.now();
    topic.subscriptions.set(subscriptionName, {
      topicName, subscriptionName, endpoint, filterTag, notifyStrategy, notifyContentFormat, createTime: now, lastModifyTime: now,
    });
    return 'created';
  }

  unsubscribe(topicName: string, subscriptionName: string): void {
    this.topics.get(topicName)?.subscriptions.delete(subscriptionName);
  }

  private validateEndpoint(endpoint: string, topic: Topic): void {
    const queueMatch = /^acs:mns:([^:]+):([^:]+):queues\/(.+)$/.exec(endpoint);
    if (queueMatch) {
      const [, region, account, queueName] = queueMatch;
      if (region !== this.region || account !== this.accountId) {
        throw new MnsError('EndpointInvalid', `A queue endpoint must be in the topic's region and account (acs:mns:${this.region}:${this.accountId}:queues/…).`);
      }
      if (!NAME_RE.test(queueName)) throw new MnsError('EndpointInvalid', `"${queueName}" is not a valid queue name.`);
      const queue = this.queues.get(queueName);
      if (queue && queue.attributes.MaximumMessageSize < topic.attributes.MaximumMessageSize) {
        throw new MnsError('InvalidArgument', `The queue's MaximumMessageSize (${queue.attributes.MaximumMessageSize}) must be at least the topic's (${topic.attributes.MaximumMessageSize}).`);
      }
      return;
    }
    if (/^https?:\/\//i.test(endpoint)) {
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        throw new MnsError('EndpointInvalid', `The endpoint ${endpoint} is not a valid URL.`);
      }
      if (/^\/mns-reserv(ed|erd)-/i.test(url.pathname)) throw new MnsError('EndpointInvalid', 'HTTP endpoint paths may not start with mns-reserved-.');
      return;
    }
    if (/^mail:directmail:.+/.test(endpoint) || /^sms:directsms:.+/.test(endpoint)) return;
    throw new MnsError('EndpointInvalid', `The endpoint ${endpoint} is not supported: use an http(s) URL or acs:mns:${this.region}:${this.accountId}:queues/{name}.`);
  }

  /** Every message in the queue, in any state. */
  messages(queueName: string): MessageView[] {
    const queue = this.queues.get(queueName);
    if (!queue) throw new Error(`no queue named "${queueName}" in the local MNS`);
    return queue.view();
  }

  /** Every message published to the topic (up to publishedLimit), oldest first. */
  published(topicName: string): PublishedMessage[] {
    const topic = this.topics.get(topicName);
    if (!topic) throw new Error(`no topic named "${topicName}" in the local MNS`);
    return topic.published.map((m) => ({ ...m }));
  }

  /** Fan-out deliveries (queue and HTTP endpoints) with their state, oldest first. */
  deliveryLog(): Delivery[] {
    return this.deliveries.map((d) => ({ ...d }));
  }

  subscriptions(topicName: string): SubscriptionInfo[] {
    const topic = this.topics.get(topicName);
    if (!topic) throw new Error(`no topic named "${topicName}" in the local MNS`);
    return [...topic.subscriptions.values()].map((s) => ({ ...s }));
  }

  topicNames(): string[] { return [...this.topics.keys()].sort(); }
  queueNames(): string[] { return [...this.queues.keys()].sort(); }

  queueInfo(name: string): Record<string, unknown> | undefined {
    const q = this.queues.get(name);
    if (!q) return undefined;
    return { name, attributes: { ...q.attributes }, createTime: q.createTime, counts: q.counts(), messages: q.view() };
  }

  /** Sends as SendMessage does; returns the stored message. */
  send(queueName: string, body: string, options: { delaySeconds?: number; priority?: number } = {}): MessageView {
    const queue = this.queues.get(queueName);
    if (!queue) throw new MnsError('QueueNotExist', `The queue ${queueName} does not exist.`);
    if (body === '') throw new MnsError('InvalidArgument', 'MessageBody is required and must not be empty.');
    if (options.delaySeconds !== undefined) checkRange('DelaySeconds', options.delaySeconds, 0, 604800);
    if (options.priority !== undefined) checkRange('Priority', options.priority, 1, 16);
    return messageEvent(queue.send(body, options));
  }

  /** Publishes as PublishMessage does; returns the stored message. */
  publish(topicName: string, body: string, tag?: string): PublishedMessage {
    const topic = this.topics.get(topicName);
    if (!topic) throw new MnsError('TopicNotExist', `The topic ${topicName} does not exist.`);
    const publishTime = Date.now();
    const msg: PublishedMessage = { messageId: this.topicIds.next(publishTime), body, bodyMd5: bodyMd5(body), tag, publishTime };
    topic.messageCount++;
    topic.published.push(msg);
    if (topic.published.length > this.options.publishedLimit) topic.published.splice(0, topic.published.length - this.options.publishedLimit);
    this.events.emit('published', { topic: topicName, message: { ...msg } });
    for (const sub of topic.subscriptions.values()) this.fanOut(topic, sub, msg);
    return msg;
  }

  private fanOut(topic: Topic, sub: SubscriptionInfo, msg: PublishedMessage): void {
    if (sub.filterTag !== undefined && sub.filterTag !== msg.tag) return;
    const delivery: Delivery = {
      id: ++this.deliveryIds, topic: topic.name, subscription: sub.subscriptionName, endpoint: sub.endpoint,
      format: sub.notifyContentFormat, messageId: msg.messageId, attempts: 0, state: 'pending',
    };
    this.deliveries.push(delivery);
    if (this.deliveries.length > this.options.publishedLimit) this.deliveries.splice(0, this.deliveries.length - this.options.publishedLimit);
    const notification = renderNotification(sub.notifyContentFormat, {
      topicOwner: this.accountId, topicName: topic.name, subscriber: this.accountId, subscriptionName: sub.subscriptionName,
      messageId: msg.messageId, message: msg.body, messageMd5: msg.bodyMd5, messageTag: msg.tag, publishTime: msg.publishTime,
    });
    const queueMatch = /^acs:mns:[^:]+:[^:]+:queues\/(.+)$/.exec(sub.endpoint);
    if (queueMatch) {
      const queueName = queueMatch[1];
      this.pusher.run(delivery, sub.notifyStrategy, async () => {
        const queue = this.queues.get(queueName);
        if (!queue) throw new Error(`queue ${queueName} does not exist (subscription unavailable)`);
        delivery.queueMessageId = queue.send(notification.body).messageId;
      });
    } else if (/^https?:\/\//i.test(sub.endpoint)) {
      this.pusher.run(delivery, sub.notifyStrategy, () => this.pusher.postSigned(delivery, sub.endpoint, notification));
    } else {
      delivery.state = 'not-emulated';
      delivery.lastError = 'mail and SMS endpoints are recorded but not delivered by the local MNS';
      this.events.emit('delivery', { ...delivery });
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rawTarget = req.url ?? '/';
    // The resource that was signed: the request-target as sent (origin form). Absolute form is reduced to it.
    const resource = /^https?:\/\//i.test(rawTarget) ? rawTarget.replace(/^https?:\/\/[^/]*/i, '') || '/' : rawTarget;
    const qIndex = resource.indexOf('?');
    const path = qIndex < 0 ? resource : resource.slice(0, qIndex);
    const query = new URLSearchParams(qIndex < 0 ? '' : resource.slice(qIndex + 1));
    const method = (req.method ?? 'GET').toUpperCase();

    if (path === '/__emulator' || path.startsWith('/__emulator/')) return this.handleAdmin(req, res, method, path);
    if (path === CERT_PATH && method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
      res.end(this.signer.certificatePem);
      return;
    }

    const requestId = this.requestIds.next();
    const record: RequestRecord = { method, path, status: 0, requestId };
    res.setHeader('x-mns-request-id', requestId);
    res.setHeader('x-mns-version', MNS_VERSION);
    res.setHeader('Server', 'AliyunMNS');

    let body: Buffer;
    let loseResponse = false;
    try {
      body = await readBody(req);
      const decision = this.faults.decide(path);
      if (decision.delayMs > 0) await this.sleep(decision.delayMs);
      if (decision.failure?.kind === 'lost-response') {
        record.fault = 'lost-response';
        loseResponse = true;
      } else if (decision.failure) {
        record.fault = decision.failure.kind;
        if (decision.failure.holdMs > 0) await this.sleep(decision.failure.holdMs);
        this.injectFailure(decision.failure.kind, req, res, record);
        return;
      }
    } catch (err) {
      if (err instanceof Stopped) return;
      if (err instanceof MnsError) return this.replyError(res, err, record);
      throw err;
    }

    try {
      record.accessKeyId = this.authenticate(req, method, resource, body);
      const reply = await this.route(req, res, method, path, query, body);
      if (reply === undefined) return; // the client went away during a long poll
      record.status = reply.status;
      if (loseResponse) {
        req.socket.destroy();
        return this.noteRequest(record);
      }
      res.writeHead(reply.status, {
        ...(reply.xml !== undefined ? { 'Content-Type': 'text/xml;charset=utf-8' } : {}),
        ...reply.headers,
      });
      res.end(reply.xml);
      this.noteRequest(record);
    } catch (err) {
      if (err instanceof Stopped) return;
      if (loseResponse) {
        req.socket.destroy();
        return this.noteRequest({ ...record, status: err instanceof MnsError ? err.status : 500 });
      }
      if (err instanceof MnsError) return this.replyError(res, err, record);
      return this.replyError(res, new MnsError('InternalError', `The local MNS failed: ${(err as Error).message}`), record);
    }
  }

  private noteRequest(record: RequestRecord): void {
    this.stats.requests++;
    const key = record.code ? `${record.status} ${record.code}` : String(record.status);
    this.stats.byStatus[key] = (this.stats.byStatus[key] ?? 0) + 1;
    this.events.emit('request', record);
  }

  private replyError(res: http.ServerResponse, err: MnsError, record: RequestRecord): void {
    record.status = err.status;
    record.code = err.code;
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(err.status, { 'Content-Type': 'text/xml;charset=utf-8' });
      res.end(renderXml('Error', { Code: err.code, Message: err.message, RequestId: record.requestId, HostId: this.publicEndpoint }));
    }
    this.noteRequest(record);
  }

  private injectFailure(kind: string, req: http.IncomingMessage, res: http.ServerResponse, record: RequestRecord): void {
    switch (kind) {
      case 'internal-error':
        return this.replyError(res, new MnsError('InternalError', 'The service encountered an internal error (injected by the local MNS).'), record);
      case 'throttle':
        return this.replyError(res, new MnsError('TooManyRequests', 'Too many requests: the request rate exceeds the limit (injected by the local MNS).', 429), record);
      case 'throttle-legacy':
        return this.replyError(res, new MnsError('QpsLimitExceeded', 'The QPS limit was exceeded (injected by the local MNS).', 400), record);
      case 'service-unavailable':
        record.status = 503;
        res.writeHead(503, { 'Content-Type': 'text/html' });
        res.end('<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>');
        return this.noteRequest(record);
      case 'bad-gateway':
        record.status = 502;
        res.writeHead(502, { 'Content-Length': '0' });
        res.end();
        return this.noteRequest(record);
      case 'reset':
        record.status = 0;
        req.socket.destroy();
        return this.noteRequest(record);
      case 'timeout':
        // Never answer; the socket is closed by the client's timeout or by stop().
        record.status = 0;
        return this.noteRequest(record);
    }
  }

  /** Signature V2 and caller checks, in the order of spec §4.4. Returns the AccessKeyId. */
  private authenticate(req: http.IncomingMessage, method: string, resource: string, body: Buffer): string {
    const h = req.headers;
    const authorization = h.authorization;
    if (authorization === undefined || authorization === '') throw new MnsError('MissingAuthorizationHeader', 'The Authorization header is required.');
    const auth = parseAuthorization(authorization);
    if (!auth) throw new MnsError('InvalidAuthorizationHeader', 'The Authorization header must look like "MNS AccessKeyId:Signature".');

    const dateText = h.date ?? (h['x-mns-date'] as string | undefined);
    if (dateText === undefined || dateText === '') throw new MnsError('MissingDateHeader', 'The Date header (or x-mns-date) is required.');
    const date = Date.parse(dateText);
    if (Number.isNaN(date) || !/GMT$/.test(dateText.trim())) throw new MnsError('InvalidDateHeader', `The Date header "${dateText}" is not an RFC 1123 GMT date.`);
    const now = Date.now() + this.faults.clockOffsetMs;
    if (Math.abs(now - date) > ALLOWED_SKEW_MS) {
      throw new MnsError('TimeExpired', `The request date ${dateText} differs from the server time ${new Date(now).toUTCString()} by more than 15 minutes.`);
    }

    const version = h['x-mns-version'];
    if (version === undefined || version === '') throw new MnsError('MissingVersionHeader', 'The x-mns-version header is required.');
    if (version !== MNS_VERSION) throw new MnsError('InvalidArgument', `x-mns-version must be ${MNS_VERSION}.`);

    const found = this.accounts.resolve(auth.accessKeyId);
    if (!found) throw new MnsError('InvalidAccessKeyId', 'The AccessKeyId you provided does not exist.');

    const toSign = stringToSign(method, h, resource);
    const expected = signV2(found.record.accessKeySecret, toSign);
    if (!signaturesEqual(expected, auth.signature)) {
      // For debugging a client: what the server signed (no secret in it). The wire answer stays the service's.
      this.events.emit('signature-mismatch', { accessKeyId: auth.accessKeyId, stringToSign: toSign });
      throw new MnsError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    }

    if (found.kind === 'sts') {
      const token = h['security-token'];
      if (token === undefined || token === '') throw new MnsError('AccessDenied', 'A temporary (STS) AccessKey needs the security-token header.');
      if (!signaturesEqual(found.record.securityToken, String(token))) throw new MnsError('AccessDenied', 'The security token you provided is invalid.');
      if (this.faults.expireSecurityTokens || found.record.expiresAt <= now) throw new MnsError('AccessDenied', 'The security token you provided has expired.');
    }
    if (this.options.enforceAccountOwnership && found.record.accountId !== this.accountId) {
      throw new MnsError('AccessDenied', `The AccessKey belongs to account ${found.record.accountId}, but this MNS endpoint belongs to account ${this.accountId}.`);
    }

    const md5 = h['content-md5'];
    if (typeof md5 === 'string' && md5 !== '' && !contentMd5Matches(md5, body)) {
      throw new MnsError('InvalidDegist', 'The Content-MD5 you specified does not match the request body.');
    }
    return auth.accessKeyId;
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string, query: URLSearchParams, body: Buffer): Promise<Reply | undefined> {
    const parts = path.split('/').slice(1).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new MnsError('InvalidRequestURL', `The request URL ${path} is not valid.`);
      }
    });
    const q = (name: string): string | undefined => {
      for (const [k, v] of query) if (k.toLowerCase() === name.toLowerCase()) return v;
      return undefined;
    };
    const [kind, name, sub, subName, extra] = parts;
    const bad = (): never => {
      throw new MnsError('InvalidRequestURL', `${method} ${path} is not an MNS operation.`);
    };
    if (extra !== undefined) bad();

    if (kind === 'queues') {
      if (name === undefined || name === '') return method === 'GET' ? this.listQueues(req) : bad();
      if (sub === undefined) {
        if (method === 'PUT') return this.putQueue(name, body, q('metaoverride'));
        if (method === 'GET') return this.getQueue(name);
        if (method === 'DELETE') {
          this.deleteQueue(name);
          return { status: 204 };
        }
        return bad();
      }
      if (sub === 'messages' && subName === undefined) {
        const queue = this.queues.get(name);
        if (!queue) throw new MnsError('QueueNotExist', `The queue ${name} does not exist.`);
        if (method === 'POST') return this.sendMessages(queue, body);
        if (method === 'GET') return this.receiveMessages(queue, res, q);
        if (method === 'DELETE') return this.deleteMessages(queue, body, q('ReceiptHandle'));
        if (method === 'PUT') return this.changeVisibility(queue, q('ReceiptHandle'), q('VisibilityTimeout'));
      }
      return bad();
    }
    if (kind === 'topics') {
      if (name === undefined || name === '') return method === 'GET' ? this.listTopics(req) : bad();
      if (sub === undefined) {
        if (method === 'PUT') return this.putTopic(name, body, q('metaoverride'));
        if (method === 'GET') return this.getTopic(name);
        if (method === 'DELETE') {
          this.deleteTopic(name);
          return { status: 204 };
        }
        return bad();
      }
      const topic = this.topics.get(name);
      if (sub === 'messages' && subName === undefined && method === 'POST') {
        if (!topic) throw new MnsError('TopicNotExist', `The topic ${name} does not exist.`);
        return this.publishMessage(topic, body);
      }
      if (sub === 'subscriptions') {
        if (!topic) throw new MnsError('TopicNotExist', `The topic ${name} does not exist.`);
        if (subName === undefined || subName === '') return method === 'GET' ? this.listSubscriptions(topic, req) : bad();
        if (method === 'PUT') return this.putSubscription(topic, subName, body, q('metaoverride'));
        if (method === 'GET') return this.getSubscription(topic, subName);
        if (method === 'DELETE') {
          this.unsubscribe(topic.name, subName);
          return { status: 204 };
        }
      }
      return bad();
    }
    return bad();
  }

  // --- queues ---------------------------------------------------------------------------------------------

  private putQueue(name: string, body: Buffer, metaoverride: string | undefined): Reply {
    const doc = body.length ? parseMnsXml(body, ['Queue']) : undefined;
    const attrs: Partial<QueueAttributes> = {};
    if (doc) {
      for (const key of Object.keys(QUEUE_RANGES) as Array<keyof typeof QUEUE_RANGES>) {
        const el = child(doc, key);
        if (el) attrs[key] = intIn(key, el.text, ...QUEUE_RANGES[key]);
      }
      const logging = child(doc, 'LoggingEnabled');
      if (logging) attrs.LoggingEnabled = boolOf('LoggingEnabled', logging.text);
    }
    if (metaoverride !== undefined && isTrue(metaoverride)) {
      const queue = this.queues.get(name);
      if (!queue) throw new MnsError('QueueNotExist', `The queue ${name} does not exist.`);
      queue.attributes = { ...queue.attributes, ...attrs };
      queue.lastModifyTime = Date.now();
      return { status: 204 };
    }
    const outcome = this.createQueue(name, attrs);
    return outcome === 'created'
      ? { status: 201, headers: { Location: `${this.publicEndpoint}/queues/${name}` } }
      : { status: 204 };
  }

  private queueXml(queue: Queue): XmlNode {
    const a = queue.attributes;
    const c = queue.counts();
    return {
      QueueName: queue.name, CreateTime: queue.createTime, LastModifyTime: queue.lastModifyTime,
      DelaySeconds: a.DelaySeconds, MaximumMessageSize: a.MaximumMessageSize, MessageRetentionPeriod: a.MessageRetentionPeriod,
      VisibilityTimeout: a.VisibilityTimeout, PollingWaitSeconds: a.PollingWaitSeconds,
      ActiveMessages: c.active, InactiveMessages: c.inactive, DelayMessages: c.delayed,
      LoggingEnabled: a.LoggingEnabled ? 'True' : 'False',
    };
  }

  private getQueue(name: string): Reply {
    const queue = this.queues.get(name);
    if (!queue) throw new MnsError('QueueNotExist', `The queue ${name} does not exist.`);
    return { status: 200, xml: renderXml('Queue', this.queueXml(queue)) };
  }

  private listQueues(req: http.IncomingMessage): Reply {
    const page = paging(req, this.queueNames());
    const items = page.names.map((n) => {
      const queue = this.queues.get(n)!;
      return { QueueURL: `${this.publicEndpoint}/queues/${n}`, ...(page.withMeta ? this.queueXml(queue) : {}) };
    });
    return { status: 200, xml: renderXml('Queues', { Queue: items, NextMarker: page.nextMarker }) };
  }

  private parseOutgoing(el: XmlElement, maxSize: number, defaults: { withQueueFields: boolean }): { body: string; delaySeconds?: number; priority?: number } {
    const bodyEl = child(el, 'MessageBody');
    if (!bodyEl || bodyEl.text === '') throw new MnsError('InvalidArgument', 'MessageBody is required and must not be empty.');
    const size = Buffer.byteLength(bodyEl.text, 'utf8');
    if (size > maxSize) throw new MnsError('InvalidArgument', `The value of MessageBody should between 1 and ${maxSize} bytes (it has ${size}).`);
    const out: { body: string; delaySeconds?: number; priority?: number } = { body: bodyEl.text };
    if (defaults.withQueueFields) {
      const delay = child(el, 'DelaySeconds');
      if (delay) out.delaySeconds = intIn('DelaySeconds', delay.text, 0, 604800);
      const priority = child(el, 'Priority');
      if (priority) out.priority = intIn('Priority', priority.text, 1, 16);
    }
    return out;
  }

  private sendMessages(queue: Queue, body: Buffer): Reply {
    const doc = parseMnsXml(body, ['Message', 'Messages']);
    const max = queue.attributes.MaximumMessageSize;
    if (doc.name === 'Message') {
      const m = this.parseOutgoing(doc, max, { withQueueFields: true });
      const stored = queue.send(m.body, m);
      return { status: 201, xml: renderXml('Message', { MessageId: stored.messageId, MessageBodyMD5: stored.bodyMd5 }) };
    }
    const items = doc.children.filter((c) => c.name === 'Message');
    if (items.length < 1 || items.length > MAX_BATCH) throw new MnsError('InvalidArgument', `A batch must hold 1 to ${MAX_BATCH} messages (it has ${items.length}).`);
    const total = items.reduce((sum, el) => sum + Buffer.byteLength(child(el, 'MessageBody')?.text ?? '', 'utf8'), 0);
    if (total > BATCH_TOTAL_BYTES) throw new MnsError('InvalidArgument', `The message bodies of a batch must total at most ${BATCH_TOTAL_BYTES} bytes (they have ${total}).`);
    let failed = false;
    const results = items.map((el): XmlNode => {
      try {
        const m = this.parseOutgoing(el, max, { withQueueFields: true });
        const stored = queue.send(m.body, m);
        return { MessageId: stored.messageId, MessageBodyMD5: stored.bodyMd5 };
      } catch (err) {
        if (!(err instanceof MnsError)) throw err;
        failed = true;
        return { ErrorCode: err.code, ErrorMessage: err.message };
      }
    });
    // Partial failure: the item list with per-item errors and a non-2xx status (spec §5.4, §13.3).
    return { status: failed ? 500 : 201, xml: renderXml('Messages', { Message: results }) };
  }

  private receivedXml(m: StoredMessage, peek: boolean): XmlNode {
    return {
      MessageId: m.messageId,
      ReceiptHandle: peek ? undefined : m.receiptHandle,
      MessageBodyMD5: m.bodyMd5,
      MessageBody: m.body,
      EnqueueTime: m.enqueueTime,
      NextVisibleTime: peek ? undefined : m.visibleAt,
      FirstDequeueTime: m.firstDequeueTime || undefined,
      DequeueCount: m.dequeueCount,
      Priority: m.priority,
    };
  }

  private async receiveMessages(queue: Queue, res: http.ServerResponse, q: (n: string) => string | undefined): Promise<Reply | undefined> {
    const peek = q('peekonly') !== undefined && isTrue(q('peekonly')!);
    const numText = q('numOfMessages');
    const batch = numText !== undefined;
    const count = batch ? intIn('numOfMessages', numText, 1, MAX_BATCH) : 1;
    const waitText = q('waitseconds');
    const wait = peek ? 0 : waitText !== undefined ? intIn('waitseconds', waitText, 0, MAX_WAIT_SECONDS) : queue.attributes.PollingWaitSeconds;

    const pending = queue.receive(count, wait * 1000, peek);
    let gone = false;
    const onClose = (): void => {
      if (res.writableFinished) return;
      gone = true;
      pending.cancel();
    };
    res.on('close', onClose);
    if (pending.parked) this.events.emit('long-poll', { queue: queue.name, waitSeconds: wait });
    const messages = await pending.promise;
    res.off('close', onClose);
    if (gone || this.stopped) return undefined;
    if (messages.length === 0) throw new MnsError('MessageNotExist', 'Message not exist.');
    if (!batch) return { status: 200, xml: renderXml('Message', this.receivedXml(messages[0], peek)) };
    return { status: 200, xml: renderXml('Messages', { Message: messages.map((m) => this.receivedXml(m, peek)) }) };
  }

  private deleteMessages(queue: Queue, body: Buffer, handle: string | undefined): Reply {
    if (handle !== undefined) {
      if (handle === '') throw new MnsError('MissingReceiptHandle', 'The ReceiptHandle parameter is empty.');
      queue.delete(handle);
      return { status: 204 };
    }
    if (body.length === 0) throw new MnsError('MissingReceiptHandle', 'The ReceiptHandle parameter is required.');
    const doc = parseMnsXml(body, ['ReceiptHandles']);
    const handles = doc.children.filter((c) => c.name === 'ReceiptHandle').map((c) => c.text);
    if (handles.length < 1 || handles.length > MAX_BATCH) throw new MnsError('InvalidArgument', `A batch must hold 1 to ${MAX_BATCH} receipt handles (it has ${handles.length}).`);
    const errors: XmlNode[] = [];
    for (const h of handles) {
      try {
        queue.delete(h);
      } catch (err) {
        if (!(err instanceof MnsError)) throw err;
        errors.push({ ErrorCode: err.code, ErrorMessage: err.message, ReceiptHandle: h });
      }
    }
    if (errors.length === 0) return { status: 204 };
    return { status: 404, xml: renderXml('Errors', { Error: errors }) };
  }

  private changeVisibility(queue: Queue, handle: string | undefined, timeout: string | undefined): Reply {
    if (handle === undefined || handle === '') throw new MnsError('MissingReceiptHandle', 'The ReceiptHandle parameter is required.');
    if (timeout === undefined || timeout === '') throw new MnsError('MissingVisibilityTimeout', 'The VisibilityTimeout parameter is required.');
    const vt = intIn('VisibilityTimeout', timeout, 1, 43200);
    const msg = queue.changeVisibility(handle, vt);
    return { status: 200, xml: renderXml('ChangeVisibility', { ReceiptHandle: msg.receiptHandle, NextVisibleTime: msg.visibleAt }) };
  }

  // --- topics ---------------------------------------------------------------------------------------------

  private putTopic(name: string, body: Buffer, metaoverride: string | undefined): Reply {
    const doc = body.length ? parseMnsXml(body, ['Topic']) : undefined;
    const attrs: Partial<TopicAttributes> = {};
    if (doc) {
      const size = child(doc, 'MaximumMessageSize');
      if (size) attrs.MaximumMessageSize = intIn('MaximumMessageSize', size.text, 1024, 65536);
      const logging = child(doc, 'LoggingEnabled');
      if (logging) attrs.LoggingEnabled = boolOf('LoggingEnabled', logging.text);
    }
    if (metaoverride !== undefined && isTrue(metaoverride)) {
      const topic = this.topics.get(name);
      if (!topic) throw new MnsError('TopicNotExist', `The topic ${name} does not exist.`);
      topic.attributes = { ...topic.attributes, ...attrs };
      topic.lastModifyTime = Date.now();
      return { status: 204 };
    }
    const outcome = this.createTopic(name, attrs);
    return outcome === 'created' ? { status: 201, headers: { Location: `${this.publicEndpoint}/topics/${name}` } } : { status: 204 };
  }

  private topicXml(topic: Topic): XmlNode {
    return {
      TopicName: topic.name, CreateTime: topic.createTime, LastModifyTime: topic.lastModifyTime,
      MaximumMessageSize: topic.attributes.MaximumMessageSize, MessageRetentionPeriod: 86400,
      MessageCount: topic.messageCount, LoggingEnabled: topic.attributes.LoggingEnabled ? 'True' : 'False',
    };
  }

  private getTopic(name: string): Reply {
    const topic = this.topics.get(name);
    if (!topic) throw new MnsError('TopicNotExist', `The topic ${name} does not exist.`);
    return { status: 200, xml: renderXml('Topic', this.topicXml(topic)) };
  }

  private listTopics(req: http.IncomingMessage): Reply {
    const page = paging(req, this.topicNames());
    const items = page.names.map((n) => ({ TopicURL: `${this.publicEndpoint}/topics/${n}`, ...(page.withMeta ? this.topicXml(this.topics.get(n)!) : {}) }));
    return { status: 200, xml: renderXml('Topics', { Topic: items, NextMarker: page.nextMarker }) };
  }

  private publishMessage(topic: Topic, body: Buffer): Reply {
    const doc = parseMnsXml(body, ['Message']);
    const m = this.parseOutgoing(doc, topic.attributes.MaximumMessageSize, { withQueueFields: false });
    const tagEl = child(doc, 'MessageTag');
    const tag = tagEl && tagEl.text !== '' ? tagEl.text : undefined;
    if (tag !== undefined && tag.length > 16) throw new MnsError('InvalidArgument', 'The value of MessageTag should be 1 to 16 characters.');
    const stored = this.publish(topic.name, m.body, tag);
    return { status: 201, xml: renderXml('Message', { MessageId: stored.messageId, MessageBodyMD5: stored.bodyMd5 }) };
  }

  private putSubscription(topic: Topic, name: string, body: Buffer, metaoverride: string | undefined): Reply {
    const doc = parseMnsXml(body, ['Subscription']);
    const text = (n: string): string | undefined => child(doc, n)?.text;
    if (metaoverride !== undefined && isTrue(metaoverride)) {
      const sub = topic.subscriptions.get(name);
      if (!sub) throw new MnsError('SubscriptionNotExist', `The subscription ${name} does not exist.`);
      const strategy = text('NotifyStrategy');
      if (strategy !== undefined) {
        if (strategy !== 'BACKOFF_RETRY' && strategy !== 'EXPONENTIAL_DECAY_RETRY') throw new MnsError('InvalidArgument', 'NotifyStrategy must be BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY.');
        sub.notifyStrategy = strategy;
        sub.lastModifyTime = Date.now();
      }
      return { status: 204 };
    }
    const outcome = this.subscribe(topic.name, name, {
      endpoint: text('Endpoint') ?? '',
      filterTag: text('FilterTag'),
      notifyStrategy: text('NotifyStrategy') as NotifyStrategy | undefined,
      notifyContentFormat: text('NotifyContentFormat') as NotifyContentFormat | undefined,
    });
    return outcome === 'created'
      ? { status: 201, headers: { Location: `${this.publicEndpoint}/topics/${topic.name}/subscriptions/${name}` } }
      : { status: 204 };
  }

  private getSubscription(topic: Topic, name: string): Reply {
    const sub = topic.subscriptions.get(name);
    if (!sub) throw new MnsError('SubscriptionNotExist', `The subscription ${name} does not exist.`);
    return {
      status: 200,
      xml: renderXml('Subscription', {
        TopicOwner: this.accountId, TopicName: topic.name, SubscriptionName: name, Endpoint: sub.endpoint,
        NotifyStrategy: sub.notifyStrategy, NotifyContentFormat: sub.notifyContentFormat, FilterTag: sub.filterTag ?? '',
        CreateTime: sub.createTime, LastModifyTime: sub.lastModifyTime,
      }),
    };
  }

  private listSubscriptions(topic: Topic, req: http.IncomingMessage): Reply {
    const page = paging(req, [...topic.subscriptions.keys()].sort());
    const items = page.names.map((n) => ({ SubscriptionURL: `${this.publicEndpoint}/topics/${topic.name}/subscriptions/${n}` }));
    return { status: 200, xml: renderXml('Subscriptions', { Subscription: items, NextMarker: page.nextMarker }) };
  }

  // --- /__emulator: unsigned inspection and control, JSON in and out ------------------------------------

  private async handleAdmin(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string): Promise<void> {
    const send = (status: number, value: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8' });
      res.end(status === 204 ? undefined : JSON.stringify(value, null, 2));
    };
    try {
      const raw = await readBody(req);
      let input: Record<string, unknown> = {};
      if (raw.length) {
        try {
          input = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
        } catch {
          return send(400, { error: 'the request body must be JSON' });
        }
      }
      const parts = path.split('/').slice(2).map(decodeURIComponent);
      const [kind, name, sub, subName] = parts;
      if (kind === undefined || kind === '') {
        if (method !== 'GET') return send(405, { error: `${method} is not supported here` });
        return send(200, {
          accountId: this.accountId, region: this.region, url: this.url, certUrl: this.certUrl,
          topics: this.topicNames(), queues: this.queueNames(), stats: this.stats, faults: this.faults.state(),
        });
      }
      if (kind === 'faults' && name === undefined) {
        if (method === 'GET') return send(200, { ...this.faults.state(), injected: this.faults.injected });
        if (method === 'DELETE') {
          this.faults.clear();
          return send(200, this.faults.state());
        }
        if (method === 'POST' || method === 'PUT') {
          // An outage closes every socket, this one included: answer first, then start it.
          const { outageMs, ...rest } = input as FaultInput;
          if (outageMs !== undefined && !(Number(outageMs) > 0)) return send(400, { error: 'outageMs must be a number > 0' });
          void this.faults.apply(rest);
          const state = this.faults.state();
          if (outageMs !== undefined) {
            state.outageUntil = Date.now() + Number(outageMs);
            res.once('finish', () => void this.faults.outage(Number(outageMs)));
          }
          return send(200, state);
        }
      }
      if (kind === 'deliveries' && name === undefined && method === 'GET') return send(200, this.deliveryLog());
      if (kind === 'topics' && name) {
        if (sub === undefined) {
          if (method === 'GET') {
            const topic = this.topics.get(name);
            if (!topic) return send(404, { error: `no topic named "${name}"` });
            return send(200, { name, attributes: topic.attributes, messageCount: topic.messageCount, subscriptions: this.subscriptions(name) });
          }
          if (method === 'PUT' || method === 'POST') return send(200, { outcome: this.createTopic(name, input as Partial<TopicAttributes>) });
          if (method === 'DELETE') {
            this.deleteTopic(name);
            return send(204, undefined);
          }
        }
        if (sub === 'published' && method === 'GET') {
          if (!this.topics.has(name)) return send(404, { error: `no topic named "${name}"` });
          return send(200, this.published(name));
        }
        if (sub === 'subscriptions' && subName) {
          if (method === 'PUT' || method === 'POST') return send(200, { outcome: this.subscribe(name, subName, input as SubscriptionOptions) });
          if (method === 'DELETE') {
            this.unsubscribe(name, subName);
            return send(204, undefined);
          }
        }
      }
      if (kind === 'queues' && name && sub === undefined) {
        if (method === 'GET') {
          const info = this.queueInfo(name);
          return info ? send(200, info) : send(404, { error: `no queue named "${name}"` });
        }
        if (method === 'PUT' || method === 'POST') return send(200, { outcome: this.createQueue(name, input as Partial<QueueAttributes>) });
        if (method === 'DELETE') {
          this.deleteQueue(name);
          return send(204, undefined);
        }
      }
      return send(404, { error: `${method} ${path} is not an emulator operation` });
    } catch (err) {
      if (err instanceof MnsError) return send(err.status, { error: err.message, code: err.code });
      return send(400, { error: (err as Error).message });
    }
  }
}

// ----------------------------------------------------------------------------------------------------------

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) reject(new MnsError('InvalidArgument', `The request body is larger than ${MAX_REQUEST_BYTES} bytes.`));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** Parses a request body and checks the root element and the MNS namespace (with or without the trailing slash). */
function parseMnsXml(body: Buffer, roots: string[]): XmlElement {
  let doc: XmlElement;
  try {
    doc = parseXml(body.toString('utf8'));
  } catch (err) {
    if (err instanceof XmlSyntaxError) throw new MnsError('MalformedXML', `The XML you provided was not well-formed: ${err.message}.`);
    throw err;
  }
  if (!roots.includes(doc.name)) throw new MnsError('MalformedXML', `The root element must be <${roots.join('> or <')}>, not <${doc.name}>.`);
  const ns = doc.attributes.xmlns;
  if (ns !== MNS_NAMESPACE && ns !== MNS_NAMESPACE.slice(0, -1)) {
    throw new MnsError('MalformedXML', `The root element must carry xmlns="${MNS_NAMESPACE}"${ns === undefined ? '' : ` (found "${ns}")`}.`);
  }
  return doc;
}

function intIn(name: string, text: string, min: number, max: number): number {
  const trimmed = text.trim();
  const n = /^-?\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new MnsError('InvalidArgument', `The value of ${name} should between ${min} and ${max}.`);
  return n;
}

function boolOf(name: string, text: string): boolean {
  if (/^true$/i.test(text.trim())) return true;
  if (/^false$/i.test(text.trim())) return false;
  throw new MnsError('InvalidArgument', `The value of ${name} should be True or False.`);
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new MnsError('InvalidArgument', `The value of ${name} should between ${min} and ${max}.`);
}

function validateQueueAttributes(a: QueueAttributes): void {
  for (const key of Object.keys(QUEUE_RANGES) as Array<keyof typeof QUEUE_RANGES>) checkRange(key, a[key], ...QUEUE_RANGES[key]);
}

function sameAttributes<T extends object>(a: T, b: T): boolean {
  return Object.keys(a).every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

function validateName(name: string, kind: 'Queue' | 'Topic' | 'Subscription'): void {
  const maxLength = kind === 'Subscription' ? 255 : 120;
  const lengthCode = `${kind}NameLengthError`;
  const invalidCode = kind === 'Queue' ? 'InvalidQueueName' : `${kind}NameInvalid`;
  if (name.length < 1 || name.length > maxLength) throw new MnsError(lengthCode, `The ${kind.toLowerCase()} name must be 1 to ${maxLength} characters (it has ${name.length}).`);
  if (!NAME_RE.test(name)) throw new MnsError(invalidCode, `The ${kind.toLowerCase()} name "${name}" may hold only letters, digits and "-", and must start with a letter or digit.`);
}

function paging(req: http.IncomingMessage, names: string[]): { names: string[]; nextMarker?: string; withMeta: boolean } {
  const h = req.headers;
  const prefix = (h['x-mns-prefix'] as string | undefined) ?? '';
  const marker = (h['x-mns-marker'] as string | undefined) ?? '';
  const retText = h['x-mns-ret-number'] as string | undefined;
  const ret = retText !== undefined && retText !== '' ? intIn('x-mns-ret-number', retText, 1, 1000) : 1000;
  const matching = names.filter((n) => n.startsWith(prefix) && n >= marker);
  return {
    names: matching.slice(0, ret),
    nextMarker: matching.length > ret ? matching[ret] : undefined,
    withMeta: isTrue(String(h['x-mns-with-meta'] ?? '')),
  };
}

function messageEvent(m: StoredMessage): MessageView {
  return {
    messageId: m.messageId, body: m.body, bodyMd5: m.bodyMd5, priority: m.priority,
    state: m.visibleAt <= Date.now() ? 'active' : m.dequeueCount === 0 ? 'delayed' : 'inactive',
    enqueueTime: m.enqueueTime, firstDequeueTime: m.firstDequeueTime || undefined, dequeueCount: m.dequeueCount,
    nextVisibleTime: m.visibleAt, receiptHandle: m.receiptHandle,
  };
}
