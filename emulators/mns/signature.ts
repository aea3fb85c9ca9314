// MNS request signature V2 (spec §4.1) as the server recomputes it, and the RSA-SHA1 signature of HTTP pushes
// (spec §3.4), with a self-signed X.509 certificate built here from node:crypto primitives.
import { createHash, createHmac, generateKeyPair, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type HeaderBag = Record<string, string | string[] | number | undefined> | IncomingHttpHeaders;

function headerValue(headers: HeaderBag, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.join(',') : String(value);
  }
  return undefined;
}

/** `name:value\n` for every x-mns-* header: lowercased names, trimmed values, sorted by name. */
export function canonicalizedMnsHeaders(headers: HeaderBag): string {
  const entries: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(headers)) {
    const name = key.toLowerCase();
    if (!name.startsWith('x-mns-') || value === undefined) continue;
    entries.push([name, (Array.isArray(value) ? value.join(',') : String(value)).trim()]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return entries.map(([n, v]) => `${n}:${v}\n`).join('');
}

/**
 * The string to sign of spec §4.1. `resource` is the request-target exactly as sent (path plus raw query).
 * The DATE line is the Date header, or x-mns-date when Date is absent (spec §4.1, §13.6).
 */
export function stringToSign(method: string, headers: HeaderBag, resource: string): string {
  const md5 = headerValue(headers, 'content-md5') ?? '';
  const type = headerValue(headers, 'content-type') ?? '';
  const date = headerValue(headers, 'date') ?? headerValue(headers, 'x-mns-date') ?? '';
  return `${method.toUpperCase()}\n${md5}\n${type}\n${date}\n${canonicalizedMnsHeaders(headers)}${resource}`;
}

/** base64(HMAC-SHA1(secret, stringToSign)); the key is the secret itself, without a trailing "&". */
export function signV2(secret: string, toSign: string): string {
  return createHmac('sha1', Buffer.from(secret, 'utf8')).update(Buffer.from(toSign, 'utf8')).digest('base64');
}

/** Constant-time comparison of two base64 signatures. */
export function signaturesEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Parses `MNS AccessKeyId:Signature`; undefined when the header has another shape. */
export function parseAuthorization(value: string): { accessKeyId: string; signature: string } | undefined {
  const match = /^MNS ([^:\s]+):(\S+)$/.exec(value.trim());
  return match ? { accessKeyId: match[1], signature: match[2] } : undefined;
}

/** Content-MD5 is accepted in both forms the SDKs use: base64 of the hex MD5 string, and RFC 1864 base64 of the digest (spec §13.5). */
export function contentMd5Matches(headerValue: string, body: Buffer): boolean {
  const digest = createHash('md5').update(body).digest();
  const hexForm = Buffer.from(digest.toString('hex'), 'utf8').toString('base64');
  const rfcForm = digest.toString('base64');
  const given = headerValue.trim();
  return given === rfcForm || given === hexForm || given === Buffer.from(digest.toString('hex').toUpperCase(), 'utf8').toString('base64');
}

/** MessageBodyMD5: uppercase hex MD5 of the UTF-8 body text (spec §1.4). */
export function bodyMd5(body: string): string {
  return createHash('md5').update(body, 'utf8').digest('hex').toUpperCase();
}

// ---------------------------------------------------------------------------------------------------------
// HTTP push signing (spec §3.4)

export interface PushSigner {
  privateKey: KeyObject;
  publicKey: KeyObject;
  certificatePem: string;
}

/** RSA PKCS#1 v1.5 SHA1withRSA over the push's string to sign, base64. */
export function signPush(privateKey: KeyObject, toSign: string): string {
  return sign('sha1', Buffer.from(toSign, 'utf8'), privateKey).toString('base64');
}

// --- a minimal DER encoder, just enough for one self-signed certificate --------------------------------

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function der(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}
const seq = (...items: Buffer[]): Buffer => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => der(0x31, Buffer.concat(items));
function derInteger(value: Buffer): Buffer {
  let v = value;
  while (v.length > 1 && v[0] === 0 && v[1] < 0x80) v = v.subarray(1);
  if (v[0] >= 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return der(0x02, v);
}
function derOid(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const bytes: number[] = [40 * parts[0] + parts[1]];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
function derUtcTime(date: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0');
  const text = `${p(date.getUTCFullYear() % 100)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(text, 'ascii'));
}
const derNull = Buffer.from([0x05, 0x00]);
const sha256WithRsa = seq(derOid('1.2.840.113549.1.1.11'), derNull);
function derName(commonName: string): Buffer {
  return seq(set(seq(derOid('2.5.4.3'), der(0x0c, Buffer.from(commonName, 'utf8')))));
}

/** Builds a self-signed X.509 v3 certificate (PEM) for the key pair. */
export function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, commonName: string, validDays = 3650): string {
  const now = new Date();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + validDays * 86_400_000);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const tbs = seq(
    der(0xa0, derInteger(Buffer.from([2]))),
    derInteger(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    sha256WithRsa,
    derName(commonName),
    seq(derUtcTime(notBefore), derUtcTime(notAfter)),
    derName(commonName),
    spki,
  );
  const signature = sign('sha256', tbs, privateKey);
  const cert = seq(tbs, sha256WithRsa, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = cert.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

let sharedKey: Promise<{ privateKey: KeyObject; publicKey: KeyObject }> | undefined;

/** One RSA 2048 key per process: generating it takes up to a second on a busy machine, and emulators start often in tests. */
function pushKey(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  sharedKey ??= new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => (err ? reject(err) : resolve({ privateKey, publicKey })));
  });
  sharedKey.catch(() => {
    sharedKey = undefined;
  });
  return sharedKey;
}

/** The emulator's push-signing key and a fresh self-signed certificate for it. */
export async function createPushSigner(commonName: string): Promise<PushSigner> {
  const { privateKey, publicKey } = await pushKey();
  return { privateKey, publicKey, certificatePem: selfSignedCertificate(privateKey, publicKey, commonName) };
}
