// Topic index: which subscriptions an incoming topic matches, found by walking a tree of filter levels (a trie with
// `+` and `#` branches) instead of trying every filter. A message costs the few branches its own levels lead to,
// so 500 device in nodes with 500 different filters cost about what one does.

interface Node<T> {
  /** Literal next levels. */
  children: Map<string, Node<T>> | undefined;
  /** The `+` branch. */
  plus: Node<T> | undefined;
  /** Items whose filter ends here. */
  here: Entry<T>[];
  /** Items whose filter ends here with `/#` (this level and everything below, including nothing). */
  hash: Entry<T>[];
}

interface Entry<T> {
  item: T;
  /** Order of addition: matches come back in the order their items were added. */
  seq: number;
}

function node<T>(): Node<T> {
  return { children: undefined, plus: undefined, here: [], hash: [] };
}

/**
 * Filters (MQTT syntax, without any `$share/{group}/` prefix) → items. `match(topic)` gives every item whose filter
 * matches, each once per time it was added, in the order of addition. As MQTT requires, a topic starting with `$`
 * is not matched by a `+` or `#` in the first level.
 */
export class TopicIndex<T> {
  private readonly root: Node<T> = node();
  private seq = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(filter: string, item: T): void {
    const levels = filter.split('/');
    let n = this.root;
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i];
      if (lv === '#' && i === levels.length - 1) {
        n.hash.push({ item, seq: this.seq++ });
        this.count++;
        return;
      }
      if (lv === '+') n = n.plus ??= node();
      else {
        n.children ??= new Map();
        let next = n.children.get(lv);
        if (next === undefined) n.children.set(lv, next = node());
        n = next;
      }
    }
    n.here.push({ item, seq: this.seq++ });
    this.count++;
  }

  /** Removes one addition of `item` under `filter`; false when there was none. Empty branches are pruned. */
  remove(filter: string, item: T): boolean {
    const levels = filter.split('/');
    const path: Array<[Node<T>, string | null]> = []; // parent and the branch taken (null: `+`)
    let n: Node<T> | undefined = this.root;
    let list: Entry<T>[] | undefined;
    for (let i = 0; i < levels.length && n; i++) {
      const lv = levels[i];
      if (lv === '#' && i === levels.length - 1) { list = n.hash; break; }
      path.push([n, lv === '+' ? null : lv]);
      n = lv === '+' ? n.plus : n.children?.get(lv);
    }
    if (!n) return false;
    list ??= n.here;
    const at = list.findIndex((e) => e.item === item);
    if (at < 0) return false;
    list.splice(at, 1);
    this.count--;
    // Prune nodes left without items or branches, from the leaf up.
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, lv] = path[i];
      const child = lv === null ? parent.plus : parent.children?.get(lv);
      if (!child || child.here.length || child.hash.length || child.plus || child.children?.size) break;
      if (lv === null) parent.plus = undefined;
      else {
        parent.children!.delete(lv);
        if (parent.children!.size === 0) parent.children = undefined;
      }
    }
    return true;
  }

  /** Items whose filter matches `topic`, in the order they were added. */
  match(topic: string): T[] {
    if (this.count === 0) return [];
    const found: Entry<T>[] = [];
    const levels = topic.split('/');
    walk(this.root, levels, 0, topic.charCodeAt(0) === 0x24, found);
    if (found.length > 1) found.sort((a, b) => a.seq - b.seq);
    const out = new Array<T>(found.length);
    for (let i = 0; i < found.length; i++) out[i] = found[i].item;
    return out;
  }
}

function walk<T>(n: Node<T>, levels: string[], i: number, dollar: boolean, found: Entry<T>[]): void {
  // `$SYS/...` and the like: no wildcard at the first level reaches them.
  const wild = !(dollar && i === 0);
  if (wild) for (const e of n.hash) found.push(e);
  if (i === levels.length) {
    for (const e of n.here) found.push(e);
    return;
  }
  const next = n.children?.get(levels[i]);
  if (next) walk(next, levels, i + 1, dollar, found);
  if (n.plus && wild) walk(n.plus, levels, i + 1, dollar, found);
}
