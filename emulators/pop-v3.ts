// Signature V3 (ACS3-HMAC-SHA256) as the POP gateway checks it, written for the local STS and the local IoT
// OpenAPI (spec mns-sts §15.4). The current generated clients (@alicloud/sts20150401, @alicloud/iot20180120) sign
// this way by default. Independent of lib/ on purpose: the emulators verify requests with their own code.
//
//   Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2;...>,Signature=<hex>
//   CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n
//                      hex(SHA-256(body))
//   StringToSign     = "ACS3-HMAC-SHA256" \n hex(SHA-256(CanonicalRequest))
//   Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
//
// CanonicalQueryString: every query parameter, name and value RFC 3986-encoded (space %20, * %2A, ~ kept),
// sorted by encoded name, joined "name=value" with "&". CanonicalHeaders: each signed header as
// "lower-case-name:trimmed value\n", in SignedHeaders order (sorted). Every common header present
// (host, x-acs-*, content-type) must be signed.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

/** x-acs-date format: UTC, second precision, "Z". */
const ACS_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** A refusal with the gateway's status and code; each emulator turns it into its own error body. */
export class PopV3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ParsedAuthorization {
  algorithm: string;
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** True when the request carries a V3 Authorization header (then V1 query parameters are not looked at). */
export function isV3Request(headers: IncomingHttpHeaders): boolean {
  const auth = headers.authorization;
  return typeof auth === 'string' && /^ACS3-/i.test(auth.trim());
}

/** RFC 3986: only A-Z a-z 0-9 - _ . ~ stay; every other UTF-8 byte becomes %XX (upper-case hex). */
export function acsEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const isUnreserved =
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x5f || byte === 0x2e || byte === 0x7e;
    out += isUnreserved ? String.fromCharCode(byte) : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function parseAuthorization(value: string): ParsedAuthorization {
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== ACS3_ALGORITHM) {
    throw new PopV3Error(400, 'IncompleteSignature', `The signature algorithm ${algorithm} is not supported; use ${ACS3_ALGORITHM}.`);
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  for (const [name, v] of [['Credential', accessKeyId], ['SignedHeaders', signed], ['Signature', signature]] as const) {
    if (!v) throw new PopV3Error(400, 'IncompleteSignature', `The Authorization header has no ${name}=...; the request signature does not conform to Aliyun standards.`);
  }
  if (!/^[0-9a-f]{64}$/.test(signature as string)) {
    throw new PopV3Error(400, 'IncompleteSignature', 'The Signature in the Authorization header is not 64 lower-case hex digits.');
  }
  return { algorithm, accessKeyId: accessKeyId as string, signedHeaders: (signed as string).split(';').map((h) => h.trim().toLowerCase()), signature: signature as string };
}

export function canonicalQueryString(rawQuery: string): string {
  const pairs: [string, string][] = [];
  for (const [k, v] of new URLSearchParams(rawQuery)) pairs.push([acsEncode(k), acsEncode(v)]);
  pairs.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])) || Buffer.compare(Buffer.from(a[1]), Buffer.from(b[1])));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerText(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  const text = Array.isArray(v) ? v.map((s) => s.trim()).sort().join(',') : (v ?? '');
  return text.replace(/[\t\n\r\f]/g, ' ').trim();
}

