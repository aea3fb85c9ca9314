// The MNS adapter over @alicloud/mns (spec §10.4). The SDK signs requests and builds the URLs; this layer
// neutralises its defects (spec §10.1), each one proven by test/mns/client.test.ts against the local MNS.
// PublishMessage alone is a minimal own call (publish.ts, signature.ts; the reason — throughput — is there) that
// keeps the same contract, proven by the same tests:
//  - no XML escaping           → bodies and tags are escaped here, and illegal XML characters refused;
//  - non-XML errors resolve    → every non-2xx (503 HTML, empty 502) and every unreadable answer throws;
//  - untyped errors            → one MnsError {code, status, requestId, retryable};
//  - fixed-interval STS refresh → credentials come from our provider on every call (security-token included),
//    and an auth error with STS credentials refreshes them once and retries;
//  - 40 s timeouts, no abort   → short per-call timeouts and our own keep-alive agent, destroyed by close()
//    so a long poll ends at once.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import MNSClient from '@alicloud/mns';
import type { Credentials } from '../credentials/types';
import { bodyMd5, bodyProblem, escapeXml, tagProblem } from './body';
import { MnsError, codeForStatus, fromSdkError } from './errors';
import { mnsEndpoint, type EndpointOptions } from './endpoint';
import { postPublish, publishXml, type PublishTarget } from './publish';

type MnsSdkResponse = MNSClient.MnsSdkResponse;

/** Any CredentialProvider; `refresh()` (RefreshingCredentialProvider has it) is used after an auth failure. */
export interface CredentialSource {
  getCredentials(): Promise<Credentials>;
  refresh?(): Promise<Credentials>;
}

export interface MnsClientOptions extends EndpointOptions {
  credentials: CredentialSource;
  /** Read timeout for publish/delete/visibility calls, ms (default 10 s; the SDK's is 40 s). */
  timeoutMs?: number;
  /** Connect timeout, ms (default 5 s). */
  connectTimeoutMs?: number;
  /** Upper bound of sockets kept to the endpoint (default: unlimited, as Node's agent). */
  maxSockets?: number;
}

export interface PublishResult {
  messageId: string;
  bodyMD5: string;
  requestId?: string;
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  bodyMD5: string;
  enqueueTime: number;
  nextVisibleTime: number;
  firstDequeueTime: number;
  dequeueCount: number;
  priority: number;
}

export interface DeleteFailure {
  receiptHandle: string;
  code: string;
  message: string;
}

export interface ChangeVisibilityResult {
  receiptHandle: string;
  nextVisibleTime: number;
}

const QUEUE_OR_TOPIC = /^[A-Za-z0-9][A-Za-z0-9-]{0,119}$/;
/** Receipt handles go raw into the query, as every SDK does (spec §1.4); refuse anything that would need escaping. */
const RECEIPT_HANDLE = /^[A-Za-z0-9+/=_.-]{1,512}$/;
const REQUEST_ID = 'x-mns-request-id';

function checkName(kind: 'topic' | 'queue', name: string): void {
  if (!QUEUE_OR_TOPIC.test(name)) {
    throw new MnsError({
      code: 'InvalidArgument',
      status: 0,
      source: 'local',
      retryable: false,
      message: `the ${kind} name "${name}" is invalid: use 1–120 letters, digits and "-", starting with a letter or digit`,
    });
  }
}

function localError(message: string): MnsError {
  return new MnsError({ code: 'InvalidArgument', status: 0, source: 'local', retryable: false, message });
}

