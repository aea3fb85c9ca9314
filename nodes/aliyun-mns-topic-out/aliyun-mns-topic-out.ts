// The `aliyun-mns-topic-out` node: publishes each message to an MNS topic through a bounded queue with retries.
// Output 1: published (msg.mns); output 2: Alibaba's error record (msg.payload) + msg.error, and done(err) for
// Catch nodes. Every message ends on one of the two outputs — or, when Node-RED itself is stopping, in the log.
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { MnsClient, MnsError, Publisher, type PublisherState } from '../../lib/mns';
import { resolveMnsEndpoint, type ResolvedEndpoint } from '../shared/mns-endpoint';
import { TOPIC_NAME, bodyFor, errorRecord, normaliseTopicOut, type MsgIot, type NormalisedTopicOut, type TopicOutConfig } from './topic-out-io';
import type { AliyunCredentialsNode } from '../aliyun-credentials/aliyun-credentials';

const TYPE = 'aliyun-mns-topic-out';
const STATUS_INTERVAL_MS = 250;
/** How long close waits for in-flight publishes at most (then aborts them); stays well under nodeCloseTimeout. */
const CLOSE_GRACE_MS = 5000;

type TopicOutDef = NodeDef & TopicOutConfig;

interface TopicOutMsg extends NodeMessageInFlow {
  mnsTopic?: unknown;
  iot?: MsgIot;
  rule?: { name?: string };
  mns?: { topic: string; messageId: string; bodyMD5: string; requestId?: string };
  error?: unknown;
}

type CredentialsConfigNode = AliyunCredentialsNode;

