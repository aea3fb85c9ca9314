// One signed MNS data-plane request (spec §1.2, §4.1) over the client's keep-alive agent: the general form of
// publish.ts's hot-path call, for Receive, BatchReceive, Delete, BatchDelete and ChangeMessageVisibility.
// The headers are the ones @alicloud/mns sends (Date and x-mns-date with the same value, x-mns-version; for a
// request that is not GET: Content-Type text/xml, Content-Length and Content-MD5 as base64 of the hex MD5, also
// for an empty body), so test/mns/sdk-parity.test.ts can compare our requests with the SDK's byte for byte.
import http from 'node:http';
import https from 'node:https';
import type { Credentials } from '../credentials/types';
import { MnsError, codeForStatus, fromSdkError, mnsServiceError } from './errors';
import type { PublishTarget } from './publish';
import { MNS_VERSION, authorizationV2, contentMd5, signV2, stringToSign } from './signature';
import { fieldsOf, parseXml, type XmlElement } from './xml';

const REQUEST_ID = 'x-mns-request-id';

export interface MnsRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path plus raw query, exactly as signed and sent. */
  resource: string;
  /** XML body (non-GET only; '' sends an empty body with its headers, as the SDK does). */
  body?: string;
  /** Read timeout for this call, ms (a long poll needs wait + margin). */
  readTimeoutMs: number;
  /** Largest answer accepted, bytes. */
  maxAnswerBytes: number;
  operation: string;
}

export interface MnsAnswer {
  status: number;
  requestId?: string;
  /** The parsed XML answer; undefined when the body was empty or not XML. */
  xml?: XmlElement;
}

function invalid(operation: string, status: number, requestId: string | undefined, what: string): MnsError {
  return new MnsError({ code: 'InvalidResponse', status, requestId, source: 'http', message: `MNS ${operation}: ${what}` });
}

export function statusError(operation: string, status: number, requestId: string | undefined): MnsError {
  return new MnsError({ code: codeForStatus(status), status, requestId, source: 'http', message: `MNS ${operation} failed: HTTP ${status} without an MNS error body` });
}

/**
 * Reads a complete answer: an XML <Error> throws the typed MnsError; other XML is parsed strictly (up to two
 * levels below the root) and returned with the status, which the caller checks; unreadable XML is InvalidResponse.
 */
export function readAnswer(operation: string, status: number, headers: http.IncomingHttpHeaders, text: string): MnsAnswer {
  const header = headers[REQUEST_ID];
  const requestId = typeof header === 'string' && header !== '' ? header : undefined;
  const contentType = headers['content-type'] ?? '';
  const isXml = text.trim() !== '' && (contentType.startsWith('text/xml') || contentType.startsWith('application/xml'));
  if (!isXml) return { status, requestId };
  const xml = parseXml(text, 2);
  if (!xml) throw invalid(operation, status, requestId, `unreadable response (HTTP ${status}, not the XML MNS answers with)`);
  if (xml.name === 'Error') {
    const f = fieldsOf(xml);
    const code = f?.get('Code') ?? '';
    if (!f || !/^\w+$/.test(code)) throw invalid(operation, status, requestId, `unreadable response (HTTP ${status}, an <Error> without a <Code>)`);
    throw mnsServiceError({ code, status, requestId: f.get('RequestId') || requestId, text: f.get('Message') ?? '' }, operation);
  }
  return { status, requestId, xml };
}

/** The headers of one signed request (exported for the SDK parity test). */
export function signedHeaders(creds: Credentials, method: string, resource: string, body: Buffer | undefined, date: string): Record<string, string | number> {
  const headers: Record<string, string | number> = { date, 'x-mns-date': date, 'x-mns-version': MNS_VERSION };
  let md5 = '';
  let type = '';
  if (body) {
    md5 = contentMd5(body);
    type = 'text/xml';
    headers['content-length'] = body.length;
    headers['content-type'] = type;
    headers['content-md5'] = md5;
  }
  const toSign = stringToSign({ verb: method, contentMd5: md5, contentType: type, date, headers, resource });
  headers.authorization = authorizationV2(creds.accessKeyId, signV2(creds.accessKeySecret, toSign));
  if (creds.securityToken) headers['security-token'] = creds.securityToken;
  return headers;
}

/** Sends one signed request and reads the answer; rejects with an MnsError. */
export function mnsRequest(target: PublishTarget, creds: Credentials, r: MnsRequest): Promise<MnsAnswer> {
  return new Promise<MnsAnswer>((resolve, reject) => {
    const body = r.method === 'GET' ? undefined : Buffer.from(r.body ?? '', 'utf8');
    const headers = signedHeaders(creds, r.method, r.resource, body, new Date().toUTCString());
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      reject(err instanceof MnsError ? err : fromSdkError(err, r.operation));
    };
    if (target.isClosed()) {
      fail(new MnsError({ code: 'Closed', status: 0, source: 'local', retryable: false, message: `MNS ${r.operation} refused: the client is closed` }));
      return;
    }
    const options: http.RequestOptions = { host: target.hostname, port: target.port, method: r.method, path: r.resource, agent: target.agent, headers };
    const req = target.secure ? https.request(options) : http.request(options);
    target.track?.(req);
    const startTimer = (): void => {
      if (settled || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        fail(new MnsError({ code: 'Timeout', status: 0, source: 'network', message: `MNS ${r.operation} timed out (no answer within ${r.readTimeoutMs} ms)` }));
        req.destroy();
      }, r.readTimeoutMs);
      timer.unref();
    };
    req.once('socket', (socket) => {
      if (socket.connecting) socket.once('connect', startTimer);
      else startTimer();
    });
    req.on('error', fail);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > r.maxAnswerBytes) {
          fail(invalid(r.operation, res.statusCode ?? 0, undefined, `the answer is over ${r.maxAnswerBytes} bytes, not an MNS answer`));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', fail);
      res.once('aborted', () => fail(Object.assign(new Error('the connection closed before the whole answer arrived'), { code: 'ECONNRESET' })));
      res.once('end', () => {
        if (settled) return;
        try {
          const answer = readAnswer(r.operation, res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'));
          settled = true;
          if (timer) clearTimeout(timer);
          resolve(answer);
        } catch (err) {
          fail(err);
        }
      });
    });
    req.end(body);
  });
}
