// Shared pieces of the MNS node tests: the node modules with real message catalogs behind RED._, a flow builder
// with a real aliyun-credentials node, and event-driven waits.
import type { Node, NodeAPI } from 'node-red';
import credentialsNode from '../../../nodes/aliyun-credentials/aliyun-credentials';
import topicOutNode from '../../../nodes/aliyun-mns-topic-out/aliyun-mns-topic-out';
import queueInNode from '../../../nodes/aliyun-mns-queue-in/aliyun-mns-queue-in';
import endpointNode from '../../../nodes/aliyun-mns-endpoint/aliyun-mns-endpoint';
import endpointEn from '../../../nodes/aliyun-mns-endpoint/locales/en-US/aliyun-mns-endpoint.json';
import topicOutEn from '../../../nodes/aliyun-mns-topic-out/locales/en-US/aliyun-mns-topic-out.json';
import queueInEn from '../../../nodes/aliyun-mns-queue-in/locales/en-US/aliyun-mns-queue-in.json';
import { AK } from '../../mns/support';

const catalog: Record<string, unknown> = { ...topicOutEn, ...queueInEn, ...endpointEn };

export function translate(key: string, subs?: Record<string, unknown>): string {
  let v: unknown = catalog;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string') return key.startsWith('aliyun-mns-') ? `MISSING-I18N:${key}` : key;
  return v.replace(/__(\w+)__/g, (_m, name: string) => (subs && name in subs ? String(subs[name]) : `__${name}__`));
}

/** The three node modules, with RED._ answering from the real en-US catalogs. */
function mnsModules(RED: NodeAPI): void {
  (RED as unknown as { _: typeof translate })._ = translate;
  // The test helper's RED lacks `hooks`, which the real runtime's node API has (RED.hooks = @node-red/util hooks,
  // the very registry the runtime's Flow and Node trigger). Give it the same object.
  const api = RED as unknown as { hooks?: unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (!api.hooks) api.hooks = (require('@node-red/util') as { hooks: unknown }).hooks;
  credentialsNode(RED);
  endpointNode(RED);
  topicOutNode(RED);
  queueInNode(RED);
}

/* eslint-disable @typescript-eslint/no-require-imports */
/** Our modules plus the core nodes the tests wire in (Catch, Function). */
export const mnsNodes = [
  mnsModules,
  require('@node-red/nodes/core/common/25-catch.js'),
  require('@node-red/nodes/core/function/10-function.js'),
] as Array<(RED: NodeAPI) => void>;
/* eslint-enable @typescript-eslint/no-require-imports */

export const CREDS_ID = 'creds';
export function credentialsConfig(): { id: string; type: string; z: string; name: string; mode: string } {
  return { id: CREDS_ID, z: 'tab', type: 'aliyun-credentials', name: 'test', mode: 'accessKey' };
}
export const credentialsSecrets = { [CREDS_ID]: { ...AK } };

export { statusCalls, waitForStatus, type StatusArg } from '../../support/status';

/** Collects messages arriving at a helper node; `until(n)` resolves once n have arrived. */
export class Collector<T = Record<string, unknown>> {
  readonly got: T[] = [];
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  constructor(node: Node) {
    node.on('input', (msg: unknown) => {
      this.got.push(msg as T);
      this.waiters = this.waiters.filter((w) => {
        if (this.got.length >= w.n) {
          w.resolve();
          return false;
        }
        return true;
      });
    });
  }
  until(n: number): Promise<T[]> {
    if (this.got.length >= n) return Promise.resolve(this.got);
    return new Promise((resolve) => this.waiters.push({ n, resolve: () => resolve(this.got) }));
  }
}
