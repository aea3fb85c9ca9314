// Alibaba Cloud RPC-style ("POP") request signature, version 1.0 (HMAC-SHA1).
// Spec: ../shared/spec/mns-sts.md §9.3; verified against vectors S1–S3 of §9.4.
import { createHmac } from 'node:crypto';

export type RpcParams = Record<string, string>;

/**
 * RFC 3986 percent-encoding as the RPC signature wants it: only `A-Z a-z 0-9 - _ . ~` stay,
 * everything else is UTF-8 bytes as `%XX` with uppercase hex (space → `%20`, `*` → `%2A`).
 */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** Sorted `k=v&k=v` of every parameter except `Signature`, keys and values percent-encoded. */
export function canonicalQueryString(params: RpcParams): string {
  const pairs = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .map((k) => [percentEncode(k), percentEncode(params[k])] as const);
  // Byte order of the encoded keys (the encoded form is ASCII, so a plain comparison is byte order).
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export function stringToSign(method: string, params: RpcParams): string {
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonicalQueryString(params))}`;
}

/** base64(HMAC-SHA1(secret + "&", StringToSign)). */
export function signRpc(method: string, params: RpcParams, accessKeySecret: string): string {
  return createHmac('sha1', accessKeySecret + '&').update(stringToSign(method, params), 'utf8').digest('base64');
}
