// Java SimpleDateFormat-style formatting for timestamp(fmt) / timestamp_utc(fmt), written for this project.
// Pattern letters follow java.text.SimpleDateFormat; names are English (Locale.US). Time-zone offsets come from Intl.

export class DatePatternError extends Error {
  /** 0-based index into the pattern. */
  readonly index: number;
  constructor(message: string, index: number) {
    super(message);
    this.name = 'DatePatternError';
    this.index = index;
  }
}

type Field = { letter: string; count: number };
type Part = string | Field;

export interface DateFormatter {
  readonly pattern: string;
  /** Format the instant `ms` (epoch milliseconds) in `timeZone` (an IANA name or 'UTC'). */
  format(ms: number, timeZone: string): string;
}

const LETTERS = 'GyYMLwWDdFEuaHkKhmsSzZX';
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
  'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function isAsciiLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/** Parse a SimpleDateFormat pattern once; throws DatePatternError for what Java would refuse. */
export function compileDatePattern(pattern: string): DateFormatter {
  const parts: Part[] = [];
  let text = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "'") {
      if (pattern[i + 1] === "'") { text += "'"; i += 2; continue; }
      const start = i;
      i++;
      let closed = false;
      while (i < pattern.length) {
        if (pattern[i] === "'") {
          if (pattern[i + 1] === "'") { text += "'"; i += 2; continue; }
          closed = true;
          i++;
          break;
        }
        text += pattern[i++];
      }
      if (!closed) throw new DatePatternError('Unterminated quote in date pattern', start);
      continue;
    }
    if (isAsciiLetter(c)) {
      if (!LETTERS.includes(c)) throw new DatePatternError(`Illegal date pattern character '${c}'`, i);
      let n = 1;
      while (pattern[i + n] === c) n++;
      if (c === 'X' && n > 3) throw new DatePatternError("Invalid ISO 8601 pattern 'X' (use X, XX or XXX)", i);
      if (text) { parts.push(text); text = ''; }
      parts.push({ letter: c, count: n });
      i += n;
      continue;
    }
    text += c;
    i++;
  }
  if (text) parts.push(text);
  return new Formatter(pattern, parts);
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n));
  const p = s.length >= width ? s : '0'.repeat(width - s.length) + s;
  return n < 0 ? '-' + p : p;
}

// ---- time-zone offsets ---------------------------------------------------------------------------------------

interface ZoneCache {
  dtf: Intl.DateTimeFormat;
  bucket: number;
  offset: number;
}
const zones = new Map<string, ZoneCache>();
const OFFSET_BUCKET_MS = 15 * 60 * 1000; // offsets only change on quarter-hour boundaries

function isUtc(tz: string): boolean {
  return tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT' || tz === 'Etc/GMT';
}

/** True when `tz` is a time zone that Intl knows. */
export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz === '') return false;
  if (isUtc(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Offset of `tz` from UTC at instant `ms`, in minutes (east positive). Throws RangeError for an unknown zone. */
export function zoneOffsetMinutes(ms: number, tz: string): number {
  if (isUtc(tz)) return 0;
  let z = zones.get(tz);
  if (!z) {
    z = {
      dtf: new Intl.DateTimeFormat('en-US', {
        timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
        hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short',
      }),
      bucket: NaN,
      offset: 0,
    };
    zones.set(tz, z);
  }
  const bucket = Math.floor(ms / OFFSET_BUCKET_MS);
  if (bucket === z.bucket) return z.offset;
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
  for (const p of z.dtf.formatToParts(new Date(ms))) {
    switch (p.type) {
      case 'year': y = Number(p.value); break;
      case 'month': mo = Number(p.value); break;
      case 'day': d = Number(p.value); break;
      case 'hour': h = Number(p.value); break;
      case 'minute': mi = Number(p.value); break;
      case 'second': s = Number(p.value); break;
      case 'era': bc = p.value.startsWith('B'); break;
    }
  }
  const local = new Date(0);
  local.setUTCFullYear(bc ? 1 - y : y, mo - 1, d);
  local.setUTCHours(h, mi, s, 0);
  const offset = Math.round((local.getTime() - Math.floor(ms / 1000) * 1000) / 60000);
  z.bucket = bucket;
  z.offset = offset;
  return offset;
}

const zoneNames = new Map<string, string>();
function zoneName(ms: number, tz: string, long: boolean, offset: number): string {
  if (isUtc(tz)) return long ? 'Coordinated Universal Time' : 'UTC';
  const key = `${tz}|${long ? 'l' : 's'}|${offset}`;
  let name = zoneNames.get(key);
  if (name === undefined) {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: long ? 'long' : 'short' })
      .formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
    name = part ? part.value : '';
    // Java prints unnamed zones as GMT+08:00.
    if (name === '' || /^GMT[+-]/.test(name) || name === 'GMT') name = gmtOffset(offset);
    zoneNames.set(key, name);
  }
  return name;
}

