// The topic matcher, deviceName() and topic(n) read the topic in place (no split, no cache): they must give exactly
// what the plain split-based definitions give, on random filters and topics (wildcards, empty levels, '#').
import assert from 'node:assert/strict';
import { compileRule } from '../../../lib/sql';
import { compileTopicFilter, deviceFromTopic, deviceNameOf, levelOf } from '../../../lib/sql/topic';

/** MQTT filter matching by the book: split both, walk the levels. */
function naiveMatch(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // this level and everything below, including none (`a/#` matches `a`)
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// A small seeded generator: a failure names the seed and is reproducible.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['', 'a', 'ab', 'pk', 'dev1', 'user', 'update', 'sys', 'as', 'mqtt', 'status', 'ota', 'shadow', 'ext', 'thing'];

function randomTopic(r: () => number): string {
  const n = 1 + Math.floor(r() * 7);
  const levels = Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]);
  if (r() < 0.6) levels[0] = '';
  return levels.join('/');
}

/** A filter made from a topic: some levels become '+', maybe a trailing '#'. Filters the engine refuses are skipped. */
function filterFrom(r: () => number, topic: string): string {
  const levels = topic.split('/').map((l) => (r() < 0.3 ? '+' : l));
  if (r() < 0.3) levels.splice(Math.floor(r() * (levels.length + 1)), levels.length, '#');
  return levels.join('/');
}

describe('sql engine: topic matching and topic levels read in place', () => {
  it('the FROM matcher agrees with split-and-compare on 200,000 random filter/topic pairs', () => {
    const r = rng(13);
    let compared = 0;
    let matched = 0;
    for (let k = 0; k < 20_000; k++) {
      const filter = filterFrom(r, randomTopic(r));
      let match: (t: string) => boolean;
      try {
        match = compileTopicFilter(filter);
      } catch {
        continue; // e.g. a wildcard on the product key level: refused at compile time, tested elsewhere
      }
      for (let j = 0; j < 10; j++) {
        // Half the topics are built from the filter itself, so that matches are common, not rare.
        const topic = j % 2 ? randomTopic(r) : filter.replace(/\+/g, () => WORDS[Math.floor(r() * WORDS.length)])
          .replace(/#$/, () => ['', 'x', 'x/y'][Math.floor(r() * 3)]).replace(/\/$/, r() < 0.5 ? '' : '/');
        const want = naiveMatch(filter, topic);
        assert.equal(match(topic), want, `filter ${JSON.stringify(filter)} topic ${JSON.stringify(topic)}`);
        compared++;
        if (want) matched++;
      }
    }
    assert.ok(compared > 100_000, `only ${compared} pairs compared`);
    assert.ok(matched > compared / 10, `only ${matched} of ${compared} pairs matched: the test would not see a wrong "no"`);
  });

  it('levelOf and deviceNameOf give what split() and deviceFromTopic give', () => {
    const r = rng(7);
    for (let k = 0; k < 50_000; k++) {
      const topic = randomTopic(r);
      const l = topic.split('/');
      for (let i = 0; i < 9; i++) assert.equal(levelOf(topic, i), l[i], `${JSON.stringify(topic)} level ${i}`);
      assert.equal(deviceNameOf(topic), deviceFromTopic(topic).deviceName, JSON.stringify(topic));
    }
  });

  it('deviceName() and topic(n) in a rule read the levels of each message\'s own topic', () => {
    const rule = compileRule('SELECT deviceName() AS dn, topic(1) AS pk, topic(4) AS t4, topic(9) AS none FROM "/pk/+/user/#"');
    for (const [topic, dn, t4] of [['/pk/d1/user/a', 'd1', 'a'], ['/pk/d2/user', 'd2', undefined], ['/pk/d3/user/b/c', 'd3', 'b']]) {
      const r = rule.evaluate({ topic: String(topic), payload: {} });
      assert.equal(r.outcome, 'output');
      assert.deepEqual(r.output, { dn, pk: 'pk', ...(t4 === undefined ? {} : { t4 }) });
    }
    const sys = compileRule('SELECT deviceName() AS dn, topic(6) AS ev FROM "/sys/pk/+/thing/event/+/post"');
    assert.deepEqual(sys.evaluate({ topic: '/sys/pk/lamp-7/thing/event/property/post', payload: {} }).output, { dn: 'lamp-7', ev: 'property' });
  });
});
