// Node status in tests run by node-red-node-test-helper. The helper spies on Node.prototype.status, so one spy
// records every node's calls: these helpers keep only the calls made by the node asked about.
import type { Node } from 'node-red';

export interface StatusArg {
  fill?: string;
  shape?: string;
  text?: string;
}

type Spied = Node & { on(event: string, fn: (...args: unknown[]) => void): Node };

/** The status calls this node made, oldest first. */
export function statusCalls(node: Node): StatusArg[] {
  const spy = node.status as unknown as { getCalls?: () => Array<{ args: unknown[]; thisValue: unknown }> };
  return (spy.getCalls?.() ?? []).filter((c) => c.thisValue === node).map((c) => c.args[0] as StatusArg);
}

/** Resolves with the first status of this node (already shown or coming) that satisfies `test`. */
export function waitForStatus(node: Node, test: (s: StatusArg) => boolean, timeoutMs = 20_000): Promise<StatusArg> {
  const seen = statusCalls(node).find((s) => s && test(s));
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const n = node as Spied;
    const timer = setTimeout(() => {
      n.removeListener('call:status', on);
      reject(new Error(`status not reached within ${timeoutMs} ms; seen: ${statusCalls(node).map((s) => JSON.stringify(s)).join(', ')}`));
    }, timeoutMs);
    const on = (call: unknown): void => {
      const s = (call as { args: unknown[] }).args[0] as StatusArg;
      if (s && test(s)) {
        clearTimeout(timer);
        n.removeListener('call:status', on);
        resolve(s);
      }
    };
    n.on('call:status', on);
  });
}
