// RPC (POP) signature V1 as the server checks it (spec mns-sts §9.3), written for the local IoT OpenAPI.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** RFC 3986 percent-encoding as POP uses it: only A-Z a-z 0-9 - _ . ~ stay. */
export function popEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function rpcStringToSign(method: string, params: Record<string, string>): string {
  const pairs = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .map((k) => [popEncode(k), popEncode(params[k])] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return `${method.toUpperCase()}&${popEncode('/')}&${popEncode(pairs)}`;
}

export function rpcSignature(accessKeySecret: string, stringToSign: string): string {
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
}

export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