function num(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export class MnsClient {
  readonly endpoint: string;
  private readonly accountId: string;
  private readonly credentials: CredentialSource;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private agent: http.Agent;
  private target: PublishTarget;
  private readonly maxSockets?: number;
  /** One SDK client per credential set (the SDK keeps the keys on the instance); the last few are kept. */
  private readonly sdkClients = new Map<string, MNSClient>();
  private closed = false;
  /**
   * The reject functions of the calls in flight, for close()/abortInFlight(). (A Promise.race against one
   * long-pending "aborted" promise would leave a reaction on it per call: memory that grows with every publish.)
   */
  private readonly inFlight = new Set<(err: Error) => void>();

  constructor(o: MnsClientOptions) {
    this.endpoint = mnsEndpoint(o);
    // The SDK uses the account ID only to build the host, which a full endpoint replaces.
    this.accountId = o.accountId && o.accountId.trim() !== '' ? o.accountId.trim() : '0';
    this.credentials = o.credentials;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5_000;
    this.maxSockets = o.maxSockets;
    this.agent = this.newAgent();
    const url = new URL(this.endpoint);
    this.target = {
      secure: url.protocol === 'https:',
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port !== '' ? Number(url.port) : undefined,
      agent: this.agent,
      timeoutMs: this.timeoutMs,
      isClosed: () => this.closed,
    };
  }

  /** Where publishMessage posts to, with the current agent (abortInFlight replaces it). */
  private publishTarget(): PublishTarget {
    if (this.target.agent !== this.agent) this.target = { ...this.target, agent: this.agent };
    return this.target;
  }

  /** Settles like `p`, or rejects at once when close()/abortInFlight() ends the calls in flight. */
  private abortable<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      p.then(
        (v) => {
          this.inFlight.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          this.inFlight.delete(reject);
          reject(err);
        },
      );
    });
  }

  private abortAll(err: Error): void {
    const rejects = [...this.inFlight];
    this.inFlight.clear();
    for (const r of rejects) r(err);
  }

  private newAgent(): http.Agent {
    const options = { keepAlive: true, maxSockets: this.maxSockets ?? Infinity, scheduling: 'lifo' as const };
    const agent = this.endpoint.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
    // The SDK's HTTP layer (httpx) gives its "connect timeout" to http.request as `timeout`, which is the socket's
    // idle timer: a long poll that waits longer than it would fail with "ConnectTimeout". So httpx gets the read
    // timeout there (see sdkFor), and the connect timeout is enforced here, on connecting only.
    const connectTimeoutMs = this.connectTimeoutMs;
    const create = agent.createConnection.bind(agent) as (o: unknown, cb?: unknown) => net.Socket;
    (agent as unknown as { createConnection: (o: unknown, cb?: unknown) => net.Socket }).createConnection = (o, cb) => {
      const socket = create(o, cb);
      if (socket.connecting) {
        const timer = setTimeout(() => {
          socket.destroy(Object.assign(new Error(`ConnectTimeout: no connection to ${this.endpoint} within ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
        }, connectTimeoutMs);
        timer.unref();
        socket.once('connect', () => clearTimeout(timer));
        socket.once('secureConnect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      }
      return socket;
    };
    return agent;
  }

  /** Ends every in-flight call (a long poll included) and refuses new ones. */
  close(): void {
    this.closed = true;
    this.abortAll(new MnsError({ code: 'Closed', status: 0, source: 'local', retryable: false, message: 'MNS call aborted: the client was closed' }));
    this.agent.destroy();
    this.sdkClients.clear();
  }

  /** Aborts in-flight calls (they reject with NetworkError) but keeps the client usable. */
  abortInFlight(): void {
    const old = this.agent;
    this.agent = this.newAgent();
    this.abortAll(new MnsError({ code: 'Aborted', status: 0, source: 'local', retryable: true, message: 'MNS call aborted before an answer arrived (it may or may not have taken effect)' }));
    old.destroy();
  }

  private sdkFor(c: Credentials): MNSClient {
    const key = `${c.accessKeyId}\u0000${c.securityToken ?? ''}\u0000${c.accessKeySecret}`;
    let client = this.sdkClients.get(key);
    if (client) return client;
    client = new MNSClient(this.accountId, {
      endpoint: this.endpoint,
      accessKeyId: c.accessKeyId,
      accessKeySecret: c.accessKeySecret,
      securityToken: c.securityToken,
      readTimeout: this.timeoutMs,
      connectTimeout: this.timeoutMs,
    });
    // Every SDK method funnels into request(): add our agent, per-call timeout and the request-ID header.
    const sdkRequest = client.request.bind(client);
    client.request = (method, resource, type, body, attentions, opts) => {
      return sdkRequest(method, resource, type, body, [...(attentions ?? []), REQUEST_ID], {
        ...opts,
        agent: this.agent,
        // Runs synchronously right before the socket request: a closed client sends nothing more.
        beforeRequest: (options: unknown) => {
          if (this.closed) throw new Error('MNS client closed');
          return options;
        },
        readTimeout: opts?.readTimeout ?? this.timeoutMs,
        // httpx's "connect" timeout is really the socket's idle timer: it must outlast the answer (a long poll).
        connectTimeout: opts?.readTimeout ?? this.timeoutMs,
      });
    };
    if (this.sdkClients.size >= 4) this.sdkClients.delete(this.sdkClients.keys().next().value as string);
    this.sdkClients.set(key, client);
    return client;
  }

  /** Runs one SDK call (see withCredentials); an answer with a status not in `okStatuses` throws. */
  private async call(operation: string, run: (sdk: MNSClient) => Promise<MnsSdkResponse>, okStatuses: number[]): Promise<MnsSdkResponse> {
    const res = await this.withCredentials(operation, (creds) => run(this.sdkFor(creds)));
    if (!okStatuses.includes(res.code)) {
      const requestId = res.headers[REQUEST_ID];
      throw new MnsError({
        code: codeForStatus(res.code),
        status: res.code,
        requestId,
        source: 'http',
        message: `MNS ${operation} failed: HTTP ${res.code} without an MNS error body`,
      });
    }
    return res;
  }

  /**
   * Runs one call with fresh credentials, ended at once by close()/abortInFlight(). Auth errors with STS
   * credentials (and TimeExpired, which a fresh Date cures after a local stall) are retried once at once, after
   * refreshing the credentials.
   */
  private async withCredentials<T>(operation: string, run: (creds: Credentials) => Promise<T>): Promise<T> {
    let refreshed = false;
    for (;;) {
      if (this.closed) throw new MnsError({ code: 'Closed', status: 0, source: 'local', retryable: false, message: `MNS ${operation} refused: the client is closed` });
      let creds: Credentials;
      try {
        creds = refreshed && this.credentials.refresh ? await this.credentials.refresh() : await this.credentials.getCredentials();
      } catch (err) {
        const e = err as Error & { retryable?: boolean; code?: string };
        throw new MnsError({
          code: 'CredentialsUnavailable',
          status: 0,
          source: 'local',
          retryable: e.retryable ?? true,
          message: `MNS ${operation}: no credentials: ${e.message}`,
          cause: err,
        });
      }
      try {
        if (this.closed) throw new MnsError({ code: 'Closed', status: 0, source: 'local', retryable: false, message: `MNS ${operation} refused: the client is closed` });
        return await this.abortable(run(creds));
      } catch (err) {
        const e = fromSdkError(err, operation);
        const secondChance = !refreshed && ((e.credentialsSuspect && creds.securityToken !== undefined) || e.code === 'TimeExpired');
        if (secondChance) {
          refreshed = true;
          continue;
        }
        if (e.credentialsSuspect && e.code !== 'SecurityTokenExpired') throw e.withRetryable(false);
        throw e;
      }
    }
  }

  /** PublishMessage (spec §2.4). `body` is sent as exact text; refused locally when MNS could not take it. */
  async publishMessage(topic: string, body: string, tag?: string): Promise<PublishResult> {
    checkName('topic', topic);
    const problem = bodyProblem(body);
    if (problem) throw localError(problem);
    if (tag !== undefined && tag !== '') {
      const tp = tagProblem(tag);
      if (tp) throw localError(tp);
    }
    // The one operation not sent through the SDK: see publish.ts for why (throughput of the hot path).
    const xml = publishXml(body, tag);
    const operation = `publish to topic ${topic}`;
    const res = await this.withCredentials(operation, (creds) => postPublish(this.publishTarget(), creds, topic, xml, operation));
    const { requestId, messageId, bodyMD5: md5 } = res;
    const expected = bodyMd5(body);
    if (md5 && md5.toUpperCase() !== expected) {
      // MNS stored something else than we sent; the message under messageId is corrupt, so publish again.
      throw new MnsError({
        code: 'BodyMD5Mismatch',
        status: res.status,
        requestId,
        source: 'http',
        retryable: true,
        message: `MNS publish to topic ${topic}: MessageBodyMD5 ${md5} does not match the body sent (${expected}); message ${messageId} is corrupt`,
      });
    }
    return { messageId, bodyMD5: md5 || expected, requestId };
  }

  /**
   * Batch ReceiveMessage (spec §5.6): up to `batch` (1..16) messages, waiting up to `waitSeconds` (0..30).
   * An empty queue (404 MessageNotExist) is an empty array.
   */
  async receiveMessages(queue: string, waitSeconds: number, batch: number): Promise<ReceivedMessage[]> {
    checkName('queue', queue);
    if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 30) throw localError(`wait seconds must be a whole number from 0 to 30, got ${waitSeconds}`);
    if (!Number.isInteger(batch) || batch < 1 || batch > 16) throw localError(`batch size must be a whole number from 1 to 16, got ${batch}`);
    let url = `/queues/${queue}/messages?numOfMessages=${batch}`;
    if (waitSeconds > 0) url += `&waitseconds=${waitSeconds}`;
    // The read timeout must outlast the long poll (spec §5.5).
    const readTimeout = waitSeconds * 1000 + this.timeoutMs;
    let res: MnsSdkResponse;
    try {
      res = await this.call(`receive from queue ${queue}`, (sdk) => sdk.request('GET', url, 'Messages', '', [], { readTimeout }), [200]);
    } catch (err) {
      if (err instanceof MnsError && err.code === 'MessageNotExist') return [];
      throw err;
    }
    const raw = res.body?.Message;
    if (!Array.isArray(raw)) {
      throw new MnsError({ code: 'InvalidResponse', status: res.code, requestId: res.headers[REQUEST_ID], source: 'http', message: `MNS receive from queue ${queue}: the answer holds no <Message>` });
    }
    return raw.map((m: Record<string, unknown>) => ({
      messageId: str(m.MessageId),
      receiptHandle: str(m.ReceiptHandle),
      body: str(m.MessageBody),
      bodyMD5: str(m.MessageBodyMD5),
      enqueueTime: num(m.EnqueueTime),
      nextVisibleTime: num(m.NextVisibleTime),
      firstDequeueTime: num(m.FirstDequeueTime),
      dequeueCount: num(m.DequeueCount),
      priority: num(m.Priority),
    }));
  }

  /** DeleteMessage / BatchDeleteMessage (spec §5.7–5.8). Returns the handles MNS refused (stale ones, mostly). */
  async deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteFailure[]> {
    checkName('queue', queue);
    if (receiptHandles.length === 0) return [];
    if (receiptHandles.length > 16) throw localError(`at most 16 receipt handles per delete, got ${receiptHandles.length}`);
    for (const h of receiptHandles) if (!RECEIPT_HANDLE.test(h)) throw localError(`"${h}" is not an MNS receipt handle`);
    if (receiptHandles.length === 1) {
      const handle = receiptHandles[0];
      try {
        await this.call(`delete from queue ${queue}`, (sdk) => sdk.deleteMessage(queue, handle), [204]);
        return [];
      } catch (err) {
        if (err instanceof MnsError && (err.code === 'ReceiptHandleError' || err.code === 'MessageNotExist')) {
          return [{ receiptHandle: handle, code: err.code, message: err.message }];
        }
        throw err;
      }
    }
    const body = receiptHandles.map((h) => `<ReceiptHandle>${escapeXml(h)}</ReceiptHandle>`).join('');
    const xml = `<?xml version="1.0" encoding="UTF-8"?><ReceiptHandles xmlns="http://mns.aliyuncs.com/doc/v1/">${body}</ReceiptHandles>`;
    // A partial failure answers non-2xx with an <Errors> list (not <Error>), which the SDK resolves: accept it here.
    const res = await this.call(`delete from queue ${queue}`, (sdk) => sdk.request('DELETE', `/queues/${queue}/messages`, 'Errors', Buffer.from(xml, 'utf8')), [204, 400, 404, 500]);
    if (res.code === 204) return [];
    const list = res.body?.Error;
    if (!Array.isArray(list)) {
      throw new MnsError({ code: codeForStatus(res.code), status: res.code, requestId: res.headers[REQUEST_ID], source: 'http', message: `MNS delete from queue ${queue} failed: HTTP ${res.code}` });
    }
    return list.map((e: Record<string, unknown>) => ({ receiptHandle: str(e.ReceiptHandle), code: str(e.ErrorCode), message: str(e.ErrorMessage) }));
  }

  /** ChangeMessageVisibility (spec §5.9): the message becomes visible `visibilityTimeout` seconds from now. */
  async changeVisibility(queue: string, receiptHandle: string, visibilityTimeout: number): Promise<ChangeVisibilityResult> {
    checkName('queue', queue);
    if (!RECEIPT_HANDLE.test(receiptHandle)) throw localError(`"${receiptHandle}" is not an MNS receipt handle`);
    if (!Number.isInteger(visibilityTimeout) || visibilityTimeout < 1 || visibilityTimeout > 43200) {
      throw localError(`visibility timeout must be a whole number of seconds from 1 to 43200, got ${visibilityTimeout}`);
    }
    const res = await this.call(`change visibility in queue ${queue}`, (sdk) => sdk.changeMessageVisibility(queue, receiptHandle, visibilityTimeout), [200]);
    return { receiptHandle: str(res.body?.ReceiptHandle), nextVisibleTime: num(res.body?.NextVisibleTime) };
  }
}
