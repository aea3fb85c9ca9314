// Topic helpers: classify an IoT Platform topic and match it against a rule's FROM filter.

export type TopicClass = 'custom' | 'system' | 'status' | 'other';

export interface TopicInfo {
  productKey?: string;
  deviceName?: string;
  topicClass: TopicClass;
}

/**
 * Where the product key and device name sit in an IoT Platform topic:
 * `/sys/{pk}/{dn}/...`, `/ext/.../{pk}/{dn}/...`, `/ota/device/{x}/{pk}/{dn}`, `/shadow/{x}/{pk}/{dn}`,
 * `/as/mqtt/status/{pk}/{dn}` and custom `/{pk}/{dn}/user/...`.
 */
export function parseTopic(topic: string): TopicInfo {
  const l = typeof topic === 'string' ? topic.split('/') : [];
  if (l.length < 3 || l[0] !== '') return { topicClass: 'other' };
  const named = (pk: number, topicClass: TopicClass): TopicInfo => {
    const info: TopicInfo = { topicClass };
    if (l[pk]) info.productKey = l[pk];
    if (l[pk + 1]) info.deviceName = l[pk + 1];
    return info;
  };
  switch (l[1]) {
    case 'sys': return l.length >= 4 ? named(2, 'system') : { topicClass: 'other' };
    case 'as':
      if (l[2] === 'mqtt' && l[3] === 'status' && l.length >= 6) return named(4, 'status');
      return { topicClass: 'other' };
    case 'ota':
      return l.length >= 6 ? named(4, 'system') : { topicClass: 'other' };
    case 'shadow':
      return l.length >= 5 ? named(3, 'system') : { topicClass: 'other' };
    case 'ext':
      return l.length >= 5 ? named(3, 'system') : { topicClass: 'other' };
  }
  if (l.length >= 4 && l[3] === 'user') return named(1, 'custom');
  return { topicClass: 'other' };
}

/** Product key / device name for deviceName(): from the topic, for custom topics also for the legacy `/{pk}/{dn}/x` form. */
export function deviceFromTopic(topic: string): { productKey?: string; deviceName?: string } {
  const info = parseTopic(topic);
  if (info.topicClass !== 'other') return info;
  const l = topic.split('/');
  if (l[0] === '' && l.length >= 4) return { productKey: l[1] || undefined, deviceName: l[2] || undefined };
  return {};
}

/**
 * Level `i` of a topic as `topic.split('/')[i]` would give it (level 0 is the text before the first '/'), found
 * with indexOf: no array, one substring. Undefined when the topic has fewer levels.
 */
export function levelOf(topic: string, i: number): string | undefined {
  let start = 0;
  for (let k = 0; k < i; k++) {
    const slash = topic.indexOf('/', start);
    if (slash < 0) return undefined;
    start = slash + 1;
  }
  const end = topic.indexOf('/', start);
  return end < 0 ? topic.slice(start) : topic.slice(start, end);
}

/** True when the topic has at least `n` levels (n - 1 slashes). */
function hasLevels(topic: string, n: number): boolean {
  let at = -1;
  for (let k = 1; k < n; k++) {
    at = topic.indexOf('/', at + 1);
    if (at < 0) return false;
  }
  return true;
}

/** `deviceFromTopic(topic).deviceName`, without splitting the topic (deviceName() runs for every message). */
export function deviceNameOf(topic: string): string | undefined {
  if (topic.charCodeAt(0) !== 47 || !hasLevels(topic, 4)) return undefined; // fewer than 4 levels: no name anywhere
  let level = 2; // custom `/{pk}/{dn}/user/...` and the legacy `/{pk}/{dn}/x`
  if (topic.startsWith('/sys/')) level = 3;
  else if (topic.startsWith('/as/mqtt/status/')) level = hasLevels(topic, 6) ? 5 : 2;
  else if (topic.startsWith('/ota/')) level = hasLevels(topic, 6) ? 5 : 2;
  else if (topic.startsWith('/shadow/') || topic.startsWith('/ext/')) level = hasLevels(topic, 5) ? 4 : 2;
  const name = levelOf(topic, level);
  return name === '' ? undefined : name;
}