function gmtOffset(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `GMT${sign}${pad(Math.floor(a / 60), 2)}:${pad(a % 60, 2)}`;
}

// ---- week numbering (Locale.US: weeks start on Sunday, the week holding 1 January is week 1) ----------------

function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1;
}

function weekOfYear(d: Date): { week: number; weekYear: number } {
  const year = d.getUTCFullYear();
  const dow = d.getUTCDay();
  // The Saturday closing this date's week: if it falls in the next year, this is week 1 of that year.
  const saturday = new Date(d.getTime() + (6 - dow) * 86400000);
  if (saturday.getUTCFullYear() > year) return { week: 1, weekYear: year + 1 };
  const jan1Dow = new Date(Date.UTC(year, 0, 1)).getUTCDay();
  return { week: Math.floor((dayOfYear(d) - 1 + jan1Dow) / 7) + 1, weekYear: year };
}

class Formatter implements DateFormatter {
  constructor(readonly pattern: string, private readonly parts: Part[]) {}

  format(ms: number, timeZone: string): string {
    const offset = zoneOffsetMinutes(ms, timeZone);
    const d = new Date(ms + offset * 60000);
    let out = '';
    for (const p of this.parts) {
      out += typeof p === 'string' ? p : this.field(p, d, ms, offset, timeZone);
    }
    return out;
  }

  private field(f: Field, d: Date, ms: number, offset: number, tz: string): string {
    const n = f.count;
    switch (f.letter) {
      case 'G': return d.getUTCFullYear() > 0 ? 'AD' : 'BC';
      case 'y': return year(d.getUTCFullYear(), n);
      case 'Y': return year(weekOfYear(d).weekYear, n);
      case 'M':
      case 'L': {
        const m = d.getUTCMonth();
        if (n >= 4) return MONTHS[m];
        if (n === 3) return MONTHS[m].slice(0, 3);
        return pad(m + 1, n);
      }
      case 'w': return pad(weekOfYear(d).week, n);
      case 'W': {
        const first = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).getUTCDay();
        return pad(Math.floor((d.getUTCDate() - 1 + first) / 7) + 1, n);
      }
      case 'D': return pad(dayOfYear(d), n);
      case 'd': return pad(d.getUTCDate(), n);
      case 'F': return pad(Math.floor((d.getUTCDate() - 1) / 7) + 1, n);
      case 'E': return n >= 4 ? DAYS[d.getUTCDay()] : DAYS[d.getUTCDay()].slice(0, 3);
      case 'u': return pad(d.getUTCDay() === 0 ? 7 : d.getUTCDay(), n);
      case 'a': return d.getUTCHours() < 12 ? 'AM' : 'PM';
      case 'H': return pad(d.getUTCHours(), n);
      case 'k': return pad(d.getUTCHours() === 0 ? 24 : d.getUTCHours(), n);
      case 'K': return pad(d.getUTCHours() % 12, n);
      case 'h': return pad(d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12, n);
      case 'm': return pad(d.getUTCMinutes(), n);
      case 's': return pad(d.getUTCSeconds(), n);
      case 'S': return pad(d.getUTCMilliseconds(), n);
      case 'z': return zoneName(ms, tz, n >= 4, offset);
      case 'Z': return rfc822(offset);
      case 'X': return iso8601(offset, n);
    }
    return '';
  }
}

function year(y: number, n: number): string {
  if (n === 2) return pad(((y % 100) + 100) % 100, 2);
  return pad(y, n);
}

function rfc822(offset: number): string {
  const a = Math.abs(offset);
  return `${offset < 0 ? '-' : '+'}${pad(Math.floor(a / 60), 2)}${pad(a % 60, 2)}`;
}

function iso8601(offset: number, n: number): string {
  if (offset === 0) return 'Z';
  const a = Math.abs(offset);
  const sign = offset < 0 ? '-' : '+';
  const hh = pad(Math.floor(a / 60), 2);
  const mm = pad(a % 60, 2);
  if (n === 1) return sign + hh;
  if (n === 2) return sign + hh + mm;
  return `${sign}${hh}:${mm}`;
}