/** The type of the last flows stop: 'full' means every node (or Node-RED itself) is stopping. */
let lastStopType: string | undefined;
let stopListener = false;

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);
  if (!stopListener) {
    stopListener = true;
    RED.events.on('flows:stopping', (ev: { type?: string }) => {
      lastStopType = ev?.type;
    });
    RED.events.on('flows:started', () => {
      lastStopType = undefined;
    });
  }

  function TopicOutNode(this: Node, def: TopicOutDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- used inside callbacks of the publisher
    const node = this;
    let cfg: NormalisedTopicOut | undefined;
    let startError: Error | undefined;
    let client: MnsClient | undefined;
    let publisher: Publisher | undefined;
    let credsNode: CredentialsConfigNode | undefined;
    let resolved: ResolvedEndpoint | undefined;
    let credentialTrouble: string | undefined;
    let closing = false;

    try {
      cfg = normaliseTopicOut(def);
      resolved = resolveMnsEndpoint(RED, def, t);
      cfg.endpoint = resolved.endpoint;
      cfg.region = resolved.region;
      credsNode = resolved.credentials;
    } catch (err) {
      startError = new Error(t('errors.invalid-config', { message: (err as Error).message }));
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalid-config') });
      node.error(startError.message);
    }

    // ---- status (throttled; a countdown redraws every second while retries wait)
    let lastDrawn = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    const draw = (): void => {
      lastDrawn = Date.now();
      if (!publisher || closing) return;
      const s: PublisherState = publisher.state();
      const code = s.lastErrorCode ?? '';
      if (credentialTrouble) {
        node.status({ fill: 'red', shape: 'ring', text: credentialTrouble });
      } else if (s.waiting > 0 || s.paused) {
        const secs = s.nextRetryAt !== undefined ? Math.max(0, Math.ceil((s.nextRetryAt - Date.now()) / 1000)) : 0;
        node.status({ fill: 'yellow', shape: 'ring', text: t('status.retrying', { seconds: secs, queued: s.queued + s.waiting, code }) });
        later(1000);
      } else if (s.queued > 0) {
        node.status({ fill: 'blue', shape: 'dot', text: t('status.queued', { queued: s.queued, published: s.published }) });
      } else if (s.failed > 0) {
        node.status({ fill: 'red', shape: 'dot', text: t('status.failed', { published: s.published, failed: s.failed, code }) });
      } else {
        node.status({ fill: 'green', shape: 'dot', text: t('status.published', { published: s.published }) });
      }
    };
    const later = (ms: number): void => {
      if (statusTimer || closing) return;
      statusTimer = setTimeout(() => {
        statusTimer = undefined;
        draw();
      }, ms);
    };
    const changed = (): void => {
      const wait = lastDrawn + STATUS_INTERVAL_MS - Date.now();
      if (wait <= 0 && !statusTimer) draw();
      else later(Math.max(0, wait));
    };

    if (cfg && credsNode && !startError) {
      const creds = credsNode;
      client = new MnsClient({
        endpoint: cfg.endpoint,
        accountId: cfg.accountId,
        credentials: { getCredentials: () => creds.getCredentials() },
        timeoutMs: cfg.timeoutMs,
        maxSockets: cfg.concurrency,
        agent: resolved?.agent,
      });
      const c = client;
      publisher = new Publisher({
        publish: (job) => c.publishMessage(job.topic, job.body, job.tag),
        concurrency: cfg.concurrency,
        queueLimit: cfg.queueLimit,
        retry: cfg.retry,
        abort: () => c.abortInFlight(),
        onChange: changed,
      });
      creds.register?.(node, (s) => {
        credentialTrouble = s.ok ? undefined : s.text ?? t('status.credentials');
        changed();
      });
      node.status({ fill: 'grey', shape: 'ring', text: t('status.ready') });
    }

    /** Output 2 + done(err): the error record in msg.payload, the details in msg.error. */
    const fail = (
      msg: TopicOutMsg,
      send: (m: Array<NodeMessageInFlow | null>) => void,
      done: (err?: Error) => void,
      mnsTopic: string,
      err: Error,
      reason: string,
    ): void => {
      const code = err instanceof MnsError ? err.code : 'InvalidMessage';
      const text = reason.startsWith(code) ? reason : `${code}: ${reason}`;
      msg.payload = errorRecord(msg, mnsTopic, cfg?.region ?? '', text);
      const info: Record<string, unknown> = { message: text, code, source: { id: node.id, type: TYPE, name: def.name || undefined } };
      if (err instanceof MnsError) {
        info.status = err.status;
        if (err.requestId) info.requestId = err.requestId;
        info.retryable = err.retryable;
      }
      msg.error = info;
      const error = new Error(text);
      if (closing && lastStopType === 'full') {
        // Node-RED (or every flow) is stopping: the nodes behind output 2 are stopping too, so the log is the
        // only place the message survives.
        node.error(t('errors.lost-on-stop', { record: JSON.stringify(msg.payload) }));
        done();
        return;
      }
      send([null, msg]);
      done(error);
    };

    node.on('input', (msg: TopicOutMsg, send, done) => {
      const mnsTopic = cfg?.topic || (typeof msg.mnsTopic === 'string' ? msg.mnsTopic.trim() : '');
      if (startError || !cfg || !publisher) {
        fail(msg, send, done, mnsTopic, startError ?? new Error(t('errors.not-started')), (startError ?? new Error(t('errors.not-started'))).message);
        return;
      }
      if (mnsTopic === '' || !TOPIC_NAME.test(mnsTopic)) {
        const e = new Error(mnsTopic === '' ? t('errors.no-topic') : t('errors.bad-topic', { topic: mnsTopic }));
        fail(msg, send, done, mnsTopic, e, e.message);
        return;
      }
      const built = bodyFor(msg.payload, cfg.bodyEncoding);
      if ('error' in built) {
        const e = new Error(t('errors.bad-body', { reason: built.error }));
        fail(msg, send, done, mnsTopic, e, e.message);
        return;
      }
      publisher.submit({ topic: mnsTopic, body: built.body, tag: cfg.tag }, (outcome) => {
        if (outcome.ok) {
          msg.mns = { topic: mnsTopic, messageId: outcome.result.messageId, bodyMD5: outcome.result.bodyMD5 };
          if (outcome.result.requestId) msg.mns.requestId = outcome.result.requestId;
          send([msg, null]);
          done();
        } else {
          fail(msg, send, done, mnsTopic, outcome.error, outcome.code === 'QueueFull' || outcome.code === 'Closed' ? `${outcome.code}: ${outcome.reason}` : outcome.reason);
        }
      });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
      credsNode?.deregister?.(node);
      const settings = RED.settings as unknown as { nodeCloseTimeout?: number };
      const grace = Math.max(500, Math.min(CLOSE_GRACE_MS, (settings.nodeCloseTimeout ?? 15000) - 3000));
      const finish = (): void => {
        client?.close();
        done();
      };
      if (!publisher) {
        finish();
        return;
      }
      publisher.close(grace).then(finish, (err: unknown) => {
        node.error(String(err));
        finish();
      });
    });
  }

  RED.nodes.registerType(TYPE, TopicOutNode);
}
