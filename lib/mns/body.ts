// Message bodies: XML escaping (spec §10.1), the 64 KB limit and Base64. Envelopes (notifications, the IoT legacy
// format) are read by envelope.ts.
import cryptoModule, { createHash } from 'node:crypto';

/** MNS's per-message limit (spec §6). */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_TAG_CHARS = 16;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/**
 * Escapes text for an XML element (and attribute) context. A carriage return becomes `&#13;`: XML parsers turn a
 * literal CR (or CRLF) into LF, but keep a character reference, so CRLF text arrives unchanged.
 */
export function escapeXml(text: string): string {
  // Most bodies (Base64, plain JSON) need no escaping: skip the replace and its per-match callback.
  return XML_SPECIAL.test(text) ? text.replace(XML_SPECIALS, (c) => XML_ESCAPES[c]) : text;
}
const XML_SPECIAL = /[&<>"'\r]/;
const XML_SPECIALS = /[&<>"'\r]/g;

/** Characters XML 1.0 cannot carry at all: C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/U+FFFF. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point here
const XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// eslint-disable-next-line no-control-regex -- matching control characters is the point here
const MAYBE_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

/** Returns why `text` cannot be an MNS message body as is, or undefined when it can. */
export function bodyProblem(text: string): string | undefined {
  if (text.length === 0) return 'the message body is empty (MNS needs at least one character)';
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short texts need no byte count.
  if (text.length * 3 > MAX_BODY_BYTES) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_BODY_BYTES) return `the message body is ${bytes} bytes, over the MNS limit of ${MAX_BODY_BYTES} bytes (64 KB)`;
  }
  // Fast path: no control character and no surrogate at all (most bodies) needs no closer look.
  if (!MAYBE_ILLEGAL.test(text)) return undefined;
  const bad = XML_ILLEGAL.exec(text);
  if (bad) {
    const cp = bad[0].codePointAt(0) ?? 0;
    return `the message body contains U+${cp.toString(16).toUpperCase().padStart(4, '0')} at index ${bad.index}, which MNS's XML cannot carry unchanged — choose Base64 body encoding for binary or control characters`;
  }
  return undefined;
}

export function tagProblem(tag: string): string | undefined {
  if (tag.length === 0 || tag.length > MAX_TAG_CHARS) return `the message tag must be 1 to ${MAX_TAG_CHARS} characters, got ${tag.length}`;
  if (XML_ILLEGAL.test(tag)) return 'the message tag contains a control character';
  return undefined;
}

/** Upper-case hex MD5 of the body text, as MNS reports it in MessageBodyMD5 (spec §1.4). */
export function bodyMd5(text: string): string {
  return md5Hex(text).toUpperCase();
}

/** crypto.hash (Node ≥ 20.12): a one-shot digest, about twice as fast as createHash for short inputs. */
const oneShotHash = (cryptoModule as { hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string }).hash;

/** Lower-case hex MD5 of a string's UTF-8 bytes or of a Buffer. */
export function md5Hex(data: string | Buffer): string {
  return oneShotHash ? oneShotHash('md5', data, 'hex') : createHash('md5').update(data).digest('hex');
}

export type BodyEncoding = 'json' | 'base64';

/**
 * The body for msg.payload: Buffers always as Base64 (XML cannot carry bytes); strings as they are, or Base64
 * of their UTF-8 when `encoding` is base64; anything else as JSON text (then Base64 when asked).
 */
export function encodeBody(payload: unknown, encoding: BodyEncoding): string {
  if (Buffer.isBuffer(payload)) return payload.toString('base64');
  if (payload instanceof Uint8Array) return Buffer.from(payload).toString('base64');
  let text: string;
  if (typeof payload === 'string') text = payload;
  else if (payload === undefined) throw new Error('msg.payload is missing: there is nothing to publish');
  else {
    try {
      const json = JSON.stringify(payload) as string | undefined;
      text = json ?? String(payload);
    } catch (err) {
      throw new Error(`msg.payload cannot be turned into JSON text: ${(err as Error).message}`, { cause: err });
    }
  }
  return encoding === 'base64' ? Buffer.from(text, 'utf8').toString('base64') : text;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function looksBase64(text: string): boolean {
  return text.length > 0 && text.length % 4 === 0 && BASE64.test(text);
}
