// The `aliyun-mns-topic-out` node: publishes each message to an MNS topic through a bounded queue with retries.
// Output 1: published (msg.mns); output 2: Alibaba's error record (msg.payload) + msg.error, and done(err) for
// Catch nodes. Every message ends on one of the two outputs.
// Outbox "disk" (default): a message is first appended to a durable journal (lib/outbox) in the Node-RED user
// directory and done() is called once it is on disk, so the source may acknowledge it; it is published from there
// and removed when MNS answers 201 (or when it went to output 2). A stop or crash keeps the rest for the next start,
// which publishes it before new messages. Outbox "memory": done() when MNS answered; at a stop what is not
// published is left without done(), so a source that acknowledges on completion keeps it (redelivers it).
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { MnsClient, MnsError, Publisher, type PublishJob, type PublisherState } from '../../lib/mns';
import { Journal, JournalWriteError, OutboxFullError, decodeMessage, encodeMessage } from '../../lib/outbox';
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
    let journal: Journal | undefined;
    /** Resolves when the journal is read back and its messages are queued for publishing. */
    let journalReady: Promise<void> = Promise.resolve();
    /** Why the outbox cannot take messages now (its directory cannot be read or written). */
    let journalTrouble: string | undefined;
    /** Memory mode: messages not published when the node stopped (left without done()). */
    let leftAtStop = 0;

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
      if (journal) {
        // The backlog is what the outbox holds (published messages leave it).
        const held = journal.stats.pending;
        s.queued = Math.max(0, held - s.waiting);
      }
      if (journalTrouble) {
        node.status({ fill: 'red', shape: 'ring', text: t('status.outbox-error', { reason: journalTrouble }) });
      } else if (credentialTrouble) {
        node.status({ fill: 'red', shape: 'ring', text: credentialTrouble });
      } else if (s.waiting > 0 || s.paused) {
        const secs = s.nextRetryAt !== undefined ? Math.max(0, Math.ceil((s.nextRetryAt - Date.now()) / 1000)) : 0;
        node.status({ fill: 'yellow', shape: 'ring', text: t(journal ? 'status.retrying-outbox' : 'status.retrying', { seconds: secs, queued: s.queued + s.waiting, code }) });
        later(1000);
      } else if (s.queued > 0) {
        node.status({ fill: 'blue', shape: 'dot', text: t(journal ? 'status.outbox' : 'status.queued', { queued: s.queued, published: s.published }) });
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

    const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
    if (cfg && credsNode && !startError) {
      const creds = credsNode;
      if (cfg.outbox && !userDir) {
        node.warn(t('errors.no-user-dir'));
        cfg.outbox = false;
      }
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
        // With the outbox, its limits bound the backlog; the publish queue takes what the outbox holds.
        queueLimit: cfg.outbox ? cfg.outboxLimit + cfg.concurrency : cfg.queueLimit,
        retry: cfg.retry,
        abort: () => c.abortInFlight(),
        onChange: changed,
      });
      creds.register?.(node, (s) => {
        credentialTrouble = s.ok ? undefined : s.text ?? t('status.credentials');
        changed();
      });
      node.status({ fill: 'grey', shape: 'ring', text: t('status.ready') });
      if (cfg.outbox && userDir) {
        const j = new Journal({ dir: path.join(userDir, 'aliyun-outbox', node.id), maxCount: cfg.outboxLimit, maxBytes: cfg.outboxBytes });
        journal = j;
        // For diagnostics and `npm run bench` (fsync batch sizes); not part of the node's interface.
        (node as unknown as { outboxStats?: () => unknown }).outboxStats = () => j.stats;
        journalReady = j.open().then(
          (records) => {
            // What an earlier run left: published first, in its order, before anything new.
            for (const r of records) {
              let stored: { job: PublishJob; msg: TopicOutMsg };
              try {
                stored = decodeMessage<PublishJob>(r.data) as { job: PublishJob; msg: TopicOutMsg };
              } catch (err) {
                node.error(t('errors.outbox-unreadable', { reason: (err as Error).message }));
                j.ack(r.seq);
                continue;
              }
              publishHeld(r.seq, stored.job, stored.msg);
            }
            changed();
          },
          (err: unknown) => {
            journalTrouble = (err as Error).message;
            node.error(t('errors.outbox-error', { reason: journalTrouble }));
            changed();
          },
        );
      }
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
      const code = err instanceof MnsError || err instanceof OutboxFullError || err instanceof JournalWriteError ? err.code : 'InvalidMessage';
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

    /**
     * Publishes a message the outbox holds (its done() was called when it reached the disk). 201 → output 1 and out
     * of the outbox; refused → output 2 + node.error(…, msg) for Catch nodes (as done(err) would) and out of the
     * outbox; not published because the node is closing → stays in the outbox for the next start.
     */
    const publishHeld = (seq: number, job: PublishJob, msg: TopicOutMsg): void => {
      (publisher as Publisher).submit(job, (outcome) => {
        if (!outcome.ok && closing) return; // kept on disk
        journal?.ack(seq);
        if (outcome.ok) {
          msg.mns = { topic: job.topic, messageId: outcome.result.messageId, bodyMD5: outcome.result.bodyMD5 };
          if (outcome.result.requestId) msg.mns.requestId = outcome.result.requestId;
          node.send([msg, null]);
          return;
        }
        const reason = outcome.code === 'QueueFull' ? `${outcome.code}: ${outcome.reason}` : outcome.reason;
        fail(msg, (m) => node.send(m), (err) => err && node.error(err.message, msg), job.topic, outcome.error, reason);
      });
      changed();
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
      const job: PublishJob = { topic: mnsTopic, body: built.body, tag: cfg.tag };
      if (journal) {
        const j = journal;
        let stored: Buffer;
        try {
          stored = encodeMessage(job, msg as unknown as Record<string, unknown>);
        } catch (err) {
          fail(msg, send, done, mnsTopic, err as Error, (err as Error).message);
          return;
        }
        journalReady
          .then(() => {
            if (journalTrouble && !j.stats.writeError) throw new JournalWriteError(t('errors.outbox-error', { reason: journalTrouble }));
            return j.append(stored);
          })
          .then(
            (seq) => {
              if (journalTrouble) {
                journalTrouble = undefined;
                changed();
              }
              done(); // on disk: safe; the source may acknowledge it
              publishHeld(seq, job, msg);
            },
            (err: Error) => {
              if (err instanceof JournalWriteError) {
                journalTrouble = j.stats.writeError ?? err.message;
                changed();
              }
              fail(msg, send, done, mnsTopic, err, err.message);
            },
          );
        return;
      }
      publisher.submit(job, (outcome) => {
        if (!outcome.ok && closing) {
          // Memory mode, stopping: no done() — a source that acknowledges on completion keeps the message and
          // delivers it again after the restart; it never becomes only a log line.
          leftAtStop++;
          return;
        }
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
        if (leftAtStop > 0) node.warn(t('errors.left-at-stop', { count: leftAtStop }));
        client?.close();
        const j = journal;
        if (!j) {
          done();
          return;
        }
        j.close().then(done, (err: unknown) => {
          node.error(String(err));
          done();
        });
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
