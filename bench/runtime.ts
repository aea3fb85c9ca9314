// A Node-RED runtime for benchmarks: node-red-node-test-helper's runtime, without its test instrumentation.
// The helper wraps Node methods (send, status, log…) in recording spies inside a Proxy; sinon's restore() does not
// undo the Proxy, and Node-RED copies Node.prototype.send onto each wired node when it is created. Left in place,
// that instrumentation dominates every per-message cost, on both sides of a comparison.
import helper from 'node-red-node-test-helper';

const SPIED = ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'];
const h = helper as unknown as { _sandbox: { restore(): void }; _NodePrototype: Record<string, unknown> };

/** Loads the flow like helper.load, then puts the runtime's own Node methods back on the prototype and on each node. */
export async function loadUninstrumented(nodes: unknown[], flow: Array<{ id: string } & Record<string, unknown>>, credentials: Record<string, unknown> = {}): Promise<void> {
  const saved = Object.fromEntries(SPIED.map((name) => [name, h._NodePrototype[name]]));
  await helper.load(nodes as never, flow as never, credentials as never);
  h._sandbox.restore();
  for (const name of SPIED) h._NodePrototype[name] = saved[name];
  for (const { id } of flow) {
    const n = helper.getNode(id) as unknown as Record<string, unknown> | null;
    if (n && Object.prototype.hasOwnProperty.call(n, 'send') && n.send !== saved.send) n.send = saved.send;
  }
}

export { helper };
