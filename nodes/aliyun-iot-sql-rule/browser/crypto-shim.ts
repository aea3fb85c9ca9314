// node:crypto for the editor's browser copy of lib/sql. The compiler folds crypto('literal', 'SHA-256') into a
// constant and error messages quote folded values, so the editor computes the real digests. The browser's
// SubtleCrypto is asynchronous and a compile is not, hence these small synchronous implementations of MD5, SHA-1 and
// the SHA-2 family (FIPS 180-4; the SHA-2 constants are derived from the primes, as the standard defines them).
// MD2 is lib/sql's own (plain JavaScript). Speed does not matter: only literals in the SQL text are hashed here.

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

function hex32(words: number[], littleEndian: boolean): string {
  let s = '';
  for (const w of words) {
    const v = littleEndian ? ((w & 0xff) << 24) | ((w >>> 8 & 0xff) << 16) | ((w >>> 16 & 0xff) << 8) | (w >>> 24) : w;
    s += (v >>> 0).toString(16).padStart(8, '0');
  }
  return s;
}

/** Message padded to whole blocks: 0x80, zeros, then the bit length in `lengthBytes` bytes. */
function pad(msg: Uint8Array, blockBytes: number, lengthBytes: number, littleEndian: boolean): Uint8Array {
  const total = Math.ceil((msg.length + 1 + lengthBytes) / blockBytes) * blockBytes;
  const out = new Uint8Array(total);
  out.set(msg);
  out[msg.length] = 0x80;
  let bits = BigInt(msg.length) * 8n;
  for (let i = 0; i < lengthBytes; i++) {
    out[littleEndian ? total - lengthBytes + i : total - 1 - i] = Number(bits & 0xffn);
    bits >>= 8n;
  }
  return out;
}

const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));

function md5(msg: Uint8Array): string {
  const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
  const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  const h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
  const m = pad(msg, 64, 8, true);
  const view = new DataView(m.buffer, m.byteOffset, m.byteLength);
  for (let off = 0; off < m.length; off += 64) {
    let [a, b, c, d] = h;
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      let f: number;
      let g: number;
      if (round === 0) { f = (b & c) | (~b & d); g = i; }
      else if (round === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (round === 2) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const t = d;
      d = c;
      c = b;
      b = (b + rotl((a + f + K[i] + view.getInt32(off + g * 4, true)) | 0, S[round * 4 + (i & 3)])) | 0;
      a = t;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
  }
  return hex32(h, true);
}

function sha1(msg: Uint8Array): string {
  const h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];
  const m = pad(msg, 64, 8, false);
  const view = new DataView(m.buffer, m.byteOffset, m.byteLength);
  const w = new Int32Array(80);
  for (let off = 0; off < m.length; off += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getInt32(off + t * 4);
    for (let t = 16; t < 80; t++) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    let [a, b, c, d, e] = h;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
      else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
      else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc | 0; }
      else { f = b ^ c ^ d; k = 0xca62c1d6 | 0; }
      const temp = (rotl(a, 5) + f + e + k + w[t]) | 0;
      e = d; d = c; c = rotl(b, 30); b = a; a = temp;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0;
  }
  return hex32(h, false);
}

// ---- SHA-2, one BigInt implementation for 32- and 64-bit words ---------------------------------------------------

const PRIMES: number[] = [];
for (let n = 2; PRIMES.length < 80; n++) if (PRIMES.every((p) => n % p !== 0)) PRIMES.push(n);

/** floor(n^(1/k)) by Newton's method from above. */
function iroot(n: bigint, k: bigint): bigint {
  let x = 1n << (BigInt(n.toString(2).length) / k + 1n);
  for (;;) {
    const y = ((k - 1n) * x + n / x ** (k - 1n)) / k;
    if (y >= x) return x;
    x = y;
  }
}

/** The first 64 bits of the fractional part of p^(1/k). */
const frac64 = (p: number, k: bigint) => iroot(BigInt(p) << (64n * k), k) & 0xffffffffffffffffn;

