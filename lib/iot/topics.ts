// Alibaba Cloud IoT topic names and MQTT topic filters.
// Topic classes (../shared/spec/iot-device.md §4.3):
//   custom  /{pk}/{dn}/user/...
//   system  /sys/{pk}/{dn}/...
//   status  /as/mqtt/status/{pk}/{dn}
//   other   anything else (e.g. /broadcast/{pk}/..., which still names its productKey)

export type TopicClass = 'custom' | 'system' | 'status' | 'other';

export interface ParsedTopic {
  topicClass: TopicClass;
  productKey?: string;
  deviceName?: string;
}

/** Splits an IoT topic into productKey, deviceName and class. Never throws. */
export function parseTopic(topic: string): ParsedTopic {
  if (typeof topic !== 'string') return { topicClass: 'other' };
  const levels = topic.split('/');
  if (levels[0] !== '') return { topicClass: 'other' };
  if (levels[1] === 'sys' && levels.length >= 5 && levels[2] && levels[3] && levels.slice(4).join('/') !== '') {
    return { topicClass: 'system', productKey: levels[2], deviceName: levels[3] };
  }
  if (levels.length === 6 && levels[1] === 'as' && levels[2] === 'mqtt' && levels[3] === 'status' && levels[4] && levels[5]) {
    return { topicClass: 'status', productKey: levels[4], deviceName: levels[5] };
  }
  if (levels.length >= 5 && levels[3] === 'user' && levels[1] && levels[2] && levels[1] !== 'sys' && levels.slice(4).join('/') !== '') {
    return { topicClass: 'custom', productKey: levels[1], deviceName: levels[2] };
  }
  if (levels[1] === 'broadcast' && levels.length >= 4 && levels[2]) {
    return { topicClass: 'other', productKey: levels[2] };
  }
  return { topicClass: 'other' };
}

export interface TopicFilter {
  /** The filter as subscribed, including a `$share/<group>/` prefix when present. */
  subscription: string;
  /** The filter without the share prefix: what topics are matched against. */
  filter: string;
  /** Shared-subscription group, when the filter had a `$share/<group>/` prefix. */
  shareGroup?: string;
}

/** A bad filter or topic name; the message says what to fix. */
export class TopicError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopicError';
  }
}

const MAX_TOPIC_BYTES = 65535;

/**
 * Validates an MQTT subscription filter (with an optional `$share/<group>/` prefix) and returns its parts.
 * Throws a TopicError naming the problem.
 */
export function parseTopicFilter(subscription: string): TopicFilter {
  if (typeof subscription !== 'string' || subscription.length === 0) {
    throw new TopicError('topic filter is empty: enter a topic such as /a1B2c3D4e5F/+/user/update or /sys/#');
  }
  if (Buffer.byteLength(subscription, 'utf8') > MAX_TOPIC_BYTES) {
    throw new TopicError('topic filter is longer than 65535 bytes');
  }
  if (subscription.includes('\u0000')) throw new TopicError('topic filter contains a NUL character');
  let filter = subscription;
  let shareGroup: string | undefined;
  if (subscription.startsWith('$share/')) {
    const rest = subscription.slice('$share/'.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) {
      throw new TopicError(`shared subscription "${subscription}" needs a group and a filter: $share/<group>/<filter>`);
    }
    shareGroup = rest.slice(0, slash);
    if (/[+#]/.test(shareGroup)) throw new TopicError(`share group "${shareGroup}" must not contain + or #`);
    filter = rest.slice(slash + 1);
    if (filter.length === 0) throw new TopicError(`shared subscription "${subscription}" has no filter after the group`);
  }
  const levels = filter.split('/');
  levels.forEach((level, index) => {
    if (level.includes('#') && (level !== '#' || index !== levels.length - 1)) {
      throw new TopicError(`"#" must be a whole level at the end of the filter: "${filter}"`);
    }
    if (level.includes('+') && level !== '+') {
      throw new TopicError(`"+" must be a whole level, e.g. /pk/+/user/update, not "${level}" in "${filter}"`);
    }
  });
  return shareGroup === undefined ? { subscription, filter } : { subscription, filter, shareGroup };
}

/** True when the string is a valid filter; see parseTopicFilter for the reason when it is not. */
export function isValidTopicFilter(subscription: string): boolean {
  try {
    parseTopicFilter(subscription);
    return true;
  } catch {
    return false;
  }
}

/** Validates a topic name to publish to (no wildcards). Throws a TopicError naming the problem. */
export function checkTopicName(topic: string): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new TopicError('topic is empty: set the topic in the node or in msg.topic');
  }
  if (/[+#]/.test(topic)) throw new TopicError(`topic "${topic}" contains a wildcard (+ or #): publish needs a concrete topic`);
  if (topic.includes('\u0000')) throw new TopicError('topic contains a NUL character');
  if (Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) throw new TopicError('topic is longer than 65535 bytes');
  return topic;
}

/**
 * MQTT matching of a topic name against a filter (a `$share/<group>/` prefix is ignored).
 * Wildcards at the first level do not match topics starting with `$` (MQTT 3.1.1 §4.7.2).
 * An invalid filter matches nothing.
 */
export function topicMatches(subscription: string, topic: string): boolean {
  let filter: string;
  try {
    filter = parseTopicFilter(subscription).filter;
  } catch {
    return false;
  }
  if (typeof topic !== 'string' || topic.length === 0) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // also matches the parent level: "a/#" matches "a"
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
