// The `aliyun-iot-amqp-in` node ("IoT server subscription"): the IoT Platform's AMQP server-side subscription of a
// consumer group (or, in generic mode, any AMQP 1.0 address), sent on as the same message IoT device in produces.
// A message is accepted only when the flow has finished with it; failed or timed-out ones are released.
import fs from 'node:fs';
import os from 'node:os';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { AmqpSubscription, amqpToIotMessage, parseAmqpEndpoint, IDLE_TIMEOUT_RANGE_S, type AmqpStatus, type AmqpLoginParts } from '../../lib/iot/amqp';
import { amqpPublicHost, checkAmqpSettings, signAmqp } from '../../lib/iot/amqp-sign';
import { PAYLOAD_FORMATS, type PayloadFormat } from '../../lib/iot/alink';
import type { SignMethod } from '../../lib/iot/signing';
import { CompletionTracker, hasCompletionHooks } from '../shared/completion';
import type { AliyunCredentialsNode } from '../aliyun-credentials/aliyun-credentials';

const TYPE = 'aliyun-iot-amqp-in';
const MAX_CONNECTIONS = 64;

interface AmqpInConfig {
  name?: string;
  mode?: 'alibaba' | 'generic';
  aliyunCredentials?: string;
  iotInstanceId?: string;
  endpointType?: 'region' | 'custom';
  region?: string;
  accountId?: string;
  endpoint?: string;
  consumerGroupId?: string;
  clientId?: string;
  connections?: string | number;
  signMethod?: string;
  idleTimeout?: string | number;
  caFile?: string;
  url?: string;
  address?: string;
  format?: string;
  ackTimeout?: string | number;
  prefetch?: string | number;
}

interface AmqpInSecrets {
  user?: string;
  password?: string;
}

type Def = NodeDef & AmqpInConfig;

/** The default client ID: the host name and the node ID, so that it stays the same across restarts of this node. */
export function defaultClientId(nodeId: string, hostname = os.hostname()): string {
  const host = hostname.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 30) || 'host';
  return `nr-${host}-${nodeId.replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 60);
}

function intIn(v: unknown, dflt: number, lo: number, hi: number, what: string): number {
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${what} ${JSON.stringify(v)} is out of range: ${lo}-${hi}`);
  return n;
}

