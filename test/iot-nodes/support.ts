// Shared pieces of the IoT node tests: the three node modules with their real en-US catalogs behind RED._ (the test
// helper's own RED._ returns keys verbatim), and waits on events (never sleeps).
import { createHook } from 'node:async_hooks';
import type { Node, NodeAPI } from 'node-red';
import helper from 'node-red-node-test-helper';
import brokerModule from '../../nodes/aliyun-iot-broker/aliyun-iot-broker';
import deviceInModule from '../../nodes/aliyun-iot-device-in/aliyun-iot-device-in';
import deviceOutModule from '../../nodes/aliyun-iot-device-out/aliyun-iot-device-out';
import brokerEn from '../../nodes/aliyun-iot-broker/locales/en-US/aliyun-iot-broker.json';
import inEn from '../../nodes/aliyun-iot-device-in/locales/en-US/aliyun-iot-device-in.json';
import outEn from '../../nodes/aliyun-iot-device-out/locales/en-US/aliyun-iot-device-out.json';

const catalog: Record<string, unknown> = { ...brokerEn, ...inEn, ...outEn };

/** Look a key up in the en-US catalogs and fill `__name__` placeholders, as Node-RED's i18next does. */
export function translate(key: string, subs?: Record<string, unknown>): string {
  if (key.startsWith('node-red:')) return key;
  let v: unknown = catalog;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string') return `MISSING-I18N:${key}`;
  return v.replace(/__(\w+)__/g, (_m, name: string) => (subs && name in subs ? String(subs[name]) : `__${name}__`));
}

function withCatalog(fn: (RED: NodeAPI) => void): (RED: NodeAPI) => void {
  return (RED: NodeAPI) => {
    (RED as unknown as { _: typeof translate })._ = translate;
    // The test helper's RED lacks `hooks`, which the real runtime's node API has (RED.hooks = @node-red/util hooks,
    // the registry the runtime's Flow and Node trigger); device in acknowledges through them.
    const api = RED as unknown as { hooks?: unknown };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (!api.hooks) api.hooks = (require('@node-red/util') as { hooks: unknown }).hooks;
    fn(RED);
  };
}

export const iotNodes = [withCatalog(brokerModule), withCatalog(deviceInModule), withCatalog(deviceOutModule)];

export { waitForStatus as waitStatus, type StatusArg } from '../support/status';

/** Collects the messages a helper node receives. */
export function collect<T = Record<string, unknown>>(node: Node): { messages: T[]; next(count?: number, timeoutMs?: number): Promise<T[]> } {
  const messages: T[] = [];
  const waiters: Array<{ count: number; resolve: (m: T[]) => void }> = [];
  node.on('input', (msg: unknown) => {
    messages.push(msg as T);
    for (const w of [...waiters]) {
      if (messages.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(messages.slice());
      }
    }
  });
  return {
    messages,
    next(count = messages.length + 1, timeoutMs = 15_000) {
      if (messages.length >= count) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const w = {
          count,
          resolve: (m: T[]) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`expected ${count} messages, got ${messages.length} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
  };
}

/** Counts of handles that would keep the process alive (sockets and timers). */
export function liveHandles(): { sockets: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return { sockets: info.filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length, timers: info.filter((r) => r === 'Timeout').length };
}

/** The error texts one node logged (the helper spies on Node.prototype, shared by all nodes). */
export function errorsOf(node: Node): string[] {
  const spy = node.error as unknown as { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
  return spy.getCalls().filter((c) => c.thisValue === node).map((c) => String(c.args[0]));
}

/**
 * Tracks timers created from now on by our IoT code or mqtt.js; stop() returns the creation stacks of those still
 * pending (a timer that fired or was cleared is gone).
 */
export function trackTimers(): { stop(): Promise<string[]> } {
  const live = new Map<number, string>();
  const ours = /lib[/\\]iot[/\\]|nodes[/\\]aliyun-iot-|node_modules[/\\]mqtt[/\\]/;
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      if (ours.test(stack)) live.set(id, stack.split('\n').slice(2, 8).join('\n'));
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    async stop() {
      // Destroy callbacks of cleared timers run asynchronously: let them through first.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      hook.disable();
      return [...live.values()];
    },
  };
}

/** helper.load with the three IoT node modules; flows are plain objects (node configs the types don't know). */
export function load(flow: Array<Record<string, unknown>>, credentials?: Record<string, Record<string, string>>): Promise<void> {
  return helper.load(iotNodes as never, flow as never, (credentials ?? {}) as never) as unknown as Promise<void>;
}
