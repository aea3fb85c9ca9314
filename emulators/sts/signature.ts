// The local STS's own RPC V1 signature check (independent of lib/pop on purpose; spec §9.3).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** RFC 3986 encoding, byte by byte, written out rather than derived from encodeURIComponent. */
export function rfc3986(input: string): string {
  let out = '';
  for (const byte of Buffer.from(input, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function serverStringToSign(method: string, params: Map<string, string>): string {
  const entries: [string, string][] = [];
  for (const [k, v] of params) if (k !== 'Signature') entries.push([rfc3986(k), rfc3986(v)]);
  entries.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const canonical = entries.map(([k, v]) => k + '=' + v).join('&');
  return method + '&' + rfc3986('/') + '&' + rfc3986(canonical);
}

export function expectedSignature(stringToSign: string, secret: string): string {
  return createHmac('sha1', `${secret}&`).update(Buffer.from(stringToSign, 'utf8')).digest('base64');
}

export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
