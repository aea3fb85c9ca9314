// A small RPC (POP, signature V1) caller: signs, sends a form POST (or GET) to a full http(s):// URL over a
// keep-alive agent with a bounded timeout, parses the JSON answer and turns every failure into a PopError.
// Generic on purpose: STS AssumeRole uses it now, the IoT OpenAPI Pub client later.
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { signRpc, stringToSign, percentEncode, type RpcParams } from './signature';
import { PopError, isRetryable } from './errors';
import { redactUrl, refuseUserInfo } from '../url-safety';

export interface RpcCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** Set when the caller itself uses STS credentials; sent as the `SecurityToken` parameter. */
  securityToken?: string;
}

export interface RpcRequest {
  /** Full URL, e.g. `https://sts.cn-shanghai.aliyuncs.com` or `http://127.0.0.1:9000`. */
  endpoint: string;
  action: string;
  version: string;
  params?: Record<string, string | number | boolean | undefined>;
  credentials: RpcCredentials;
  method?: 'POST' | 'GET';
  /** Whole-call deadline in ms (connect + response). Default 10 000. */
  timeoutMs?: number;
  /** Override the keep-alive agent (tests, proxies). */
  agent?: http.Agent;
  /** Clock and nonce sources; tests may fix them. */
  now?: () => Date;
  nonce?: () => string;
}

export interface RpcResponse<T> {
  status: number;
  requestId?: string;
  body: T;
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });

/** `YYYY-MM-DDThh:mm:ssZ`, the Timestamp format of RPC calls. */
export function rpcTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const SERVER_STS_MARKER = 'server string to sign is:';
/** RPC answers are small JSON documents; anything bigger is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Builds the complete signed parameter set of a call (exported so other transports and tests can use it). */
export function buildSignedParams(req: RpcRequest): RpcParams {
  const method = req.method ?? 'POST';
  const params: RpcParams = {
    Format: 'JSON',
    Version: req.version,
    Action: req.action,
    AccessKeyId: req.credentials.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: (req.nonce ?? randomUUID)(),
    Timestamp: rpcTimestamp((req.now ?? (() => new Date()))()),
  };
  if (req.credentials.securityToken) params.SecurityToken = req.credentials.securityToken;
  for (const [k, v] of Object.entries(req.params ?? {})) {
    if (v !== undefined) params[k] = String(v);
  }
  params.Signature = signRpc(method, params, req.credentials.accessKeySecret);
  return params;
}

function encodeForm(params: RpcParams): string {
  return Object.entries(params)
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
}

/** Removes values that must never travel in an error text (secret, token, the server's string to sign). Scrub the whole
 * text before cutting it: a cut first could keep the beginning of a secret that no longer matches whole. */
function scrub(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  const cut = out.indexOf(SERVER_STS_MARKER);
  // The server's string to sign carries the AccessKey ID and, for chained calls, the security token.
  if (cut >= 0) out = out.slice(0, cut).trim();
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    out = out.split(s).join('***');
    // As sent in the form or query: an answer that echoes the request quotes it percent-encoded.
    const encoded = percentEncode(s);
    if (encoded !== s) out = out.split(encoded).join('***');
  }
  return out;
}

export async function callRpc<T = Record<string, unknown>>(req: RpcRequest): Promise<RpcResponse<T>> {
  refuseUserInfo(String(req.endpoint ?? ''), 'the endpoint', 'requests are signed with the AccessKey instead', (m) => new PopError({ code: 'InvalidEndpoint', message: m, retryable: false }));
  let url: URL;
  try {
    url = new URL(req.endpoint);
  } catch {
    throw new PopError({ code: 'InvalidEndpoint', message: `endpoint "${redactUrl(req.endpoint)}" is not a URL; use e.g. https://sts.cn-shanghai.aliyuncs.com`, retryable: false });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PopError({ code: 'InvalidEndpoint', message: `endpoint must start with http:// or https:// (got "${url.protocol}")`, retryable: false });
  }
  const method = req.method ?? 'POST';
  const params = buildSignedParams(req);
  const secrets = [req.credentials.accessKeySecret, req.credentials.securityToken, params.Signature];
  const form = encodeForm(params);
  const path = (url.pathname || '/') + (method === 'GET' ? (url.search ? url.search + '&' : '?') + form : url.search);
  const body = method === 'POST' ? Buffer.from(form, 'utf8') : undefined;
  const isHttps = url.protocol === 'https:';
  const transport = isHttps ? https : http;
  const timeoutMs = req.timeoutMs ?? 10_000;
  const ownStringToSign = stringToSign(method, params);

  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, value?: { status: number; text: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!err) return resolve(value as { status: number; text: string });
      if (err instanceof PopError) return reject(err);
      const e = err as NodeJS.ErrnoException;
      reject(new PopError({ code: 'NetworkError', message: `cannot reach ${url.origin}: ${e.code ?? e.message}`, retryable: true }, { cause: err }));
    };
    const r = transport.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port || undefined,
        path,
        method,
        agent: req.agent ?? (isHttps ? httpsAgent : httpAgent),
        headers: {
          Accept: 'application/json',
          ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            r.destroy(new PopError({ code: 'InvalidResponse', message: `answer from ${url.origin} is larger than ${MAX_RESPONSE_BYTES} bytes`, status: res.statusCode, retryable: false }));
          } else chunks.push(c);
        });
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish(err));
        res.on('aborted', () => finish(new PopError({ code: 'NetworkError', message: `connection to ${url.origin} closed mid-answer`, retryable: true })));
      },
    );
    const timer = setTimeout(() => {
      r.destroy(new PopError({ code: 'Timeout', message: `no answer from ${url.origin} within ${timeoutMs} ms`, retryable: true }));
    }, timeoutMs);
    r.on('error', (err) => finish(err));
    r.end(body);
  });

  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (parsed && typeof parsed === 'object') json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const requestId = typeof json?.RequestId === 'string' ? json.RequestId : undefined;
  if (status >= 200 && status < 300 && json && typeof json.Code !== 'string') {
    return { status, requestId, body: json as T };
  }
  if (!json) {
    const code = status >= 500 ? 'ServiceUnavailable' : 'InvalidResponse';
    throw new PopError({ code, message: `HTTP ${status} from ${url.origin} without a JSON body${text ? ` (starts: ${scrub(text, secrets).slice(0, 80)})` : ''}`, status, retryable: status >= 500 || status === 429 });
  }
  const code = typeof json.Code === 'string' ? json.Code : `HTTP${status}`;
  // RPC gateway errors carry `Message`; some products' own failures (IoT Pub: HTTP 200, Success false) carry `ErrorMessage`.
  const message = typeof json.Message === 'string' ? json.Message : typeof json.ErrorMessage === 'string' ? json.ErrorMessage : `HTTP ${status}`;
  let secretMismatch: boolean | undefined;
  if (code === 'SignatureDoesNotMatch') {
    // The same string to sign on both sides means the only possible difference is the secret.
    const at = message.indexOf(SERVER_STS_MARKER);
    const serverSts = at >= 0 ? message.slice(at + SERVER_STS_MARKER.length).trim() : undefined;
    secretMismatch = serverSts === undefined || serverSts === ownStringToSign;
  }
  throw new PopError({
    code,
    message: scrub(message, secrets),
    requestId,
    status,
    retryable: isRetryable(code, status),
    hostId: typeof json.HostId === 'string' ? json.HostId : undefined,
    recommend: typeof json.Recommend === 'string' ? json.Recommend : undefined,
    secretMismatch,
  });
}
