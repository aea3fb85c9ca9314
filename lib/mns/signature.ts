// MNS request signature V2 (spec §4.1), used by every request of our client
// (publish.ts, request.ts). Checked against the spec's vectors M1–M8 in test/mns/signature.test.ts.
import { createHmac } from 'node:crypto';
import { md5Hex } from './body';

export const MNS_VERSION = '2015-06-06';

/**
 * CanonicalizedMNSHeaders: every header whose lower-cased name starts with `x-mns-`, as `name:value\n`, names
 * lower-cased, values trimmed, sorted by name. Other headers (Host, security-token, ...) are not signed.
 */
export function canonicalizedMnsHeaders(headers: Record<string, string | number | undefined>): string {
  const picked: Array<[string, string]> = [];
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    const value = headers[name];
    if (lower.startsWith('x-mns-') && value !== undefined) picked.push([lower, String(value).trim()]);
  }
  picked.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let out = '';
  for (const [name, value] of picked) out += `${name}:${value}\n`;
  return out;
}

export interface StringToSignParts {
  verb: string;
  /** Content-MD5 header value, or '' when none is sent. */
  contentMd5?: string;
  /** Content-Type header value, or '' when none is sent. */
  contentType?: string;
  /** The Date header value. */
  date: string;
  /** All request headers; only the x-mns-* ones are used. */
  headers: Record<string, string | number | undefined>;
  /** The request target exactly as sent: path plus raw query. */
  resource: string;
}

export function stringToSign(p: StringToSignParts): string {
  return `${p.verb}\n${p.contentMd5 ?? ''}\n${p.contentType ?? ''}\n${p.date}\n${canonicalizedMnsHeaders(p.headers)}${p.resource}`;
}

/** base64(HMAC-SHA1(AccessKeySecret, StringToSign)) — the key is the secret as is (no "&" suffix). */
export function signV2(accessKeySecret: string, text: string): string {
  return createHmac('sha1', accessKeySecret).update(text, 'utf8').digest('base64');
}

/** The Authorization header value. */
export function authorizationV2(accessKeyId: string, signature: string): string {
  return `MNS ${accessKeyId}:${signature}`;
}

/** Content-MD5 as every MNS SDK sends it: base64 of the lower-case *hex* MD5 of the body (spec §1.2). */
export function contentMd5(body: Buffer): string {
  return Buffer.from(md5Hex(body), 'latin1').toString('base64');
}
