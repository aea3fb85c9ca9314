// A small, strict XML reader and writer for the MNS wire format (spec §1.3).
// The emulator has its own parser on purpose: it must reject what the real service rejects (malformed
// documents, unescaped `<` or `&`, DOCTYPEs) instead of inheriting a client library's leniency.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element (entities decoded). */
  text: string;
}

export class XmlSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} (at character ${offset})`);
    this.name = 'XmlSyntaxError';
  }
}

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/;
// XML 1.0 Char production: tab, LF, CR, and everything from U+0020 except surrogate halves (checked via code points) and U+FFFE/U+FFFF.
function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function decodeEntities(raw: string, base: number): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&<]*);?/g, (whole, ref: string, index: number) => {
    if (!whole.endsWith(';')) throw new XmlSyntaxError('Unterminated entity reference (a bare "&" must be written as &amp;)', base + index);
    switch (ref) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
    }
    let cp = NaN;
    if (/^#x[0-9A-Fa-f]+$/.test(ref)) cp = parseInt(ref.slice(2), 16);
    else if (/^#[0-9]+$/.test(ref)) cp = parseInt(ref.slice(1), 10);
    if (Number.isNaN(cp) || !isXmlChar(cp)) throw new XmlSyntaxError(`Unknown or illegal entity reference "&${ref};"`, base + index);
    return String.fromCodePoint(cp);
  });
}

/** Parses a whole document and returns its root element. Throws XmlSyntaxError for anything not well-formed. */
export function parseXml(input: string): XmlElement {
  let pos = 0;
  const len = input.length;
  if (input.charCodeAt(0) === 0xfeff) pos = 1;

  for (let i = 0; i < len; i++) {
    const cp = input.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (!isXmlChar(cp)) throw new XmlSyntaxError(`Character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`, i);
  }

  const skipWs = (): void => {
    while (pos < len && /\s/.test(input[pos])) pos++;
  };
  const skipMisc = (): void => {
    for (;;) {
      skipWs();
      if (input.startsWith('<!--', pos)) {
        const end = input.indexOf('-->', pos + 4);
        if (end < 0) throw new XmlSyntaxError('Unterminated comment', pos);
        pos = end + 3;
      } else if (input.startsWith('<?', pos)) {
        const end = input.indexOf('?>', pos + 2);
        if (end < 0) throw new XmlSyntaxError('Unterminated processing instruction', pos);
        pos = end + 2;
      } else return;
    }
  };
  const readName = (): string => {
    const start = pos;
    if (pos >= len || !NAME_START.test(input[pos])) throw new XmlSyntaxError('Expected a name', pos);
    pos++;
    while (pos < len && NAME_CHAR.test(input[pos])) pos++;
    return input.slice(start, pos);
  };

  // XML declaration (optional, only at the very start).
  if (input.startsWith('<?xml', pos)) {
    const end = input.indexOf('?>', pos);
    if (end < 0) throw new XmlSyntaxError('Unterminated XML declaration', pos);
    pos = end + 2;
  }
  skipMisc();
  if (input.startsWith('<!DOCTYPE', pos)) throw new XmlSyntaxError('DOCTYPE declarations are not accepted', pos);

  const parseElement = (): XmlElement => {
    if (input[pos] !== '<') throw new XmlSyntaxError('Expected "<"', pos);
    pos++;
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      const before = pos;
      skipWs();
      if (input.startsWith('/>', pos)) {
        pos += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (input[pos] === '>') {
        pos++;
        break;
      }
      if (pos === before) throw new XmlSyntaxError(`Expected whitespace, ">" or "/>" in <${name}>`, pos);
      const attr = readName();
      skipWs();
      if (input[pos] !== '=') throw new XmlSyntaxError(`Expected "=" after attribute ${attr}`, pos);
      pos++;
      skipWs();
      const quote = input[pos];
      if (quote !== '"' && quote !== "'") throw new XmlSyntaxError(`Attribute ${attr} must be quoted`, pos);
      const end = input.indexOf(quote, pos + 1);
      if (end < 0) throw new XmlSyntaxError(`Unterminated attribute ${attr}`, pos);
      const rawValue = input.slice(pos + 1, end);
      if (rawValue.includes('<')) throw new XmlSyntaxError(`"<" is not allowed in attribute ${attr}`, pos);
      if (attr in attributes) throw new XmlSyntaxError(`Duplicate attribute ${attr}`, pos);
      attributes[attr] = decodeEntities(rawValue, pos + 1);
      pos = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (pos >= len) throw new XmlSyntaxError(`Element <${name}> is not closed`, pos);
      if (input.startsWith('</', pos)) {
        pos += 2;
        const closing = readName();
        if (closing !== name) throw new XmlSyntaxError(`Closing tag </${closing}> does not match <${name}>`, pos);
        skipWs();
        if (input[pos] !== '>') throw new XmlSyntaxError(`Expected ">" to end </${name}>`, pos);
        pos++;
        return { name, attributes, children, text };
      }
      if (input.startsWith('<![CDATA[', pos)) {
        const end = input.indexOf(']]>', pos + 9);
        if (end < 0) throw new XmlSyntaxError('Unterminated CDATA section', pos);
        text += input.slice(pos + 9, end);
        pos = end + 3;
      } else if (input.startsWith('<!--', pos)) {
        const end = input.indexOf('-->', pos + 4);
        if (end < 0) throw new XmlSyntaxError('Unterminated comment', pos);
        pos = end + 3;
      } else if (input.startsWith('<?', pos)) {
        const end = input.indexOf('?>', pos + 2);
        if (end < 0) throw new XmlSyntaxError('Unterminated processing instruction', pos);
        pos = end + 2;
      } else if (input[pos] === '<') {
        children.push(parseElement());
      } else {
        let end = input.indexOf('<', pos);
        if (end < 0) end = len;
        const raw = input.slice(pos, end);
        if (raw.includes(']]>')) throw new XmlSyntaxError('"]]>" is not allowed in text', pos);
        text += decodeEntities(raw, pos);
        pos = end;
      }
    }
  };

  if (pos >= len) throw new XmlSyntaxError('The document is empty', pos);
  const root = parseElement();
  skipMisc();
  if (pos < len) throw new XmlSyntaxError('Content after the root element', pos);
  return root;
}

/** Escapes text for element content or attribute values. */
export function escapeXml(value: string): string {
  return value.replace(/[<>&"']/g, (c) => {
    switch (c) {
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '&': return '&amp;';
      case '"': return '&quot;';
      default: return '&apos;';
    }
  });
}

export const MNS_NAMESPACE = 'http://mns.aliyuncs.com/doc/v1/';

export type XmlValue = string | number | boolean | undefined | XmlNode | XmlNode[];
export interface XmlNode { [name: string]: XmlValue }

function renderChildren(node: XmlNode): string {
  let out = '';
  for (const [key, value] of Object.entries(node)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) out += `<${key}>${renderChildren(item)}</${key}>`;
    } else if (typeof value === 'object') {
      out += `<${key}>${renderChildren(value)}</${key}>`;
    } else {
      out += `<${key}>${escapeXml(String(value))}</${key}>`;
    }
  }
  return out;
}

/** Renders `<?xml…?><root xmlns="…/doc/v1/">…</root>`; every text value is escaped, undefined values are left out. */
export function renderXml(root: string, body: XmlNode): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${MNS_NAMESPACE}">${renderChildren(body)}</${root}>`;
}

/** The first child with this name, or undefined. */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}
