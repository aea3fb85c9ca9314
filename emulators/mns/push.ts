// Topic fan-out deliveries (spec §3): notification bodies in XML / JSON / SIMPLIFIED, signed HTTP pushes
// (spec §3.4) and the NotifyStrategy retry schedules (spec §3.5), scaled by a time factor for tests.
import http from 'node:http';
import https from 'node:https';
import type { KeyObject } from 'node:crypto';
import { canonicalizedMnsHeaders, signPush } from './signature';
import { MNS_NAMESPACE, escapeXml } from './xml';

export type NotifyStrategy = 'BACKOFF_RETRY' | 'EXPONENTIAL_DECAY_RETRY';
export type NotifyContentFormat = 'XML' | 'JSON' | 'SIMPLIFIED';

export interface NotificationContext {
  topicOwner: string;
  topicName: string;
  subscriber: string;
  subscriptionName: string;
  messageId: string;
  message: string;
  messageMd5: string;
  messageTag?: string;
  publishTime: number;
}

export interface Notification {
  body: string;
  contentType: string;
  /** Extra x-mns-* headers of an HTTP push (SIMPLIFIED only). */
  headers: Record<string, string>;
}

/** Renders what a subscriber receives for one published message (spec §3.2). */
export function renderNotification(format: NotifyContentFormat, n: NotificationContext): Notification {
  if (format === 'SIMPLIFIED') {
    const headers: Record<string, string> = { 'x-mns-message-id': n.messageId };
    if (n.messageTag) headers['x-mns-message-tag'] = n.messageTag;
    return { body: n.message, contentType: 'text/plain;charset=utf-8', headers };
  }
  const fields: Array<[string, string]> = [
    ['TopicOwner', n.topicOwner],
    ['TopicName', n.topicName],
    ['Subscriber', n.subscriber],
    ['SubscriptionName', n.subscriptionName],
    ['MessageId', n.messageId],
    ['Message', n.message],
    ['MessageMD5', n.messageMd5],
  ];
  // MessageTag is left out when the message has none (spec §13.9).
  if (n.messageTag) fields.push(['MessageTag', n.messageTag]);
  fields.push(['PublishTime', String(n.publishTime)]);
  if (format === 'JSON') {
    return { body: JSON.stringify(Object.fromEntries(fields)), contentType: 'application/json;charset=utf-8', headers: {} };
  }
  const inner = fields.map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('');
  return {
    body: `<?xml version="1.0" encoding="utf-8"?>\n<Notification xmlns="${MNS_NAMESPACE}">${inner}</Notification>`,
    contentType: 'text/xml;charset=utf-8',
    headers: {},
  };
}

/** Waits before each retry, in ms, for a strategy (spec §3.5), before scaling. */
export function retryDelays(strategy: NotifyStrategy, maxRetries?: number, random: () => number = Math.random): number[] {
  const out: number[] = [];
  if (strategy === 'BACKOFF_RETRY') {
    for (let i = 0; i < 3; i++) out.push(10_000 + Math.floor(random() * 10_000));
  } else {
    for (let i = 0; i < 176; i++) out.push(Math.min(2 ** i, 512) * 1000);
  }
  return maxRetries === undefined ? out : out.slice(0, Math.max(0, maxRetries));
}

export interface Delivery {
  id: number;
  topic: string;
  subscription: string;
  endpoint: string;
  format: NotifyContentFormat;
  /** Topic message ID. */
  messageId: string;
  attempts: number;
  state: 'pending' | 'delivered' | 'discarded' | 'not-emulated';
  lastStatus?: number;
  lastError?: string;
  deliveredAt?: number;
  /** For queue endpoints: the ID of the queue message created. */
  queueMessageId?: string;
}

export interface PushOptions {
  /** Multiplies every retry interval (e.g. 0.001 turns 10–20 s into 10–20 ms). Default 1. */
  timeScale?: number;
  /** Caps the number of retries after the first attempt (default: the strategy's own count). */
  maxRetries?: number;
  /** An HTTP push that has not answered within this many ms counts as failed. Default 5000. */
  timeoutMs?: number;
}

export class Pusher {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<http.ClientRequest>();
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32 });
  private stopped = false;

  constructor(
    private readonly options: PushOptions,
    private readonly signing: { privateKey: KeyObject; certUrl: () => string; nextRequestId: () => string },
    private readonly onAttempt: (delivery: Delivery) => void,
  ) {}

  /** Runs `attempt` now and, on failure, again per the strategy's schedule; the delivery records the outcome. */
  run(delivery: Delivery, strategy: NotifyStrategy, attempt: () => Promise<void>): void {
    const delays = retryDelays(strategy, this.options.maxRetries);
    const scale = this.options.timeScale ?? 1;
    const go = (retry: number): void => {
      if (this.stopped) return;
      delivery.attempts++;
      attempt().then(
        () => {
          delivery.state = 'delivered';
          delivery.deliveredAt = Date.now();
          delivery.lastError = undefined;
          this.onAttempt(delivery);
        },
        (err: Error) => {
          if (this.stopped) return;
          delivery.lastError = err.message;
          if (retry >= delays.length) delivery.state = 'discarded';
          this.onAttempt(delivery);
          if (retry >= delays.length) return;
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            go(retry + 1);
          }, Math.max(0, Math.round(delays[retry] * scale)));
          timer.unref();
          this.timers.add(timer);
        },
      );
    };
    go(0);
  }

  /** One signed HTTP push (spec §3.4). Resolves on 2xx; rejects on anything else, a network error or the timeout. */
  postSigned(delivery: Delivery, endpoint: string, notification: Notification): Promise<void> {
    const url = new URL(endpoint);
    // An endpoint given as bare http://host[:port] gets the documented default path.
    const hasPath = /^https?:\/\/[^/?#]+[/?]/i.test(endpoint);
    const path = hasPath ? `${url.pathname}${url.search}` : '/notifications';
    const date = new Date().toUTCString();
    const mnsHeaders: Record<string, string> = {
      'x-mns-request-id': this.signing.nextRequestId(),
      'x-mns-signing-cert-url': Buffer.from(this.signing.certUrl(), 'utf8').toString('base64'),
      'x-mns-version': '2015-06-06',
      ...notification.headers,
    };
    const toSign = `POST\n\n${notification.contentType}\n${date}\n${canonicalizedMnsHeaders(mnsHeaders)}${path}`;
    const body = Buffer.from(notification.body, 'utf8');
    const headers: Record<string, string | number> = {
      ...mnsHeaders,
      Authorization: signPush(this.signing.privateKey, toSign),
      Date: date,
      'Content-Type': notification.contentType,
      'Content-Length': body.length,
    };
    const isHttps = url.protocol === 'https:';
    const transport = isHttps ? https : http;
    return new Promise<void>((resolve, reject) => {
      const req = transport.request({
        method: 'POST',
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || (isHttps ? 443 : 80),
        path,
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        timeout: this.options.timeoutMs ?? 5000,
      });
      this.requests.add(req);
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs ?? 5000} ms`)));
      req.on('error', (err) => {
        this.requests.delete(req);
        reject(err);
      });
      req.on('response', (res) => {
        delivery.lastStatus = res.statusCode;
        res.resume();
        res.on('end', () => {
          this.requests.delete(req);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`endpoint answered HTTP ${status}`));
        });
        res.on('error', reject);
      });
      req.end(body);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const req of this.requests) req.destroy();
    this.requests.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
