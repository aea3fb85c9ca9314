// The local IoT OpenAPI: the RPC action `Pub` (version 2018-01-20) over plain HTTP, signature V1 or V3
// (ACS3-HMAC-SHA256, what @alicloud/iot20180120 sends by default) checked with our own code against the AccountBook, publishing the Base64-decoded body into the local broker.
// Unsigned inspection and fault-injection paths live under /__emulator/.
//
// Error codes: POP-gateway failures (signature, key, token, timestamp, nonce, missing parameters, throttling, 5xx)
// are HTTP 4xx/5xx with {RequestId, HostId, Code, Message, Recommend}. Pub's own failures are HTTP 200 with
// {RequestId, Success:false, Code, ErrorMessage}, e.g. iot.common.InvalidTenant. The iot.* codes other than
// InvalidTenant are our best reading of Alibaba's naming, not confirmed by a capture.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomInt, randomUUID } from 'node:crypto';
import type { AccountBook } from '../accounts';
import { definedOnly, type IotBroker } from './broker';
import { rpcSignature, rpcStringToSign, sameSignature } from './rpc';
import { checkV3, isV3Request, PopV3Error, type V3Checked } from '../pop-v3';

export interface OpenApiFaults {
  /** Delay before every answer, in ms. */
  latencyMs?: number;
  /** Answer the next N calls with Throttling.User. */
  throttleNext?: number;
  /** Answer the next N calls with a server error. */
  failNext?: number;
  /** Status of those server errors: 500 InternalError (default) or 503 ServiceUnavailable. */
  failStatus?: 500 | 503;
}

export interface OpenApiOptions {
  broker: IotBroker;
  accounts: AccountBook;
  host?: string;
  port?: number;
  regionId?: string;
  /** When set, Pub must name this IotInstanceId; when unset, Pub must not name one. */
  iotInstanceId?: string;
  /** Pub calls allowed per account per second (default 1600, as documented). */
  qpsLimit?: number;
  /** Accepted clock difference for Timestamp (default 15 min). */
  timestampSkewMs?: number;
}

export interface PubCall {
  at: number;
  accessKeyId: string;
  productKey: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  messageId: string;
}

const MAX_BODY = 1024 * 1024;
const MAX_MESSAGE = 256 * 1024;

class PopError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

