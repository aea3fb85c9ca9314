// Shared pieces of the AMQP subscription tests: a local cloud with the AMQP stand-in, a lib client factory, and
// condition waits (each resolves as soon as its condition holds; the timeout only bounds a failing test).
import fs from 'node:fs';
import { start, DEMO_ACCESS_KEY, DEMO_ACCOUNT_ID, TEST_CA_FILE, type LocalCloud } from '../../emulators';
import type { AmqpServerOptions } from '../../emulators/iot/amqp';
import { AmqpSubscription, type AmqpStatus, type AmqpSubscriptionOptions, type ReceivedAmqpMessage } from '../../lib/iot/amqp';
import { signAmqp } from '../../lib/iot/amqp-sign';

export const GROUP = 'group-a';
export const OTHER_GROUP = 'group-b';
export const CA = fs.readFileSync(TEST_CA_FILE);

export async function startCloud(amqp: Partial<Omit<AmqpServerOptions, 'accounts' | 'host'>> = {}): Promise<LocalCloud> {
  return start({
    sts: { port: 0, httpsPort: null },
    mns: false,
    iot: {
      mqttPort: 0,
      wsPort: false,
      openApiPort: false,
      amqp: { port: 0, tlsPort: 0, groups: [{ id: GROUP, accountId: DEMO_ACCOUNT_ID }, { id: OTHER_GROUP, accountId: DEMO_ACCOUNT_ID }], ...amqp },
    },
  });
}

export async function waitUntil(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface TestClient {
  sub: AmqpSubscription;
  got: ReceivedAmqpMessage[];
  statuses: AmqpStatus[];
  logins: string[];
}

export function client(cloud: LocalCloud, over: Partial<AmqpSubscriptionOptions> & { group?: string; clientId?: string; secret?: string; tls?: boolean; securityToken?: string; accessKeyId?: string; handle?: (m: ReceivedAmqpMessage) => void } = {}): TestClient {
  const amqp = cloud.iot!.amqp!;
  const tls = over.tls ?? true;
  const url = new URL(tls ? amqp.tlsUrl : amqp.url);
  const got: ReceivedAmqpMessage[] = [];
  const statuses: AmqpStatus[] = [];
  const logins: string[] = [];
  const sub = new AmqpSubscription({
    host: url.hostname,
    port: Number(url.port),
    tls,
    ca: CA,
    idleTimeoutMs: 60_000,
    prefetch: 50,
    backoffMs: { initial: 50, max: 400 },
    login: () => {
      const l = signAmqp({
        clientId: over.clientId ?? 'test-client',
        consumerGroupId: over.group ?? GROUP,
        accessKeyId: over.accessKeyId ?? DEMO_ACCESS_KEY.accessKeyId,
        accessKeySecret: over.secret ?? DEMO_ACCESS_KEY.accessKeySecret,
        securityToken: over.securityToken,
      });
      logins.push(l.username);
      return l;
    },
    onStatus: (s) => statuses.push(s),
    ...over,
    onMessage: (m) => {
      got.push(m);
      (over.handle ?? ((x: ReceivedAmqpMessage) => x.accept()))(m);
    },
  });
  return { sub, got, statuses, logins };
}
