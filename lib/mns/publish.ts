// PublishMessage (spec §2.4): the hot path of this package (every device message), kept as its own tuned call
// beside the general request of request.ts (one-shot MD5, inline string-to-sign, flat reader). Through
// @alicloud/mns the client was CPU-bound in the SDK's per-request path and `npm run bench` (bench/mns.ts: topic
// out vs a bare keep-alive HTTP client) measured 0.45–0.56×; this call measured 0.71–1.02× (issue 4: ≥ 0.7×).
//
// What it keeps from the adapter's contract (client.ts), proven by test/mns/client.test.ts:
//  - the body is built with body.ts's escaping (byte-identical bodies), signed with signature V2 (signature.ts);
//  - the client's keep-alive agent (connect timeout on connecting only) and a bounded read timeout;
//  - `security-token` for STS credentials (unsigned, as every SDK sends it);
//  - every failure is the same typed MnsError as request.ts gives: an MNS <Error> answer by its Code (via
//    mnsServiceError, so credentialsSuspect / SecurityTokenExpired are classified alike), a non-2xx answer
//    without one by its status (503 HTML, empty 502), network errors and timeouts by fromSdkError's rules;
//  - the answer is read by a small strict reader of flat XML (root element + text-only children); anything
//    else is InvalidResponse.
import http from 'node:http';
import https from 'node:https';
import type { Credentials } from '../credentials/types';
import { escapeXml } from './body';
import { MnsError, codeForStatus, fromSdkError, mnsServiceError } from './errors';
import { MNS_VERSION, authorizationV2, contentMd5, signV2 } from './signature';

const NS = 'http://mns.aliyuncs.com/doc/v1/';
const REQUEST_ID = 'x-mns-request-id';
/** Answers to PublishMessage are a few hundred bytes; anything much larger is not an MNS answer. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** The PublishMessage request body; `body` and `tag` are raw text (escaped here). */
export function publishXml(body: string, tag?: string): string {
  const tagXml = tag !== undefined && tag !== '' ? `<MessageTag>${escapeXml(tag)}</MessageTag>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="${NS}"><MessageBody>${escapeXml(body)}</MessageBody>${tagXml}</Message>`;
}

export interface FlatXml {
  root: string;
  /** Text of each child element of the root (entities decoded). */
  fields: Map<string, string>;
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_.-]/;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(raw: string): string | undefined {
  if (!raw.includes('&')) return raw;
  let out = '';
  let i = 0;
  for (;;) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) return out + raw.slice(i);
    const semi = raw.indexOf(';', amp);
    if (semi < 0 || semi - amp > 10) return undefined;
    out += raw.slice(i, amp);
    const ref = raw.slice(amp + 1, semi);
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? /^#x[0-9A-Fa-f]{1,6}$/.test(ref) ? parseInt(ref.slice(2), 16) : NaN : /^#[0-9]{1,7}$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
      if (!Number.isInteger(cp) || cp > 0x10ffff) return undefined;
      out += String.fromCodePoint(cp);
    } else {
      const c = ENTITIES[ref];
      if (c === undefined) return undefined;
      out += c;
    }
    i = semi + 1;
  }
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t';
}

/**
 * Reads `<?xml …?><Root attr="…"><A>text</A><B/>…</Root>`: one root element whose children are text-only
 * elements without attributes. Returns undefined for anything else (nested elements, CDATA, comments, text
 * beside the children, a repeated child, bad entities, trailing content).
 */