export interface V3Input {
  method: string;
  /** Request target as received (path and query), e.g. "/?Action=Pub". */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function canonicalRequest(input: V3Input, signedHeaders: string[], payloadHash: string): string {
  const q = input.url.indexOf('?');
  const path = q < 0 ? input.url : input.url.slice(0, q);
  const query = q < 0 ? '' : input.url.slice(q + 1);
  const headerLines = signedHeaders.map((h) => `${h}:${headerText(input.headers, h)}\n`).join('');
  return [input.method.toUpperCase(), path || '/', canonicalQueryString(query), headerLines, signedHeaders.join(';'), payloadHash].join('\n');
}

export function stringToSignV3(canonical: string): string {
  return `${ACS3_ALGORITHM}\n${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

export function signV3(accessKeySecret: string, stringToSign: string): string {
  return createHmac('sha256', accessKeySecret).update(stringToSign, 'utf8').digest('hex');
}

export interface V3Checked {
  accessKeyId: string;
  action: string;
  version: string;
  nonce: string;
  /** x-acs-security-token, when the caller signs with STS credentials. */
  securityToken?: string;
  /** Parameters from the query and a form body, merged (the body wins), as V1 requests carry them. */
  params: Map<string, string>;
  /** Compares the given signature with the one computed from the caller's secret. */
  verify(accessKeySecret: string): void;
}

/**
 * Parses and checks the parts of a V3 request that need no secret: Authorization form, required headers and that
 * each is signed, x-acs-date format and skew, x-acs-content-sha256 against the body. Call `verify(secret)` on the
 * result once the caller's key is known, then record the nonce.
 */
export function checkV3(input: V3Input, skewMs: number, now = Date.now()): V3Checked {
  const auth = parseAuthorization(String(input.headers.authorization ?? ''));
  const required = ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'];
  for (const h of required) {
    if (!headerText(input.headers, h)) throw new PopV3Error(400, 'MissingParameter', `The header "${h}" that is mandatory for processing this request is not supplied.`);
  }
  const signed = new Set(auth.signedHeaders);
  const sorted = [...auth.signedHeaders].sort();
  if (sorted.join(';') !== auth.signedHeaders.join(';') || signed.size !== auth.signedHeaders.length) {
    throw new PopV3Error(400, 'IncompleteSignature', 'SignedHeaders must list lower-case header names once each, sorted and separated by ";".');
  }
  for (const name of Object.keys(input.headers)) {
    const must = name === 'host' || name === 'content-type' || name.startsWith('x-acs-');
    if (must && !signed.has(name)) throw new PopV3Error(400, 'IncompleteSignature', `The header "${name}" is present but not listed in SignedHeaders; every common header must be signed.`);
  }
  const date = headerText(input.headers, 'x-acs-date');
  if (!ACS_DATE.test(date) || Number.isNaN(Date.parse(date))) {
    throw new PopV3Error(400, 'InvalidTimeStamp.Format', `Specified time stamp or date value ${date} is not well formatted; x-acs-date must be like 2024-01-01T00:00:00Z.`);
  }
  if (Math.abs(now - Date.parse(date)) > skewMs) throw new PopV3Error(400, 'InvalidTimeStamp.Expired', `Specified time stamp or date value ${date} is expired.`);
  const payloadHash = createHash('sha256').update(input.body).digest('hex');
  if (headerText(input.headers, 'x-acs-content-sha256') !== payloadHash) {
    throw new PopV3Error(400, 'SignatureDoesNotMatch', 'The x-acs-content-sha256 header is not the hex SHA-256 of the request body.');
  }

  const params = new Map<string, string>();
  const q = input.url.indexOf('?');
  for (const [k, v] of new URLSearchParams(q < 0 ? '' : input.url.slice(q + 1))) params.set(k, v);
  const type = headerText(input.headers, 'content-type');
  if (input.body.length > 0 && type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(input.body.toString('utf8'))) params.set(k, v);
  }
  const token = headerText(input.headers, 'x-acs-security-token') || undefined;
  const keyHeader = headerText(input.headers, 'x-acs-accesskey-id');
  if (keyHeader && keyHeader !== auth.accessKeyId) {
    throw new PopV3Error(400, 'IncompleteSignature', 'The x-acs-accesskey-id header names another AccessKey ID than the Authorization Credential.');
  }
  const canonical = canonicalRequest(input, auth.signedHeaders, payloadHash);
  const toSign = stringToSignV3(canonical);
  return {
    accessKeyId: auth.accessKeyId,
    action: headerText(input.headers, 'x-acs-action'),
    version: headerText(input.headers, 'x-acs-version'),
    nonce: headerText(input.headers, 'x-acs-signature-nonce'),
    securityToken: token,
    params,
    verify(accessKeySecret: string): void {
      const expected = Buffer.from(signV3(accessKeySecret, toSign));
      const given = Buffer.from(auth.signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
        throw new PopV3Error(
          400,
          'SignatureDoesNotMatch',
          `Specified signature is not matched with our calculation. server string to sign is:${toSign} canonical request is:${JSON.stringify(canonical)}`,
        );
      }
    },
  };
}
