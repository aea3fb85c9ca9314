// The Buffer operations lib/sql performs (Buffer.from of text or bytes, Buffer.alloc, Buffer.isBuffer, and the
// hex / Base64 / UTF-8 text of bytes), for the editor's browser copy of the engine. esbuild injects it wherever
// lib/sql names `Buffer`; the compiler needs it while folding constants such as crypto('text', 'MD2').
const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Bytes extends Uint8Array {
  override toString(encoding = 'utf8'): string {
    if (encoding === 'hex') {
      let s = '';
      for (let i = 0; i < this.length; i++) s += this[i].toString(16).padStart(2, '0');
      return s;
    }
    if (encoding === 'base64') {
      let bin = '';
      for (let i = 0; i < this.length; i++) bin += String.fromCharCode(this[i]);
      return btoa(bin);
    }
    return decoder.decode(this);
  }
}

export const Buffer = {
  isBuffer(v: unknown): v is Bytes {
    return v instanceof Bytes;
  },
  alloc(size: number): Bytes {
    return new Bytes(size);
  },
  from(value: string | ArrayLike<number> | ArrayBuffer, encodingOrOffset?: string | number, length?: number): Bytes {
    if (typeof value === 'string') {
      if (encodingOrOffset !== undefined && encodingOrOffset !== 'utf8' && encodingOrOffset !== 'utf-8') {
        throw new Error(`Buffer.from: encoding ${String(encodingOrOffset)} is not available in the editor`);
      }
      const bytes = encoder.encode(value);
      return new Bytes(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    if (value instanceof ArrayBuffer) return new Bytes(value, encodingOrOffset as number | undefined, length);
    const out = new Bytes(value.length);
    out.set(value);
    return out;
  },
};