interface Sha2Shape {
  bits: 32n | 64n;
  rounds: number;
  /** Σ0, Σ1 rotations; σ0, σ1 rotations and shift. */
  S0: [bigint, bigint, bigint];
  S1: [bigint, bigint, bigint];
  s0: [bigint, bigint, bigint];
  s1: [bigint, bigint, bigint];
}
const SHA256: Sha2Shape = { bits: 32n, rounds: 64, S0: [2n, 13n, 22n], S1: [6n, 11n, 25n], s0: [7n, 18n, 3n], s1: [17n, 19n, 10n] };
const SHA512: Sha2Shape = { bits: 64n, rounds: 80, S0: [28n, 34n, 39n], S1: [14n, 18n, 41n], s0: [1n, 8n, 7n], s1: [19n, 61n, 6n] };

function sha2(msg: Uint8Array, shape: Sha2Shape, iv: bigint[], outWords: number): string {
  const { bits } = shape;
  const mask = (1n << bits) - 1n;
  const wordBytes = Number(bits) / 8;
  const K = PRIMES.slice(0, shape.rounds).map((p) => frac64(p, 3n) >> (64n - bits));
  const rotr = (x: bigint, n: bigint) => ((x >> n) | (x << (bits - n))) & mask;
  const big = (r: [bigint, bigint, bigint], x: bigint) => rotr(x, r[0]) ^ rotr(x, r[1]) ^ rotr(x, r[2]);
  const small = (r: [bigint, bigint, bigint], x: bigint) => rotr(x, r[0]) ^ rotr(x, r[1]) ^ (x >> r[2]);
  const h = iv.slice();
  const m = pad(msg, 16 * wordBytes, 2 * wordBytes, false);
  for (let off = 0; off < m.length; off += 16 * wordBytes) {
    const w: bigint[] = [];
    for (let t = 0; t < 16; t++) {
      let v = 0n;
      for (let i = 0; i < wordBytes; i++) v = (v << 8n) | BigInt(m[off + t * wordBytes + i]);
      w.push(v);
    }
    for (let t = 16; t < shape.rounds; t++) w.push((small(shape.s1, w[t - 2]) + w[t - 7] + small(shape.s0, w[t - 15]) + w[t - 16]) & mask);
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < shape.rounds; t++) {
      const t1 = (hh + big(shape.S1, e) + ((e & f) ^ (~e & mask & g)) + K[t] + w[t]) & mask;
      const t2 = (big(shape.S0, a) + ((a & b) ^ (a & c) ^ (b & c))) & mask;
      hh = g; g = f; f = e; e = (d + t1) & mask; d = c; c = b; b = a; a = (t1 + t2) & mask;
    }
    [a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) & mask; });
  }
  return h.slice(0, outWords).map((v) => v.toString(16).padStart(wordBytes * 2, '0')).join('');
}

const sqrtIv = (from: number, shift: bigint) => PRIMES.slice(from, from + 8).map((p) => frac64(p, 2n) >> shift);

const ALGORITHMS: Record<string, (msg: Uint8Array) => string> = {
  md5,
  sha1,
  sha256: (msg) => sha2(msg, SHA256, sqrtIv(0, 32n), 8),
  sha384: (msg) => sha2(msg, SHA512, sqrtIv(8, 0n), 6),
  sha512: (msg) => sha2(msg, SHA512, sqrtIv(0, 0n), 8),
};

export function createHash(algorithm: string) {
  const hash = ALGORITHMS[algorithm];
  if (!hash) throw new Error(`Digest method not supported: ${algorithm}`);
  const parts: Uint8Array[] = [];
  return {
    update(data: Uint8Array | string) {
      parts.push(toBytes(data));
      return this;
    },
    digest(): string {
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) { all.set(p, at); at += p.length; }
      return hash(all);
    },
  };
}

export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}
