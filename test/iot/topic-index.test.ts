// The connection's topic index must find exactly the subscriptions the plain MQTT rules match: checked against a
// naive matcher on random filters and topics, with `$` topics, additions, replacements and removals.
import assert from 'node:assert/strict';
import { TopicIndex } from '../../lib/iot/topic-index';

/** MQTT 3.1.1 §4.7 by the book: split, walk, `#` takes the rest (and its parent), `$` topics refuse a leading wildcard. */
function naive(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

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

const WORDS = ['', 'a', 'b', 'pk', 'dev1', 'dev2', 'user', 'sys', '$SYS', '$share'];

function randomTopic(r: () => number): string {
  const n = 1 + Math.floor(r() * 5);
  return Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]).join('/');
}

function randomFilter(r: () => number): string {
  const levels = randomTopic(r).split('/').map((l) => (r() < 0.3 ? '+' : l));
  if (r() < 0.25) levels.splice(Math.floor(r() * (levels.length + 1)), levels.length, '#');
  return levels.join('/');
}

describe('iot: topic index (routing incoming messages to subscriptions)', () => {
  it('finds exactly what the naive matcher finds, in the order of addition, through adds and removals', () => {
    const r = rng(42);
    let nonEmpty = 0;
    for (let round = 0; round < 15; round++) {
      const index = new TopicIndex<number>();
      const subs: Array<{ filter: string; id: number }> = [];
      let id = 0;
      for (let step = 0; step < 400; step++) {
        if (subs.length && r() < 0.3) {
          const [gone] = subs.splice(Math.floor(r() * subs.length), 1);
          assert.equal(index.remove(gone.filter, gone.id), true);
          assert.equal(index.remove(gone.filter, gone.id), false, 'a second removal finds nothing');
        } else {
          const s = { filter: randomFilter(r), id: id++ };
          subs.push(s);
          index.add(s.filter, s.id);
        }
        assert.equal(index.size, subs.length);
        for (let k = 0; k < 5; k++) {
          // Half the topics come from a filter, so that matches are common.
          const topic = k % 2 && subs.length
            ? subs[Math.floor(r() * subs.length)].filter.replace(/\+/g, 'x').replace(/#/, 'y/z')
            : randomTopic(r);
          const want = subs.filter((s) => naive(s.filter, topic)).map((s) => s.id);
          assert.deepEqual(index.match(topic), want, `topic ${JSON.stringify(topic)}`);
          if (want.length) nonEmpty++;
        }
      }
    }
    assert.ok(nonEmpty > 5_000, `only ${nonEmpty} lookups matched anything`);
  });

  it('keeps $ topics away from leading wildcards but lets literal filters take them', () => {
    const index = new TopicIndex<string>();
    for (const f of ['#', '+/info', '$SYS/#', '$SYS/+/info', 'a/#']) index.add(f, f);
    assert.deepEqual(index.match('$SYS/broker/info'), ['$SYS/#', '$SYS/+/info']);
    assert.deepEqual(index.match('$SYS/load'), ['$SYS/#']);
    assert.deepEqual(index.match('x/info'), ['#', '+/info']);
    assert.deepEqual(index.match('a'), ['#', 'a/#'], "'a/#' matches its parent level 'a'");
  });

  it('holds the same filter for several users, and one user twice, removing one addition at a time', () => {
    const index = new TopicIndex<string>();
    index.add('/pk/+/user/up', 'u1');
    index.add('/pk/+/user/up', 'u2');
    index.add('/pk/+/user/up', 'u1');
    assert.deepEqual(index.match('/pk/d/user/up'), ['u1', 'u2', 'u1']);
    index.remove('/pk/+/user/up', 'u1');
    assert.deepEqual(index.match('/pk/d/user/up'), ['u2', 'u1']);
    index.remove('/pk/+/user/up', 'u2');
    index.remove('/pk/+/user/up', 'u1');
    assert.deepEqual(index.match('/pk/d/user/up'), []);
    assert.equal(index.size, 0);
  });
});
