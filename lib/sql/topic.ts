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
  const hashLast = levels[levels.length - 1] === '#';
  const fixed = hashLast ? levels.slice(0, -1) : levels;
  const n = fixed.length;
  const match = (topic: string): boolean => {
    const len = topic.length;
    let pos = 0;
    for (let i = 0; i < n; i++) {
      if (pos > len) return false; // ran out of levels
      const want = fixed[i];
      if (want === '+') {
        while (pos < len && topic.charCodeAt(pos) !== 47) pos++;
      } else {
        const wl = want.length;
        if (pos + wl > len) return false;
        for (let j = 0; j < wl; j++) if (topic.charCodeAt(pos + j) !== want.charCodeAt(j)) return false;
        pos += wl;
        if (pos < len && topic.charCodeAt(pos) !== 47) return false;
      }
      pos++; // skip '/'
    }
    if (hashLast) return true; // `a/#` matches `a` itself and everything below
    return pos === len + 1;
  };
  // Messages come in runs from the same devices: remember the last answers.
  const cache = new Map<string, boolean>();
  let lastTopic = '';
  let lastResult = false;
  return (topic: string): boolean => {
    if (topic === lastTopic) return lastResult;
    let r = cache.get(topic);
    if (r === undefined) {
      if (typeof topic !== 'string') return false;
      r = match(topic);
      // Only topics of a sane length are remembered: 4,096 hostile 64 KB topics would otherwise stay in memory.
      if (topic.length <= 512) {
        if (cache.size >= 4096) cache.clear();
        cache.set(topic, r);
      }
    }
    lastTopic = topic;
    lastResult = r;
    return r;
  };
}
