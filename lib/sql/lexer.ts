// Lexer for the rule SQL. Every token carries its 1-based line/column and source offsets.
import { clip } from './limits';
import { SqlError } from './types';

export type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Identifier / operator text, string contents (unescaped), or the number as written. */
  value: string;
  /** Upper-cased identifier (keyword test); empty for other kinds. */
  upper: string;
  /** Numeric value of a number token. */
  num: number;
  line: number;
  column: number;
  /** Source offsets [start, end). */
  start: number;
  end: number;
}

const TWO_CHAR_OPS = new Set(['<>', '!=', '<=', '>=']);
const ONE_CHAR_OPS = new Set([',', '(', ')', '.', '[', ']', '*', '+', '-', '/', '%', '=', '<', '>', ';']);

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36
    || (c >= 0x80 && !isSpace(c) && lookalike(c) === undefined);
}

/**
 * The ASCII character that a full-width or typographic punctuation mark stands for (an IME typing `，` for `,`,
 * curly quotes pasted from a web page). Such a mark is refused with a hint instead of silently becoming part of a
 * field name.
 */
function lookalike(c: number): string | undefined {
  if ((c >= 0xff01 && c <= 0xff0f) || (c >= 0xff1a && c <= 0xff20) || (c >= 0xff3b && c <= 0xff40) || (c >= 0xff5b && c <= 0xff5e)) {
    return String.fromCharCode(c - 0xfee0);
  }
  switch (c) {
    case 0x2018: case 0x2019: return "'";
    case 0x201c: case 0x201d: return '"';
    case 0x3001: return ',';
    case 0x3002: return '.';
    case 0x3010: return '[';
    case 0x3011: return ']';
    default: return undefined;
  }
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11 || c === 0xa0 || c === 0x3000 || c === 0xfeff
    || c === 0x85 || c === 0x1680 || (c >= 0x2000 && c <= 0x200b) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f;
}

export class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(readonly src: string) {}

  /**
   * Position (1-based) of a source offset. Offsets on the current line (every error the lexer reports) are answered
   * from the line it tracks; only an earlier offset rescans the source, once, for the error message.
   */
  where(offset: number): { line: number; column: number } {
    if (offset >= this.lineStart) return { line: this.line, column: offset - this.lineStart + 1 };
    let line = 1;
    let ls = 0;
    for (let i = 0; i < offset && i < this.src.length; i++) {
      if (this.src.charCodeAt(i) === 10) { line++; ls = i + 1; }
    }
    return { line, column: offset - ls + 1 };
  }

  error(problem: string, offset: number, hint?: string): SqlError {
    const w = this.where(offset);
    return new SqlError(problem, w.line, w.column, hint);
  }

  private skipSpace(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 10) { this.pos++; this.line++; this.lineStart = this.pos; continue; }
      if (isSpace(c)) { this.pos++; continue; }
      break;
    }
  }

  private make(kind: TokenKind, value: string, start: number, num = 0): Token {
    return {
      kind, value, upper: kind === 'ident' ? value.toUpperCase() : '', num,
      line: this.line, column: start - this.lineStart + 1, start, end: this.pos,
    };
  }

  /** Peek at the next non-space character without consuming it. */
  peekChar(): string {
    this.skipSpace();
    return this.src[this.pos] ?? '';
  }

  /**
   * Read an unquoted FROM topic: everything up to whitespace, ',' or ';'.
   * Returns undefined when the next character starts a quoted token.
   */
  readRawTopic(): Token | undefined {
    this.skipSpace();
    const s = this.src;
    const c = s[this.pos];
    if (c === undefined || c === '"' || c === "'") return undefined;
    const start = this.pos;
    const line = this.line;
    const column = start - this.lineStart + 1;
    while (this.pos < s.length) {
      const ch = s.charCodeAt(this.pos);
      if (isSpace(ch) || ch === 44 || ch === 59) break;
      this.pos++;
    }
    return { kind: 'string', value: s.slice(start, this.pos), upper: '', num: 0, line, column, start, end: this.pos };
  }

  next(): Token {
    this.skipSpace();
    const s = this.src;
    const start = this.pos;
    if (start >= s.length) return this.make('eof', '', start);
    const c = s.charCodeAt(start);

    if (isIdentStart(c)) {
      let p = start + 1;
      while (p < s.length && isIdentPart(s.charCodeAt(p))) p++;
      this.pos = p;
      return this.make('ident', s.slice(start, p), start);
    }

    if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(start + 1)))) {
      let p = start;
      while (isDigit(s.charCodeAt(p))) p++;
      if (s.charCodeAt(p) === 46 && isDigit(s.charCodeAt(p + 1))) {
        p++;
        while (isDigit(s.charCodeAt(p))) p++;
      }
      const e = s.charCodeAt(p);
      if (e === 69 || e === 101) {
        let q = p + 1;
        const sign = s.charCodeAt(q);
        if (sign === 43 || sign === 45) q++;
        if (isDigit(s.charCodeAt(q))) {
          while (isDigit(s.charCodeAt(q))) q++;
          p = q;
        } else {
          throw this.error('Malformed number: exponent without digits', start);
        }
      }
      if (isIdentStart(s.charCodeAt(p))) {
        throw this.error(`Malformed number '${clip(s.slice(start, p + 1))}'`, start,
          'names that start with a digit must be written in "double quotes"');
      }
      this.pos = p;
      const text = s.slice(start, p);
      return this.make('number', text, start, Number(text));
    }

    if (c === 39 /* ' */ || c === 34 /* " */) {
      // One pass: the token's position is taken before the scan, the text is cut in runs between escapes (linear in
      // the length of the token, however long it is).
      const quote = s[start];
      const line = this.line;
      const column = start - this.lineStart + 1;
      let p = start + 1;
      let from = p;
      let out = '';
      for (;;) {
        if (p >= s.length) {
          throw new SqlError(quote === "'" ? 'Unterminated string constant' : 'Unterminated "double-quoted" field path',
            line, column, `add the closing ${quote}`);
        }
        const ch = s.charCodeAt(p);
        if (ch === 92 /* \ */) {
          const nx = s.charCodeAt(p + 1);
          if (nx === c || nx === 92) { out += s.slice(from, p) + s[p + 1]; p += 2; from = p; continue; }
          p++;
          continue;
        }
        if (ch === c) {
          if (s.charCodeAt(p + 1) === c) { out += s.slice(from, p) + quote; p += 2; from = p; continue; }
          out += s.slice(from, p);
          p++;
          break;
        }
        if (ch === 10) { this.line++; this.lineStart = p + 1; }
        p++;
      }
      this.pos = p;
      return { kind: quote === "'" ? 'string' : 'qident', value: out, upper: '', num: 0, line, column, start, end: p };
    }

    const two = s.slice(start, start + 2);
    if (TWO_CHAR_OPS.has(two)) {
      this.pos = start + 2;
      return this.make('op', two, start);
    }
    const one = s[start];
    if (ONE_CHAR_OPS.has(one)) {
      this.pos = start + 1;
      return this.make('op', one, start);
    }
    if (one === '=' || one === '!') {
      throw this.error(`Unexpected character '${one}'`, start, one === '!' ? "use <> or != for 'not equal'" : undefined);
    }
    const ascii = lookalike(c);
    if (ascii !== undefined) {
      throw this.error(`Unexpected character '${one}'`, start, `did you mean the ASCII character ${ascii}?`);
    }
    throw this.error(`Unexpected character '${one}'`, start);
  }
}
