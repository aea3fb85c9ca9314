// A strict reader of the small XML documents MNS answers with (spec §1.3, §5): a root element whose children are
// either text-only elements or elements holding text-only elements (`<Messages><Message><MessageId>…`). Anything
// else — mixed content, CDATA, comments, DOCTYPE, attributes below the root, unknown entities, trailing content —
// is refused (undefined), so a proxy's page or a truncated answer is never half-read. No prototype objects are
// built from element names (the reason xml2js had an advisory): children are kept in arrays of {name, ...}.

export interface XmlElement {
  name: string;
  /** Text of a text-only element (entities decoded); '' for an empty one. Undefined when it has child elements. */
  text?: string;
  children: XmlElement[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_.-]/;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the five XML entities and numeric references; undefined for anything else. */
export function decodeXmlText(raw: string): string | undefined {
  if (!raw.includes('&')) return raw;
  let out = '';
  let i = 0;
  for (;;) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) return out + raw.slice(i);
    const semi = raw.indexOf(';', amp);
    if (semi < 0 || semi - amp > 10) return undefined;
    out += raw.slice(i, amp);
    const ref = raw.slice(amp + 1, semi);
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? (/^#x[0-9A-Fa-f]{1,6}$/.test(ref) ? parseInt(ref.slice(2), 16) : NaN) : /^#[0-9]{1,7}$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
      if (!Number.isInteger(cp) || cp > 0x10ffff) return undefined;
      out += String.fromCodePoint(cp);
    } else {
      const c = Object.prototype.hasOwnProperty.call(ENTITIES, ref) ? ENTITIES[ref] : undefined;
      if (c === undefined) return undefined;
      out += c;
    }
    i = semi + 1;
  }
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t';
}

/**
 * Parses `text` as described above, allowing `maxDepth` levels below the root (1 = flat, 2 = a list of flat
 * records). Returns undefined for anything else.
 */
export function parseXml(text: string, maxDepth = 2): XmlElement | undefined {
  let i = 0;
  const n = text.length;
  const skipSpace = (): void => {
    while (i < n && isSpace(text[i])) i++;
  };
  const readName = (): string | undefined => {
    const start = i;
    if (i >= n || !NAME_START.test(text[i])) return undefined;
    i++;
    while (i < n && NAME_CHAR.test(text[i])) i++;
    return text.slice(start, i);
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  skipSpace();
  if (text.startsWith('<?xml', i)) {
    const end = text.indexOf('?>', i);
    if (end < 0) return undefined;
    i = end + 2;
    skipSpace();
  }
  if (text[i] !== '<') return undefined;
  i++;
  const rootName = readName();
  if (!rootName) return undefined;
  // Root attributes (the namespace): name="value" or name='value'.
  for (;;) {
    const before = i;
    skipSpace();
    if (text[i] === '>' || text.startsWith('/>', i)) break;
    if (i === before) return undefined;
    if (!readName()) return undefined;
    if (text[i] === ':') {
      i++;
      if (!readName()) return undefined;
    }
    if (text[i] !== '=') return undefined;
    const q = text[i + 1];
    if (q !== '"' && q !== "'") return undefined;
    const close = text.indexOf(q, i + 2);
    if (close < 0 || text.slice(i + 2, close).includes('<')) return undefined;
    i = close + 1;
  }

  /** Reads the content of element `name` after its '>' up to and including its end tag. */
  const readContent = (el: XmlElement, depth: number): boolean => {
    const textStart = i;
    const lt = text.indexOf('<', i);
    if (lt < 0) return false;
    if (text.startsWith(`</${el.name}>`, lt)) {
      const value = decodeXmlText(text.slice(textStart, lt));
      if (value === undefined) return false;
      // Whitespace only, in an element that could hold children, is still the text of a text element.
      el.text = value;
      i = lt + el.name.length + 3;
      return true;
    }
    // Child elements: only whitespace may stand between them.
    for (let k = textStart; k < lt; k++) if (!isSpace(text[k])) return false;
    if (depth >= maxDepth) return false;
    i = lt;
    for (;;) {
      skipSpace();
      if (text.startsWith('</', i)) {
        i += 2;
        if (readName() !== el.name || text[i] !== '>') return false;
        i++;
        return true;
      }
      if (text[i] !== '<') return false;
      i++;
      const name = readName();
      if (!name) return false;
      const child: XmlElement = { name, children: [] };
      el.children.push(child);
      if (text.startsWith('/>', i)) {
        i += 2;
        child.text = '';
        continue;
      }
      if (text[i] !== '>') return false;
      i++;
      if (!readContent(child, depth + 1)) return false;
    }
  };

  const root: XmlElement = { name: rootName, children: [] };
  if (text.startsWith('/>', i)) {
    i += 2;
    root.text = '';
  } else {
    i++;
    if (!readContent(root, 0)) return undefined;
  }
  skipSpace();
  return i === n ? root : undefined;
}

/** The text children of a flat element as a Map (a repeated or non-text child makes it unreadable: undefined). */
export function fieldsOf(el: XmlElement): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const c of el.children) {
    if (c.text === undefined || out.has(c.name)) return undefined;
    out.set(c.name, c.text);
  }
  return out;
}
