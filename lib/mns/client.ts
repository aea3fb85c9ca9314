// Our own MNS data-plane client (spec §15.3: @alicloud/mns is only a devDependency, the oracle our requests are
// compared with in test/mns/sdk-parity.test.ts). Every operation the nodes use is a signed request of ours
// (request.ts; PublishMessage has its own hot-path copy in publish.ts) over one keep-alive agent, and keeps the
// contract the SDK adapter had (spec §10.1 defects neutralised), proven by test/mns/client.test.ts:
//  - XML escaping              → bodies and tags are escaped here, and illegal XML characters refused;
//  - non-XML errors            → every non-2xx (503 HTML, empty 502) and every unreadable answer throws;
//  - typed errors              → one MnsError {code, status, requestId, retryable};
//  - credentials               → from our provider on every call (security-token included), and an auth error
//    with STS credentials refreshes them once and retries;
//  - timeouts and abort        → short per-call timeouts, our own keep-alive agent destroyed by close()
//    so a long poll ends at once;
//  - answers are read by a strict XML reader (xml.ts) that builds no objects keyed by element names.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Credentials } from '../credentials/types';
import { bodyMd5, bodyProblem, escapeXml, tagProblem } from './body';
import { MnsError, fromSdkError } from './errors';
import { mnsEndpoint, type EndpointOptions } from './endpoint';
import { postPublish, publishXml, type PublishTarget } from './publish';
import { mnsRequest, statusError, type MnsAnswer, type MnsRequest } from './request';
import { fieldsOf, type XmlElement } from './xml';

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
  /**
   * A keep-alive agent shared with other clients (the MNS endpoint config node's, see createMnsAgent); close()
   * and abortInFlight() then end only this client's requests and leave the agent to its owner.
   */
  agent?: http.Agent;
}

/**
 * The keep-alive agent for an MNS endpoint, with a connect timeout on connecting only (each call has its own read
 * timeout, and a long poll waits longer than a connect may take).
 */
