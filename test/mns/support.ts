// Shared pieces of the MNS tests: a local MNS with one AccessKey, a topic subscribed by a queue, and
// credential providers that count their calls.
import { AccountBook } from '../../emulators/accounts';
import { startMns, type MnsEmulator, type MnsOptions } from '../../emulators/mns';
import type { Credentials } from '../../lib/credentials/types';
import type { CredentialSource } from '../../lib/mns';

export const ACCOUNT_ID = '1234567890123456';
export const AK = { accessKeyId: 'LTAImnstest01', accessKeySecret: 'mns-test-secret-value' };

export interface LocalMns {
  mns: MnsEmulator;
  accounts: AccountBook;
}

/** Topic `telemetry` → queue `app` (SIMPLIFIED: the queue body is exactly the published body), plus queue `work`. */
export async function startLocalMns(extra: Partial<MnsOptions> = {}): Promise<LocalMns> {
  const accounts = new AccountBook();
  accounts.addAccessKey({ ...AK, accountId: ACCOUNT_ID });
  const mns = await startMns({
    accounts,
    accountId: ACCOUNT_ID,
    region: 'cn-hangzhou',
    topics: [{ name: 'telemetry' }],
    queues: [{ name: 'app' }, { name: 'work', VisibilityTimeout: 1 }],
    subscriptions: [{ topic: 'telemetry', name: 'to-app', queue: 'app', notifyContentFormat: 'SIMPLIFIED' }],
    ...extra,
  });
  return { mns, accounts };
}

export class CountingProvider implements CredentialSource {
  calls = 0;
  refreshes = 0;
  constructor(private current: Credentials, private readonly next?: () => Credentials) {}
  async getCredentials(): Promise<Credentials> {
    this.calls++;
    return this.current;
  }
  async refresh(): Promise<Credentials> {
    this.refreshes++;
    if (this.next) this.current = this.next();
    return this.current;
  }
}

export function staticProvider(): CountingProvider {
  return new CountingProvider({ ...AK });
}

/** Resolves with the first event `name` on `emitter` that satisfies `pred`. */
export function waitForEvent<T>(emitter: NodeJS.EventEmitter, name: string, pred: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (v: T): void => {
      if (pred(v)) {
        emitter.off(name, on);
        resolve(v);
      }
    };
    emitter.on(name, on);
  });
}