class IotError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class IotOpenApi {
  url = '';
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly nonces = new Map<string, number>();
  private readonly windows = new Map<string, { second: number; count: number }>();
  private faults: OpenApiFaults = {};
  private readonly pubLog: PubCall[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly opts: OpenApiOptions & { regionId: string; qpsLimit: number; timestampSkewMs: number; host: string; port: number };

  constructor(options: OpenApiOptions) {
    this.opts = { host: '127.0.0.1', port: 0, regionId: 'cn-shanghai', qpsLimit: 1600, timestampSkewMs: 15 * 60_000, ...definedOnly(options) };
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) this.popError(res, new PopError(500, 'InternalError', `The request processing has failed due to some unknown error. (${err.message})`));
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    this.url = `http://${this.opts.host}:${(server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Switch faults on at run time; values given replace the current ones. */
  setFaults(faults: OpenApiFaults): void {
    this.faults = { ...this.faults, ...faults };
  }

  clearFaults(): void {
    this.faults = {};
  }

  currentFaults(): OpenApiFaults {
    return { ...this.faults };
  }

  /** Successful Pub calls, oldest first. */
  pubCalls(): PubCall[] {
    return this.pubLog.map((c) => ({ ...c, payload: Buffer.from(c.payload) }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const body = await readBody(req);
    if (url.pathname.startsWith('/__emulator/')) {
      this.admin(req.method ?? 'GET', url, body, res);
      return;
    }
    if (this.faults.latencyMs && this.faults.latencyMs > 0) await this.delay(this.faults.latencyMs);
    if (this.faults.failNext && this.faults.failNext > 0) {
      this.faults.failNext -= 1;
      const status = this.faults.failStatus ?? 500;
      this.popError(
        res,
        status === 503
          ? new PopError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.')
          : new PopError(500, 'InternalError', 'The request processing has failed due to some unknown error, exception or failure.'),
      );
      return;
    }
    try {
      if (body === undefined) throw new PopError(400, 'InvalidParameter', 'The request body is larger than 1 MB.');
      let params: Record<string, string>;
      let accountId: string;
      if (isV3Request(req.headers)) {
        const v3 = checkV3({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, this.opts.timestampSkewMs);
        params = Object.fromEntries(v3.params);
        params.AccessKeyId = v3.accessKeyId;
        accountId = this.verifyV3(v3);
      } else {
        params = collectParams(url, req, body);
        accountId = this.verify(req.method ?? 'GET', params);
      }
      this.throttle(accountId);
      const result = await this.pub(params);
      sendJson(res, 200, { RequestId: requestId(), Success: true, MessageId: result });
    } catch (err) {
      if (err instanceof PopError) this.popError(res, err);
      else if (err instanceof PopV3Error) this.popError(res, new PopError(err.status, err.code, err.message));
      else if (err instanceof IotError) sendJson(res, 200, { RequestId: requestId(), Success: false, Code: err.code, ErrorMessage: err.message });
      else throw err;
    }
  }

  /** Checks the common parameters, the caller and the signature; returns the caller's account ID. */
  private verify(method: string, params: Record<string, string>): string {
    for (const name of ['AccessKeyId', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp', 'Version', 'Action']) {
      if (!params[name]) throw new PopError(400, `Missing${name}`, `${name} is mandatory for this action.`);
    }
    if (!params.Signature) throw new PopError(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
    if (params.SignatureMethod !== 'HMAC-SHA1') throw new PopError(400, 'InvalidSignatureMethod', `Specified signature method ${params.SignatureMethod} is not supported.`);
    if (params.SignatureVersion !== '1.0') throw new PopError(400, 'InvalidSignatureVersion', `Specified signature version ${params.SignatureVersion} is not supported.`);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(params.Timestamp) || Number.isNaN(Date.parse(params.Timestamp))) {
      throw new PopError(400, 'InvalidTimeStamp.Format', `Specified time stamp or date value ${params.Timestamp} is not well formatted.`);
    }
    if (Math.abs(Date.parse(params.Timestamp) - Date.now()) > this.opts.timestampSkewMs) {
      throw new PopError(400, 'InvalidTimeStamp.Expired', `Specified time stamp or date value ${params.Timestamp} is expired.`);
    }
    const found = this.caller(params.AccessKeyId, params.SecurityToken);
    const stringToSign = rpcStringToSign(method, params);
    if (!sameSignature(rpcSignature(found.accessKeySecret, stringToSign), params.Signature)) {
      throw new PopError(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`);
    }
    this.useNonce(params.SignatureNonce);
    return this.checkAction(params.Version, params.Action, found.accountId);
  }

  /** V3: header form, date and body hash were checked by checkV3; here the caller, token, signature, nonce, action. */
  private verifyV3(v3: V3Checked): string {
    const found = this.caller(v3.accessKeyId, v3.securityToken);
    v3.verify(found.accessKeySecret);
    this.useNonce(v3.nonce);
    return this.checkAction(v3.version, v3.action, found.accountId);
  }

  private caller(accessKeyId: string, token: string | undefined): { accessKeySecret: string; accountId: string } {
    const found = this.opts.accounts.resolve(accessKeyId);
    if (!found) throw new PopError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    if (found.kind === 'sts') {
      if (!token) throw new PopError(400, 'MissingSecurityToken', 'SecurityToken is mandatory for this action.');
      if (!sameSignature(found.record.securityToken, token)) {
        throw new PopError(400, 'InvalidSecurityToken.MismatchWithAccessKey', 'The security token does not match the access key.');
      }
      if (found.record.expiresAt <= Date.now()) throw new PopError(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.');
    }
    return found.record;
  }

  private useNonce(nonce: string): void {
    const seen = this.nonces.get(nonce);
    const now = Date.now();
    if (seen !== undefined && now - seen < this.opts.timestampSkewMs) {
      throw new PopError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    }
    this.nonces.set(nonce, now);
    if (this.nonces.size > 10_000) {
      for (const [n, at] of this.nonces) if (now - at >= this.opts.timestampSkewMs) this.nonces.delete(n);
    }
  }

  private checkAction(version: string | undefined, action: string | undefined, accountId: string): string {
    if (version !== '2018-01-20') throw new PopError(400, 'InvalidVersion', `Specified parameter Version ${version} is not valid.`);
    if (action !== 'Pub') throw new PopError(404, 'InvalidAction.NotFound', `Specified api ${action} is not found, please check your url and method.`);
    return accountId;
  }

  private throttle(accountId: string): void {
    if (this.faults.throttleNext && this.faults.throttleNext > 0) {
      this.faults.throttleNext -= 1;
      throw new PopError(400, 'Throttling.User', 'Request was denied due to user flow control.');
    }
    const second = Math.floor(Date.now() / 1000);
    const w = this.windows.get(accountId);
    if (!w || w.second !== second) {
      this.windows.set(accountId, { second, count: 1 });
      return;
    }
    w.count += 1;
    if (w.count > this.opts.qpsLimit) throw new PopError(400, 'Throttling.User', 'Request was denied due to user flow control.');
  }

  private async pub(params: Record<string, string>): Promise<string> {
    for (const name of ['ProductKey', 'TopicFullName', 'MessageContent']) {
      if (params[name] === undefined || params[name] === '') throw new PopError(400, `Missing${name}`, `${name} is mandatory for this action.`);
    }
    const instance = params.IotInstanceId || undefined;
    if (instance !== this.opts.iotInstanceId) {
      throw new IotError('iot.common.InvalidTenant', instance ? `The instance ${instance} does not exist or does not belong to you.` : 'IotInstanceId is required for this instance.');
    }
    const productKey = params.ProductKey;
    if (!this.opts.broker.registry.getProduct(productKey)) throw new IotError('iot.prod.NotExistedProduct', 'The product does not exist.');
    const topic = params.TopicFullName;
    const levels = topic.split('/');
    const custom = levels[0] === '' && levels[1] === productKey && levels.length >= 5 && levels[2] !== '' && levels[3] === 'user' && levels.slice(4).join('') !== '';
    const broadcast = levels[0] === '' && levels[1] === 'broadcast' && levels[2] === productKey && levels.length >= 4 && levels[3] !== '';
    if ((!custom && !broadcast) || /[+#]/.test(topic)) {
      throw new IotError('iot.messagebroker.InvalidFormattedTopicName', `TopicFullName ${topic} is not a custom topic /${productKey}/{deviceName}/user/... of this product.`);
    }
    const qosText = params.Qos ?? '0';
    if (qosText !== '0' && qosText !== '1') throw new IotError('iot.common.InvalidFormattedParameter', `Qos ${qosText} is not 0 or 1.`);
    const content = params.MessageContent;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content) || content.length % 4 !== 0) {
      throw new IotError('iot.messagebroker.MessageContentIsNotBase64Encoded', 'MessageContent is not Base64 encoded.');
    }
    const payload = Buffer.from(content, 'base64');
    if (payload.length > MAX_MESSAGE) throw new IotError('iot.messagebroker.MessageContentTooLarge', 'The message is larger than 256 KB.');
    const qos = Number(qosText) as 0 | 1;
    await this.opts.broker.publish(topic, payload, qos);
    const messageId = `${Date.now()}${String(randomInt(0, 1_000_000)).padStart(6, '0')}`;
    this.pubLog.push({ at: Date.now(), accessKeyId: params.AccessKeyId, productKey, topic, payload, qos, messageId });
    if (this.pubLog.length > 500) this.pubLog.shift();
    return messageId;
  }

  private admin(method: string, url: URL, body: Buffer | undefined, res: ServerResponse): void {
    const path = url.pathname.slice('/__emulator'.length);
    if (path === '/devices' && method === 'GET') {
      sendJson(res, 200, { devices: this.opts.broker.connectedDevices() });
    } else if (path === '/messages' && method === 'GET') {
      const topic = url.searchParams.get('topic') ?? undefined;
      const messages = this.opts.broker.recentMessages(topic).map((m) => ({ ...m, payload: m.payload.toString('base64') }));
      sendJson(res, 200, { messages });
    } else if (path === '/refusals' && method === 'GET') {
      sendJson(res, 200, { refusals: this.opts.broker.refusals() });
    } else if (path === '/faults' && method === 'GET') {
      sendJson(res, 200, this.currentFaults());
    } else if (path === '/faults' && (method === 'PUT' || method === 'POST')) {
      let faults: OpenApiFaults;
      try {
        faults = JSON.parse((body ?? Buffer.alloc(0)).toString('utf8') || '{}') as OpenApiFaults;
      } catch {
        sendJson(res, 400, { error: 'body must be JSON like {"latencyMs":200,"throttleNext":3,"failNext":1,"failStatus":503}' });
        return;
      }
      this.setFaults(faults);
      sendJson(res, 200, this.currentFaults());
    } else if (path === '/faults' && method === 'DELETE') {
      this.clearFaults();
      sendJson(res, 200, this.currentFaults());
    } else {
      sendJson(res, 404, { error: 'unknown emulator path; try /__emulator/devices, /messages?topic=, /refusals, /faults' });
    }
  }

  private popError(res: ServerResponse, err: PopError): void {
    sendJson(res, err.status, { RequestId: requestId(), HostId: `iot.${this.opts.regionId}.aliyuncs.com`, Code: err.code, Message: err.message, Recommend: '' });
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

function requestId(): string {
  return randomUUID().toUpperCase();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The union of query and form-body parameters (the signature covers both). */
function collectParams(url: URL, req: IncomingMessage, body: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of url.searchParams) params[k] = v;
  const type = String(req.headers['content-type'] ?? '');
  if (body.length > 0 && (type === '' || type.startsWith('application/x-www-form-urlencoded'))) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
  }
  return params;
}
