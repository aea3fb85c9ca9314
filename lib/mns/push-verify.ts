// Verifying an MNS HTTP push (spec §3.4, §15.2), for the coming `aliyun-mns-push-in` node: the signing
// certificate may only come from Alibaba's certificate hosts over HTTPS (or from hosts the operator trusts in
// settings.js, e.g. the local MNS), is fetched once and cached; the request must carry a SHA1withRSA signature by
// that certificate over the MNS string-to-sign, and a Date within 15 minutes. Then the body must be a notification
// (XML, JSON, or SIMPLIFIED with its x-mns-message-id header) within the MNS size limit.
import { X509Certificate, createHash, createVerify } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { MAX_BODY_BYTES } from './body';
import { parseNotification, type Unwrapped } from './envelope';
import { canonicalizedMnsHeaders } from './signature';

/** Alibaba's documented certificate hosts (spec §15.2). */
const ALIBABA_CERT_HOSTS = [/^mnstest\.oss-cn-hangzhou\.aliyuncs\.com$/, /^mns-cert\.oss-[a-z0-9-]+\.aliyuncs\.com$/];
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_CERT_BYTES = 16 * 1024;
/** A notification carries one message (≤ 64 KB) XML- or JSON-escaped (up to 6 bytes a character) plus its fields. */
export const MAX_PUSH_BODY_BYTES = 6 * MAX_BODY_BYTES + 4096;

export interface PushRequest {
  method: string;
  /** The request target as received (path and query), as MNS signed it. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type PushVerdict =
  | { ok: true; unwrapped: Unwrapped }
  | { ok: false; status: 400 | 403; reason: string };

export interface PushVerifierOptions {
  /** Extra certificate hosts (host or host:port) trusted over http or https: only for a local MNS. Default none. */
  trustedCertHosts?: string[];
  /** Fetches a certificate PEM (default: GET over http(s), 5 s timeout, 16 KB at most). */
  fetchCert?: (url: string) => Promise<string>;
  now?: () => number;
}

function header(h: http.IncomingHttpHeaders, name: string): string {
  const v = h[name];
  return Array.isArray(v) ? v[0] ?? '' : v ?? '';
}

export function fetchPem(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { timeout: 5000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`the certificate URL answered HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_CERT_BYTES) req.destroy(new Error('the certificate is too large'));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the certificate URL did not answer within 5 s')));
    req.on('error', reject);
  });
}

export class PushVerifier {
  private readonly trusted: Set<string>;
  private readonly fetchCert: (url: string) => Promise<string>;
  private readonly now: () => number;
  /** Certificates by URL (a fetch in flight is shared); a failed fetch is forgotten so a later push retries it. */
  private readonly certs = new Map<string, Promise<X509Certificate>>();

  constructor(o: PushVerifierOptions = {}) {
    this.trusted = new Set((o.trustedCertHosts ?? []).map((h) => h.toLowerCase()));
    this.fetchCert = o.fetchCert ?? fetchPem;
    this.now = o.now ?? Date.now;
  }

  /** Why a certificate URL is not trusted, or undefined when it is. */
  certUrlProblem(text: string): string | undefined {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return 'the signing certificate URL is not a URL';
    }
    if (this.trusted.has(url.host.toLowerCase()) && (url.protocol === 'https:' || url.protocol === 'http:')) return undefined;
    if (url.protocol !== 'https:') return `the signing certificate must be fetched over HTTPS, got ${url.protocol}//${url.host}`;
    if (url.port !== '' || !ALIBABA_CERT_HOSTS.some((re) => re.test(url.hostname.toLowerCase()))) return `the signing certificate host ${url.host} is not an Alibaba Cloud MNS certificate host`;
    return undefined;
  }

  private cert(url: string): Promise<X509Certificate> {
    let p = this.certs.get(url);
    if (!p) {
      p = this.fetchCert(url).then((pem) => new X509Certificate(pem));
      p.catch(() => this.certs.delete(url));
      if (this.certs.size >= 16) this.certs.delete(this.certs.keys().next().value as string);
      this.certs.set(url, p);
    }
    return p;
  }

  /** Checks one push; never throws. */
  async verify(req: PushRequest): Promise<PushVerdict> {
    const deny = (reason: string): PushVerdict => ({ ok: false, status: 403, reason });
    const signature = header(req.headers, 'authorization');
    const certHeader = header(req.headers, 'x-mns-signing-cert-url');
    const date = header(req.headers, 'date');
    if (!signature || !certHeader || !date) return deny('unsigned: Authorization, x-mns-signing-cert-url and Date are required');
    if (req.method !== 'POST') return deny(`MNS pushes with POST, not ${req.method}`);
    const when = Date.parse(date);
    if (!Number.isFinite(when)) return deny('the Date header is not a date');
    if (Math.abs(this.now() - when) > MAX_SKEW_MS) return deny('the Date header is more than 15 minutes away from now (replayed or a wrong clock)');
    const certUrl = Buffer.from(certHeader, 'base64').toString('utf8');
    const problem = this.certUrlProblem(certUrl);
    if (problem) return deny(problem);
    let cert: X509Certificate;
    try {
      cert = await this.cert(certUrl);
    } catch (err) {
      return deny(`the signing certificate could not be fetched: ${(err as Error).message}`);
    }
    const mnsHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-mns-') && typeof v === 'string') mnsHeaders[k] = v;
    const toSign = `${req.method}\n${header(req.headers, 'content-md5')}\n${header(req.headers, 'content-type')}\n${date}\n${canonicalizedMnsHeaders(mnsHeaders)}${req.url}`;
    let good: boolean;
    try {
      good = createVerify('RSA-SHA1').update(toSign, 'utf8').verify(cert.publicKey, Buffer.from(signature, 'base64'));
    } catch {
      good = false;
    }
    if (!good) return deny('the signature does not match the request');
    // The signature covers the body only through Content-MD5 (when MNS sends one): it must then match.
    const md5 = header(req.headers, 'content-md5');
    if (md5 !== '') {
      const hex = createHash('md5').update(req.body).digest('hex');
      if (md5 !== Buffer.from(hex, 'latin1').toString('base64') && md5 !== Buffer.from(hex, 'hex').toString('base64')) return deny('the body does not match its Content-MD5');
    }

    if (req.body.length > MAX_PUSH_BODY_BYTES) return { ok: false, status: 400, reason: `the body is ${req.body.length} bytes, over the MNS limit` };
    const text = req.body.toString('utf8');
    const notification = parseNotification(text);
    let unwrapped: Unwrapped;
    if (notification) unwrapped = notification;
    else if (header(req.headers, 'x-mns-message-id') !== '') unwrapped = { envelope: 'plain', message: text };
    else return { ok: false, status: 400, reason: 'the body is not an MNS notification (XML, JSON, or SIMPLIFIED with x-mns-message-id)' };
    if (Buffer.byteLength(unwrapped.message, 'utf8') > MAX_BODY_BYTES) return { ok: false, status: 400, reason: 'the message is over the MNS limit of 64 KB' };
    return { ok: true, unwrapped };
  }
}