export function parseFlatXml(text: string): FlatXml | undefined {
  let i = 0;
  const n = text.length;
  const skipSpace = (): void => {
    while (i < n && isSpace(text[i])) i++;
  };
  const readName = (): string | undefined => {
    const start = i;
    if (i >= n || !NAME_START.test(text[i])) return undefined;
    i++;
    while (i < n && NAME_CHAR.test(text[i])) i++;
    return text.slice(start, i);
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  skipSpace();
  if (text.startsWith('<?xml', i)) {
    const end = text.indexOf('?>', i);
    if (end < 0) return undefined;
    i = end + 2;
    skipSpace();
  }
  if (text[i] !== '<') return undefined;
  i++;
  const root = readName();
  if (!root) return undefined;
  // Root attributes (the namespace): name="value" or name='value'.
  for (;;) {
    const before = i;
    skipSpace();
    if (text[i] === '>' || text.startsWith('/>', i)) break;
    if (i === before) return undefined;
    if (!readName()) return undefined;
    if (text[i] === ':') {
      i++;
      if (!readName()) return undefined;
    }
    if (text[i] !== '=') return undefined;
    const q = text[i + 1];
    if (q !== '"' && q !== "'") return undefined;
    const close = text.indexOf(q, i + 2);
    if (close < 0 || text.slice(i + 2, close).includes('<')) return undefined;
    i = close + 1;
  }
  const fields = new Map<string, string>();
  if (text.startsWith('/>', i)) {
    i += 2;
  } else {
    i++; // '>'
    for (;;) {
      skipSpace();
      if (text.startsWith('</', i)) {
        i += 2;
        if (readName() !== root || text[i] !== '>') return undefined;
        i++;
        break;
      }
      if (text[i] !== '<') return undefined;
      i++;
      const name = readName();
      if (!name || fields.has(name)) return undefined;
      if (text.startsWith('/>', i)) {
        i += 2;
        fields.set(name, '');
        continue;
      }
      if (text[i] !== '>') return undefined;
      i++;
      const lt = text.indexOf('<', i);
      if (lt < 0) return undefined;
      const value = decodeText(text.slice(i, lt));
      if (value === undefined) return undefined;
      i = lt;
      if (!text.startsWith(`</${name}>`, i)) return undefined;
      i += name.length + 3;
      fields.set(name, value);
    }
  }
  skipSpace();
  return i === n ? { root, fields } : undefined;
}

export interface PublishTarget {
  /** http: or https: */
  secure: boolean;
  hostname: string;
  port: number | undefined;
  agent: http.Agent;
  /** Read timeout, ms: from the moment the request has a connected socket to the end of the answer. */
  timeoutMs: number;
  /** Checked right before the request is sent: a closed client sends nothing more. */
  isClosed(): boolean;
  /** Told of each request sent, so that its client can end it (close, abort) when the agent is shared. */
  track?(req: http.ClientRequest): void;
}

export interface PublishAnswer {
  status: number;
  requestId?: string;
  messageId: string;
  /** As MNS reported it ('' when absent). */
  bodyMD5: string;
}

function invalid(operation: string, status: number, requestId: string | undefined, what: string): MnsError {
  return new MnsError({ code: 'InvalidResponse', status, requestId, source: 'http', message: `MNS ${operation}: ${what}` });
}

/** Turns a complete HTTP answer to PublishMessage into the result, or the typed MnsError. */
export function readPublishAnswer(operation: string, status: number, headers: http.IncomingHttpHeaders, text: string): PublishAnswer {
  const header = headers[REQUEST_ID];
  const headerRequestId = typeof header === 'string' && header !== '' ? header : undefined;
  const contentType = headers['content-type'] ?? '';
  const isXml = text !== '' && (contentType.startsWith('text/xml') || contentType.startsWith('application/xml'));
  if (isXml) {
    const xml = parseFlatXml(text);
    if (!xml) throw invalid(operation, status, headerRequestId, `unreadable response (HTTP ${status}, not the flat XML MNS answers with)`);
    if (xml.root === 'Error') {
      const code = xml.fields.get('Code') ?? '';
      if (!/^\w+$/.test(code)) throw invalid(operation, status, headerRequestId, `unreadable response (HTTP ${status}, an <Error> without a <Code>)`);
      const requestId = xml.fields.get('RequestId') || headerRequestId;
      throw mnsServiceError({ code, status, requestId, text: xml.fields.get('Message') ?? '' }, operation);
    }
    if (status !== 201) throw statusError(operation, status, headerRequestId);
    if (xml.root !== 'Message') throw invalid(operation, status, headerRequestId, `unreadable response (root element <${xml.root}>, expected <Message>)`);
    const messageId = xml.fields.get('MessageId') ?? '';
    if (!messageId) throw invalid(operation, status, headerRequestId, 'the answer carried no MessageId');
    return { status, requestId: headerRequestId, messageId, bodyMD5: xml.fields.get('MessageBodyMD5') ?? '' };
  }
  if (status !== 201) throw statusError(operation, status, headerRequestId);
  throw invalid(operation, status, headerRequestId, 'the answer carried no MessageId');
}

function statusError(operation: string, status: number, requestId: string | undefined): MnsError {
  return new MnsError({ code: codeForStatus(status), status, requestId, source: 'http', message: `MNS ${operation} failed: HTTP ${status} without an MNS error body` });
}

/**
 * StringToSign of a PublishMessage as sent here: the x-mns-* headers are exactly x-mns-date and x-mns-version,
 * so they are canonicalised inline (equal to signature.ts's stringToSign, checked by the M7 test).
 */
export function publishStringToSign(contentMd5Value: string, date: string, resource: string): string {
  return `POST\n${contentMd5Value}\ntext/xml\n${date}\nx-mns-date:${date}\nx-mns-version:${MNS_VERSION}\n${resource}`;
}

/**
 * POSTs one signed PublishMessage and reads the answer. Resolves with the answer or rejects with an MnsError;
 * checking MessageBodyMD5 against the body is the caller's (it knows the unescaped body).
 */
export function postPublish(target: PublishTarget, creds: Credentials, topic: string, xml: string, operation: string): Promise<PublishAnswer> {
  return new Promise<PublishAnswer>((resolve, reject) => {
    const resource = `/topics/${topic}/messages`;
    const body = Buffer.from(xml, 'utf8');
    const md5 = contentMd5(body);
    const date = new Date().toUTCString();
    const toSign = publishStringToSign(md5, date, resource);
    const headers: Record<string, string | number> = {
      date,
      'x-mns-date': date,
      'x-mns-version': MNS_VERSION,
      'content-type': 'text/xml',
      'content-md5': md5,
      'content-length': body.length,
      authorization: authorizationV2(creds.accessKeyId, signV2(creds.accessKeySecret, toSign)),
    };
    if (creds.securityToken) headers['security-token'] = creds.securityToken;

    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      reject(err instanceof MnsError ? err : fromSdkError(err, operation));
    };

    if (target.isClosed()) {
      fail(new MnsError({ code: 'Closed', status: 0, source: 'local', retryable: false, message: `MNS ${operation} refused: the client is closed` }));
      return;
    }
    const options: http.RequestOptions = { host: target.hostname, port: target.port, method: 'POST', path: resource, agent: target.agent, headers };
    const req = target.secure ? https.request(options) : http.request(options);
    target.track?.(req);
    const startTimer = (): void => {
      if (settled || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        fail(new MnsError({ code: 'Timeout', status: 0, source: 'network', message: `MNS ${operation} timed out (no answer within ${target.timeoutMs} ms)` }));
        req.destroy();
      }, target.timeoutMs);
      timer.unref();
    };
    req.once('socket', (socket) => {
      // As the SDK's layer does: the read timer starts once connected (connecting has its own timeout, newAgent()).
      if (socket.connecting) socket.once('connect', startTimer);
      else startTimer();
    });
    req.on('error', fail);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          fail(invalid(operation, res.statusCode ?? 0, undefined, `the answer is over ${MAX_ANSWER_BYTES} bytes, not an MNS answer`));
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
          const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
          const answer = readPublishAnswer(operation, res.statusCode ?? 0, res.headers, text);
          settled = true;
          if (timer) clearTimeout(timer);
          resolve(answer);
        } catch (err) {
          fail(err);
        }
      });
    });
    // The body as text: Node then sends it with the headers in one socket write (a Buffer goes out as a second
    // chunk, i.e. a writev per publish). Same bytes: the UTF-8 of `xml`, as counted in content-length above.
    req.end(xml, 'utf8');
  });
}
