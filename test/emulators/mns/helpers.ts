// Test helpers for the local MNS: a raw signed HTTP client written from the spec (§4.1) independently of the
// emulator's own verifier, a tiny XML field reader, and event waiting.
import http from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import type { EventEmitter } from 'node:events';

export const ACCOUNT_ID = '1234567890123456';
export const AK = 'LTAI-test-writer';
export const SK = 'test-writer-secret';
export const NS = 'http://mns.aliyuncs.com/doc/v1/';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends exactly these headers (no additions beyond what node:http must add: Host, Content-Length, Connection). */
export function rawRequest(baseUrl: string, method: string, target: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: target, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface SignOptions {
  accessKeyId?: string;
  accessKeySecret?: string;
  securityToken?: string;
  date?: string;
  contentType?: string;
  /** Extra headers (x-mns-* ones are signed). */
  headers?: Record<string, string>;
  /** Send Content-MD5 (base64 of the hex MD5, as the SDKs do) when there is a body. Default true. */
  contentMd5?: boolean;
}

/** Signs per spec §4.1: VERB, Content-MD5, Content-Type, Date, sorted x-mns-* headers, raw request-target. */
export function signedHeaders(method: string, target: string, body: string | undefined, opts: SignOptions = {}): Record<string, string> {
  const date = opts.date ?? new Date().toUTCString();
  const headers: Record<string, string> = { Date: date, 'x-mns-version': '2015-06-06', ...opts.headers };
  if (body !== undefined && body !== '') {
    headers['Content-Type'] = opts.contentType ?? 'text/xml';
    if (opts.contentMd5 !== false) {
      headers['Content-MD5'] = Buffer.from(createHash('md5').update(body, 'utf8').digest('hex'), 'utf8').toString('base64');
    }
  }
  const mns = Object.entries(headers)
    .filter(([k]) => k.toLowerCase().startsWith('x-mns-'))
    .map(([k, v]) => [k.toLowerCase(), v.trim()] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}:${v}\n`)
    .join('');
  const toSign = `${method}\n${headers['Content-MD5'] ?? ''}\n${headers['Content-Type'] ?? ''}\n${date}\n${mns}${target}`;
  const signature = createHmac('sha1', opts.accessKeySecret ?? SK).update(toSign, 'utf8').digest('base64');
  headers.Authorization = `MNS ${opts.accessKeyId ?? AK}:${signature}`;
  if (opts.securityToken !== undefined) headers['security-token'] = opts.securityToken;
  return headers;
}

export function signedRequest(baseUrl: string, method: string, target: string, body?: string, opts: SignOptions = {}): Promise<RawResponse> {
  return rawRequest(baseUrl, method, target, signedHeaders(method, target, body, opts), body);
}

/** The decoded text of the first <name>…</name> in an XML string (enough for flat MNS documents). */
export function xmlField(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  if (!m) return undefined;
  return m[1].replace(/&(lt|gt|amp|quot|apos|#x?[0-9A-Fa-f]+);/g, (_w, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

export function xmlFields(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]);
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Resolves with the first event payload that satisfies the predicate. */
export function waitForEvent<T>(emitter: EventEmitter, name: string, predicate: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (value: T): void => {
      if (!predicate(value)) return;
      emitter.off(name, listener);
      resolve(value);
    };
    emitter.on(name, listener);
  });
}

/** Error name/message of an @alicloud/mns failure, for assertions. */
export async function sdkError(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the SDK call to fail');
}