const REASON_KEY: Record<string, string> = {
  signature: 'status.signature',
  group: 'status.group',
  throttled: 'status.throttled',
  network: 'status.network',
  refused: 'status.refused',
  credentials: 'status.credentials',
  config: 'status.invalid-config',
};

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);

  function AmqpIn(this: Node<AmqpInSecrets>, def: Def): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const refuse = (message: string): void => {
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalid-config') });
      node.error(t('errors.invalid-config', { message }));
    };
    const mode = def.mode || 'alibaba';
    const format = (def.format || 'auto') as PayloadFormat;
    let connections: number;
    let idleS: number;
    let ackS: number;
    let prefetch: number;
    let target: { host: string; port: number; tls: boolean };
    let ca: Buffer | undefined;
    let credNode: AliyunCredentialsNode | null = null;
    const clientBase = (def.clientId ?? '').trim() || defaultClientId(node.id);
    try {
      if (mode !== 'alibaba' && mode !== 'generic') throw new Error(`mode "${mode}" is unknown: use alibaba or generic`);
      if (!PAYLOAD_FORMATS.includes(format)) throw new Error(`payload format "${format}" is unknown: use auto, string or buffer`);
      connections = intIn(def.connections, 1, 1, MAX_CONNECTIONS, 'number of connections');
      idleS = intIn(def.idleTimeout, 60, IDLE_TIMEOUT_RANGE_S[0], IDLE_TIMEOUT_RANGE_S[1], 'idle timeout (s)');
      ackS = intIn(def.ackTimeout, 30, 1, 3600, 'acknowledge timeout (s)');
      prefetch = intIn(def.prefetch, 100, 1, 10_000, 'prefetch');
      if (def.caFile && def.caFile.trim()) {
        try {
          ca = fs.readFileSync(def.caFile.trim());
        } catch (e) {
          throw new Error(`CA file ${def.caFile.trim()} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
        }
      }
      if (mode === 'alibaba') {
        checkAmqpSettings({ clientId: clientBase, consumerGroupId: (def.consumerGroupId ?? '').trim(), iotInstanceId: (def.iotInstanceId ?? '').trim(), signMethod: def.signMethod || 'hmacsha1' });
        if (connections > 1 && clientBase.length > 60) throw new Error('client ID is too long to number several connections: 60 characters at most');
        if ((def.endpointType ?? 'region') === 'custom') target = parseAmqpEndpoint(def.endpoint ?? '');
        else target = { host: amqpPublicHost((def.accountId ?? '').trim(), (def.region ?? '').trim()), port: 5671, tls: true };
        credNode = def.aliyunCredentials ? (RED.nodes.getNode(def.aliyunCredentials) as AliyunCredentialsNode | null) : null;
        if (!credNode || typeof credNode.getCredentials !== 'function') throw new Error('choose an Alibaba Cloud credentials node');
      } else {
        target = parseAmqpEndpoint(def.url ?? '');
        if (!(def.address ?? '').trim()) throw new Error('the address (queue or topic) is empty');
      }
    } catch (err) {
      refuse((err as Error).message);
      return;
    }

    const tracker = hasCompletionHooks(RED) ? new CompletionTracker(RED) : undefined;
    const counts = { received: 0, withoutProperties: 0, released: 0 };
    const statuses: Array<AmqpStatus | undefined> = new Array(connections).fill(undefined);
    let statusTimer: NodeJS.Timeout | undefined;
    let closed = false;

    const draw = (): void => {
      statusTimer = undefined;
      if (closed) return;
      const up = statuses.filter((s) => s?.state === 'connected').length;
      const trouble = statuses.find((s) => s?.state === 'retrying');
      const extra = counts.withoutProperties ? ` · ${t('status.without-properties', { count: counts.withoutProperties })}` : '';
      if (trouble && up < connections) {
        const why = t(REASON_KEY[trouble.reason ?? 'network'] ?? 'status.network');
        const secs = Math.max(1, Math.round((trouble.retryInMs ?? 0) / 1000));
        node.status({ fill: up > 0 ? 'yellow' : 'red', shape: 'ring', text: `${why} · ${t('status.retrying', { seconds: secs })}${connections > 1 ? ` (${up}/${connections})` : ''}${extra}` });
      } else if (up === connections) {
        node.status({ fill: 'green', shape: 'dot', text: `${t('status.connected')}${connections > 1 ? ` ${up}/${connections}` : ''} · ${counts.received}${extra}` });
      } else {
        node.status({ fill: 'yellow', shape: 'ring', text: `${t('status.connecting')}${connections > 1 ? ` ${up}/${connections}` : ''}` });
      }
    };
    const changed = (): void => {
      if (!statusTimer && !closed) statusTimer = setTimeout(draw, 250);
    };

    const loginFor = (i: number): (() => Promise<AmqpLoginParts>) => {
      if (mode === 'generic') return async () => (node.credentials?.user ? { username: node.credentials.user, password: node.credentials.password ?? '' } : {});
      const clientId = connections > 1 ? `${clientBase}-${i + 1}` : clientBase;
      return async () => {
        const c = await credNode!.getCredentials();
        return signAmqp({
          clientId,
          iotInstanceId: (def.iotInstanceId ?? '').trim(),
          consumerGroupId: (def.consumerGroupId ?? '').trim(),
          accessKeyId: c.accessKeyId,
          accessKeySecret: c.accessKeySecret,
          securityToken: c.securityToken,
          signMethod: (def.signMethod || 'hmacsha1') as SignMethod,
        });
      };
    };

    let seq = 0;
    const idPrefix = RED.util.generateId().slice(0, 8);
    const subs: AmqpSubscription[] = [];
    for (let i = 0; i < connections; i++) {
      const sub = new AmqpSubscription({
        ...target,
        ca,
        address: mode === 'generic' ? (def.address ?? '').trim() : '',
        login: loginFor(i),
        idleTimeoutMs: idleS * 1000,
        prefetch: Math.max(1, Math.ceil(prefetch / connections)),
        onStatus: (s) => {
          const before = statuses[i];
          statuses[i] = s;
          if (s.state === 'retrying' && (before?.state !== 'retrying' || before.reason !== s.reason)) {
            node.warn(t('errors.connection', { reason: t(REASON_KEY[s.reason ?? 'network'] ?? 'status.network'), detail: s.detail ?? '' }));
          }
          changed();
        },
        onMessage: (m) => {
          counts.received++;
          const out = amqpToIotMessage(m, format);
          if (!out.complete && mode === 'alibaba') counts.withoutProperties++;
          const _msgid = idPrefix + (seq++).toString(16).padStart(8, '0');
          const msg: Record<string, unknown> = { _msgid, payload: out.payload, iot: out.iot };
          if (out.topic !== undefined) msg.topic = out.topic;
          else if (mode === 'generic') msg.topic = m.subject ?? (def.address ?? '').trim();
          if (mode === 'generic') msg.amqp = { properties: m.properties, messageId: m.messageId, subject: m.subject };
          if (tracker) {
            tracker.track(_msgid, ackS * 1000, (how) => {
              if (how === 'ok') m.accept();
              else {
                counts.released++;
                m.release();
              }
            });
            node.send(msg);
            tracker.sent(_msgid);
          } else {
            node.send(msg);
            m.accept();
          }
          changed();
        },
      });
      subs.push(sub);
    }
    node.status({ fill: 'yellow', shape: 'ring', text: t('status.connecting') });
    for (const s of subs) s.start();

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (statusTimer) clearTimeout(statusTimer);
      tracker?.close();
      Promise.all(subs.map((s) => s.stop())).then(
        () => done(),
        () => done(),
      );
    });
  }

  RED.nodes.registerType<Node<AmqpInSecrets>, Def, unknown, AmqpInSecrets>(TYPE, AmqpIn, { credentials: { user: { type: 'text' }, password: { type: 'password' } } });
}