/** Index of the product-key level in a topic split on '/' (leading ''): /sys/{pk}, /as/mqtt/status/{pk}, /{pk}/... */
function productKeyLevel(l: string[]): number {
  switch (l[1]) {
    case 'sys': return 2;
    case 'as': return l[2] === 'mqtt' && l[3] === 'status' ? 4 : 1;
    case 'ota': return 4;
    case 'shadow':
    case 'ext': return 3;
  }
  return 1;
}

export class TopicFilterError extends Error {
  /** 0-based index into the filter text. */
  readonly index: number;
  constructor(message: string, index: number) {
    super(message);
    this.name = 'TopicFilterError';
    this.index = index;
  }
}

/** A compiled MQTT-style topic filter: `+` one level, `#` this level and everything below (last level only). */
export interface TopicMatcher {
  (topic: string): boolean;
}

/** Validate a FROM filter and build its matcher. Throws TopicFilterError. */
export function compileTopicFilter(filter: string): TopicMatcher {
  if (filter === '') throw new TopicFilterError('The FROM topic is empty', 0);
  const levels = filter.split('/');
  let index = 0;
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i];
    const hash = lv.indexOf('#');
    if (hash >= 0) {
      if (lv !== '#') throw new TopicFilterError("'#' must fill a whole topic level", index + hash);
      if (i !== levels.length - 1) throw new TopicFilterError("'#' is only allowed as the last topic level", index + hash);
      if (levels[0] === '' && (levels[1] === 'sys' || levels[1] === 'as' || levels[1] === 'ext' || levels[1] === 'ota'
        || levels[1] === 'shadow')) {
        throw new TopicFilterError("'#' is only allowed on custom topics, not on system topics", index + hash);
      }
    }
    const plus = lv.indexOf('+');
    if (plus >= 0 && lv !== '+') throw new TopicFilterError("'+' must fill a whole topic level", index + plus);
    index += lv.length + 1;
  }
  // The product key level is always literal: a rule belongs to one product.
  if (levels[0] === '' && levels.length > 1) {
    const pk = productKeyLevel(levels);
    const lv = levels[pk];
    if (lv === '+' || lv === '#') {
      let at = 0;
      for (let i = 0; i < pk; i++) at += levels[i].length + 1;
      throw new TopicFilterError(`The product key level of the FROM topic cannot be the wildcard '${lv}'`, at);
    }
  }
  if (!filter.includes('+') && !filter.includes('#')) {
    return (topic: string) => topic === filter;
  }
  return levelMatcher(levels);
}

/**
 * The matcher of a filter with wildcards. It walks the topic once, comparing each literal level in place
 * (`startsWith` at the level's offset) and skipping a `+` level with one `indexOf('/')`: no split, no allocation,
 * no cache. A cache would hash every topic string, and MQTT hands over a new string with every message, so the
 * hash alone costs more than this walk (the filter's literal levels are few and short).
 */
function levelMatcher(levels: string[]): TopicMatcher {
  const hashLast = levels[levels.length - 1] === '#';
  const fixed = hashLast ? levels.slice(0, -1) : levels;
  const n = fixed.length;
  // Literal runs between wildcards are compared as one piece, slashes included: `/pk/+/user/update` is the prefix
  // `/pk/`, one `+` level, then `/user/update` to the end.
  const parts: Array<string | null> = []; // null: a `+` level
  let run = '';
  for (let i = 0; i < n; i++) {
    if (i > 0) run += '/';
    if (fixed[i] === '+') {
      if (run !== '') parts.push(run);
      parts.push(null);
      run = '';
    } else run += fixed[i];
  }
  if (hashLast && n > 0) run += '/';
  if (run !== '' || parts.length === 0) parts.push(run);
  const count = parts.length;
  return (topic: string): boolean => {
    if (typeof topic !== 'string') return false;
    const len = topic.length;
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const part = parts[i];
      if (part === null) {
        // `+`: one level (possibly empty) up to the next '/' or the end.
        const slash = topic.indexOf('/', pos);
        pos = slash < 0 ? len : slash;
      } else {
        if (!topic.startsWith(part, pos)) {
          // `a/#` also matches `a` itself: the trailing '/' of the last run may be missing at the very end.
          return hashLast && i === count - 1 && pos + part.length - 1 === len && topic.startsWith(part.slice(0, -1), pos);
        }
        pos += part.length;
      }
    }
    return hashLast ? true : pos === len;
  };
}