export function createMnsAgent(endpoint: string, o: { connectTimeoutMs?: number; maxSockets?: number } = {}): http.Agent {
  const options = { keepAlive: true, maxSockets: o.maxSockets ?? Infinity, scheduling: 'lifo' as const };
  const agent = endpoint.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
  const connectTimeoutMs = o.connectTimeoutMs ?? 5_000;
  const create = agent.createConnection.bind(agent) as (o: unknown, cb?: unknown) => net.Socket;
  (agent as unknown as { createConnection: (o: unknown, cb?: unknown) => net.Socket }).createConnection = (opts, cb) => {
    const socket = create(opts, cb);
    if (socket.connecting) {
      const timer = setTimeout(() => {
        socket.destroy(Object.assign(new Error(`ConnectTimeout: no connection to ${endpoint} within ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
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
  private readonly credentials: CredentialSource;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private agent: http.Agent;
  private readonly sharedAgent: boolean;
  /** Requests of this client still open (ended by close()/abortInFlight() when the agent is shared). */
  private readonly requests = new Set<http.ClientRequest>();
  private target: PublishTarget;
  private readonly maxSockets?: number;
  private closed = false;
  /**
   * The reject functions of the calls in flight, for close()/abortInFlight(). (A Promise.race against one
   * long-pending "aborted" promise would leave a reaction on it per call: memory that grows with every publish.)
   */
  private readonly inFlight = new Set<(err: Error) => void>();

  constructor(o: MnsClientOptions) {
    this.endpoint = mnsEndpoint(o);
    this.credentials = o.credentials;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5_000;
    this.maxSockets = o.maxSockets;
    this.sharedAgent = o.agent !== undefined;
    this.agent = o.agent ?? this.newAgent();
    const url = new URL(this.endpoint);
    this.target = {
      secure: url.protocol === 'https:',
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port !== '' ? Number(url.port) : undefined,
      agent: this.agent,
      timeoutMs: this.timeoutMs,
      isClosed: () => this.closed,
      // Only a shared agent needs per-request bookkeeping: an own agent is destroyed whole.
      track: this.sharedAgent
        ? (req) => {
            this.requests.add(req);
            req.once('close', () => this.requests.delete(req));
          }
        : undefined,
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
    return createMnsAgent(this.endpoint, { connectTimeoutMs: this.connectTimeoutMs, maxSockets: this.maxSockets });
  }

  /** Destroys this client's requests still open (a shared agent's sockets they hold close with them). */
  private destroyRequests(): void {
    const open = [...this.requests];
    this.requests.clear();
    for (const r of open) r.destroy();
  }

  /** Ends every in-flight call (a long poll included) and refuses new ones. */
  close(): void {
    this.closed = true;
    this.abortAll(new MnsError({ code: 'Closed', status: 0, source: 'local', retryable: false, message: 'MNS call aborted: the client was closed' }));
    if (this.sharedAgent) this.destroyRequests();
    else this.agent.destroy();
  }

  /** Aborts in-flight calls (they reject with NetworkError) but keeps the client usable. */
  abortInFlight(): void {
    if (this.sharedAgent) {
      this.abortAll(new MnsError({ code: 'Aborted', status: 0, source: 'local', retryable: true, message: 'MNS call aborted before an answer arrived (it may or may not have taken effect)' }));
      this.destroyRequests();
      return;
    }
    const old = this.agent;
    this.agent = this.newAgent();
    this.abortAll(new MnsError({ code: 'Aborted', status: 0, source: 'local', retryable: true, message: 'MNS call aborted before an answer arrived (it may or may not have taken effect)' }));
    old.destroy();
  }

  /** Runs one signed request (see withCredentials); an answer with a status not in `okStatuses` throws. */
  private async call(r: MnsRequest, okStatuses: number[]): Promise<MnsAnswer> {
    const res = await this.withCredentials(r.operation, (creds) => mnsRequest(this.publishTarget(), creds, r));
    if (!okStatuses.includes(res.status)) throw statusError(r.operation, res.status, res.requestId);
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
    // The hot path has its own tuned request (publish.ts).
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
   * ReceiveMessage (spec §5.5): one message, waiting up to `waitSeconds` (0..30; omitted: the queue's
   * PollingWaitSeconds). An empty queue (404 MessageNotExist) is undefined.
   */
  async receiveMessage(queue: string, waitSeconds?: number): Promise<ReceivedMessage | undefined> {
    checkName('queue', queue);
    if (waitSeconds !== undefined) checkWait(waitSeconds);
    const resource = `/queues/${queue}/messages${waitSeconds ? `?waitseconds=${waitSeconds}` : ''}`;
    const operation = `receive from queue ${queue}`;
    const res = await this.receiveCall(resource, operation, waitSeconds ?? 30, ANSWER_BYTES_ONE);
    if (!res) return undefined;
    if (res.xml?.name !== 'Message') throw invalidAnswer(operation, res, 'the answer holds no <Message>');
    return toReceived(res.xml, operation, res);
  }

  /**
   * BatchReceiveMessage (spec §5.6): up to `batch` (1..16) messages, waiting up to `waitSeconds` (0..30).
   * An empty queue (404 MessageNotExist) is an empty array.
   */
  async receiveMessages(queue: string, waitSeconds: number, batch: number): Promise<ReceivedMessage[]> {
    checkName('queue', queue);
    checkWait(waitSeconds);
    if (!Number.isInteger(batch) || batch < 1 || batch > 16) throw localError(`batch size must be a whole number from 1 to 16, got ${batch}`);
    let resource = `/queues/${queue}/messages?numOfMessages=${batch}`;
    if (waitSeconds > 0) resource += `&waitseconds=${waitSeconds}`;
    const operation = `receive from queue ${queue}`;
    const res = await this.receiveCall(resource, operation, waitSeconds, ANSWER_BYTES_ONE * batch);
    if (!res) return [];
    const xml = res.xml;
    if (xml?.name !== 'Messages' || xml.children.length === 0 || xml.children.some((c) => c.name !== 'Message')) {
      throw invalidAnswer(operation, res, 'the answer holds no <Messages> list of <Message>');
    }
    return xml.children.map((m) => toReceived(m, operation, res));
  }

  /** A receive; 404 MessageNotExist (the normal empty answer) is undefined. */
  private async receiveCall(resource: string, operation: string, waitSeconds: number, maxAnswerBytes: number): Promise<MnsAnswer | undefined> {
    // The read timeout must outlast the long poll (spec §5.5).
    const readTimeoutMs = waitSeconds * 1000 + this.timeoutMs;
    try {
      return await this.call({ method: 'GET', resource, readTimeoutMs, maxAnswerBytes, operation }, [200]);
    } catch (err) {
      if (err instanceof MnsError && err.code === 'MessageNotExist') return undefined;
      throw err;
    }
  }

  /** DeleteMessage / BatchDeleteMessage (spec §5.7–5.8). Returns the handles MNS refused (stale ones, mostly). */
  async deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteFailure[]> {
    checkName('queue', queue);
    if (receiptHandles.length === 0) return [];
    if (receiptHandles.length > 16) throw localError(`at most 16 receipt handles per delete, got ${receiptHandles.length}`);
    for (const h of receiptHandles) if (!RECEIPT_HANDLE.test(h)) throw localError(`"${h}" is not an MNS receipt handle`);
    const operation = `delete from queue ${queue}`;
    if (receiptHandles.length === 1) {
      const handle = receiptHandles[0];
      try {
        await this.call({ method: 'DELETE', resource: `/queues/${queue}/messages?ReceiptHandle=${handle}`, body: '', readTimeoutMs: this.timeoutMs, maxAnswerBytes: ANSWER_BYTES_SMALL, operation }, [204]);
        return [];
      } catch (err) {
        if (err instanceof MnsError && (err.code === 'ReceiptHandleError' || err.code === 'MessageNotExist')) {
          return [{ receiptHandle: handle, code: err.code, message: err.message }];
        }
        throw err;
      }
    }
    const items = receiptHandles.map((h) => `<ReceiptHandle>${escapeXml(h)}</ReceiptHandle>`).join('');
    const body = `<?xml version="1.0" encoding="UTF-8"?><ReceiptHandles xmlns="http://mns.aliyuncs.com/doc/v1/">${items}</ReceiptHandles>`;
    // A partial failure answers non-2xx with an <Errors> list of <Error> items (spec §5.8).
    const res = await this.call({ method: 'DELETE', resource: `/queues/${queue}/messages`, body, readTimeoutMs: this.timeoutMs, maxAnswerBytes: ANSWER_BYTES_SMALL, operation }, [204, 400, 404, 500]);
    if (res.status === 204) return [];
    const list = res.xml?.name === 'Errors' ? res.xml.children : undefined;
    if (!list || list.length === 0) throw statusError(operation, res.status, res.requestId);
    return list.map((e) => {
      const f = e.name === 'Error' ? fieldsOf(e) : undefined;
      if (!f) throw invalidAnswer(operation, res, 'an <Errors> item is not an <Error> record');
      return { receiptHandle: f.get('ReceiptHandle') ?? '', code: f.get('ErrorCode') ?? '', message: f.get('ErrorMessage') ?? '' };
    });
  }

  /** ChangeMessageVisibility (spec §5.9): the message becomes visible `visibilityTimeout` seconds from now. */
  async changeVisibility(queue: string, receiptHandle: string, visibilityTimeout: number): Promise<ChangeVisibilityResult> {
    checkName('queue', queue);
    if (!RECEIPT_HANDLE.test(receiptHandle)) throw localError(`"${receiptHandle}" is not an MNS receipt handle`);
    if (!Number.isInteger(visibilityTimeout) || visibilityTimeout < 1 || visibilityTimeout > 43200) {
      throw localError(`visibility timeout must be a whole number of seconds from 1 to 43200, got ${visibilityTimeout}`);
    }
    const operation = `change visibility in queue ${queue}`;
    const resource = `/queues/${queue}/messages?receiptHandle=${receiptHandle}&visibilityTimeout=${visibilityTimeout}`;
    const res = await this.call({ method: 'PUT', resource, body: '', readTimeoutMs: this.timeoutMs, maxAnswerBytes: ANSWER_BYTES_SMALL, operation }, [200]);
    const f = res.xml?.name === 'ChangeVisibility' ? fieldsOf(res.xml) : undefined;
    const handle = f?.get('ReceiptHandle') ?? '';
    if (!f || handle === '') throw invalidAnswer(operation, res, 'the answer holds no <ChangeVisibility> with a ReceiptHandle');
    return { receiptHandle: handle, nextVisibleTime: num(f.get('NextVisibleTime')) };
  }
}

/** One message of 64 KB, fully XML-escaped (up to 6 bytes per character), plus its fields. */
const ANSWER_BYTES_ONE = 6 * 64 * 1024 + 4096;
const ANSWER_BYTES_SMALL = 64 * 1024;

function checkWait(waitSeconds: number): void {
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 30) throw localError(`wait seconds must be a whole number from 0 to 30, got ${waitSeconds}`);
}

function invalidAnswer(operation: string, res: MnsAnswer, what: string): MnsError {
  return new MnsError({ code: 'InvalidResponse', status: res.status, requestId: res.requestId, source: 'http', message: `MNS ${operation}: ${what}` });
}

function toReceived(m: XmlElement, operation: string, res: MnsAnswer): ReceivedMessage {
  const f = fieldsOf(m);
  if (!f || !f.get('MessageId') || !f.get('ReceiptHandle') || !f.has('MessageBody')) {
    throw invalidAnswer(operation, res, 'a <Message> lacks MessageId, ReceiptHandle or MessageBody');
  }
  return {
    messageId: str(f.get('MessageId')),
    receiptHandle: str(f.get('ReceiptHandle')),
    body: str(f.get('MessageBody')),
    bodyMD5: str(f.get('MessageBodyMD5')),
    enqueueTime: num(f.get('EnqueueTime')),
    nextVisibleTime: num(f.get('NextVisibleTime')),
    firstDequeueTime: num(f.get('FirstDequeueTime')),
    dequeueCount: num(f.get('DequeueCount')),
    priority: num(f.get('Priority')),
  };
}
