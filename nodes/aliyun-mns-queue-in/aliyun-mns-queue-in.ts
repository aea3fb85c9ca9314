// The `aliyun-mns-queue-in` node: glue around lib/mns's QueueConsumer (long poll, batched deletes, backoff, poison
// messages). It decodes each message, sends it on, and tells the consumer when the flow has finished with it, so
// the message is deleted only then (at-least-once).
//
// "Finished" (delete mode "after Complete") is told by the shared completion tracker (../shared/completion.ts,
// Node-RED's message hooks): when every copy of the message has been completed without an error, the message is
// deleted; when some node completed it with done(err), or it did not finish within the processing timeout, it is
// left in the queue and becomes visible again after the queue's visibility timeout. A message delivered more than
// the maximum number of times leaves on output 2 with the reason and is deleted (or kept hidden, by option).
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { MnsClient, QueueConsumer, decodeMessage, type PoisonInfo, type ReceivedMessage } from '../../lib/mns';
import { mnsInfo, normaliseQueueIn, type NormalisedQueueIn, type QueueInConfig } from './queue-in-io';
import type { AliyunCredentialsNode } from '../aliyun-credentials/aliyun-credentials';
import { CompletionTracker, hasCompletionHooks } from '../shared/completion';
import { resolveMnsEndpoint, type ResolvedEndpoint } from '../shared/mns-endpoint';

const TYPE = 'aliyun-mns-queue-in';
const STATUS_INTERVAL_MS = 250;
const CLOSE_GRACE_MS = 3000;

type QueueInDef = NodeDef & QueueInConfig;

type CredentialsConfigNode = AliyunCredentialsNode;

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);

  function QueueInNode(this: Node, def: QueueInDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- used in hook and timer callbacks
    const node = this;
    let cfg: NormalisedQueueIn | undefined;
    let credsNode: CredentialsConfigNode | undefined;
    let resolved: ResolvedEndpoint | undefined;
    try {
      cfg = normaliseQueueIn(def);
      resolved = resolveMnsEndpoint(RED, def, t);
      credsNode = resolved.credentials;
      if (cfg.ackMode === 'complete' && !hasCompletionHooks(RED)) throw new Error(t('errors.no-hooks'));
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalid-config') });
      node.error(t('errors.invalid-config', { message: (err as Error).message }));
      return;
    }
    const config = cfg;
    const creds = credsNode;
    const credentials = { getCredentials: () => creds.getCredentials() };
    const tracker = config.ackMode === 'complete' ? new CompletionTracker(RED) : undefined;
    let running = true;
    let credentialTrouble: string | undefined;

    // ---- status
    let lastDrawn = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    const draw = (): void => {
      lastDrawn = Date.now();
      if (!running) return;
      const lastError = consumer.lastError;
      if (credentialTrouble) node.status({ fill: 'red', shape: 'ring', text: credentialTrouble });
      else if (lastError && consumer.retryAt > Date.now()) {
        const seconds = Math.ceil((consumer.retryAt - Date.now()) / 1000);
        node.status({ fill: 'red', shape: 'ring', text: t('status.error', { code: lastError.code, seconds }) });
      } else {
        const s = consumer.stats();
        const text = t('status.polling', { received: s.received, inflow: s.inFlight, deleted: s.deleted });
        node.status({ fill: 'green', shape: 'dot', text: s.poison > 0 ? `${text} · ${t('status.poison', { poison: s.poison })}` : text });
      }
    };
    const changed = (): void => {
      if (statusTimer || !running) return;
      const wait = lastDrawn + STATUS_INTERVAL_MS - Date.now();
      if (wait <= 0) draw();
      else {
        statusTimer = setTimeout(() => {
          statusTimer = undefined;
          draw();
        }, wait);
      }
    };

    creds.register?.(node, (s) => {
      credentialTrouble = s.ok ? undefined : s.text ?? t('status.credentials');
      changed();
    });

    const newMsg = (m: ReceivedMessage): NodeMessageInFlow & { mns: Record<string, unknown>; iot?: unknown; error?: unknown } => {
      const msg = { _msgid: RED.util.generateId(), topic: config.queue, payload: undefined } as unknown as NodeMessageInFlow & { mns: Record<string, unknown> };
      msg.mns = mnsInfo(config.queue, m);
      return msg;
    };

    /** Fills payload, msg.mns.envelope/notification and msg.iot; returns the reason when the body cannot be decoded. */
    const decodeInto = (msg: ReturnType<typeof newMsg>, m: ReceivedMessage): string | undefined => {
      try {
        const decoded = decodeMessage(m.body, config.payloadFormat);
        msg.payload = decoded.payload;
        msg.mns.envelope = decoded.envelope;
        if (decoded.notification) msg.mns.notification = decoded.notification;
        if (decoded.iot) msg.iot = decoded.iot;
        return undefined;
      } catch (err) {
        msg.payload = m.body;
        return (err as Error).message;
      }
    };

    const onMessage = (m: ReceivedMessage): void => {
      const msg = newMsg(m);
      const problem = decodeInto(msg, m);
      if (problem) {
        // Cannot decode: report it with the message (Catch sees it) and leave it in the queue for redelivery,
        // until the maximum delivery count sends it to output 2.
        consumer.settle(m, 'failed', `cannot decode: ${problem}`);
        node.error(t('errors.decode', { message: problem }), msg);
        return;
      }
      if (config.ackMode === 'send') {
        node.send([msg, null]);
        consumer.settle(m, 'ok');
        return;
      }
      const id = msg._msgid;
      tracker?.track(id, config.ackTimeoutMs, (how) => {
        if (how === 'timeout') {
          const why = t('errors.ack-timeout', { messageId: m.messageId, seconds: config.ackTimeoutMs / 1000 });
          node.warn(why);
          consumer.settle(m, 'failed', `not completed within ${config.ackTimeoutMs / 1000} s`);
        } else if (how === 'failed') consumer.settle(m, 'failed', 'a node in the flow ended it with an error');
        else consumer.settle(m, 'ok');
      });
      node.send([msg, null]);
      tracker?.sent(id);
    };

    const onPoison = (m: ReceivedMessage, info: PoisonInfo): void => {
      const msg = newMsg(m);
      decodeInto(msg, m);
      msg.mns.poison = info;
      msg.error = { message: info.reason, source: { id: node.id, type: TYPE, name: node.name } };
      node.warn(t(info.action === 'delete' ? 'errors.poison-deleted' : 'errors.poison-kept', { messageId: m.messageId, reason: info.reason }));
      node.send([null, msg]);
    };

    // With an endpoint config node, both clients share its keep-alive agent.
    const clientOptions = { endpoint: (resolved as ResolvedEndpoint).endpoint, credentials, agent: resolved?.agent };
    // Polling and deleting use separate clients, so that close can end the long poll at once while the deletes
    // of messages the flow just finished still go out.
    const pollClient = new MnsClient(clientOptions);
    const ackClient = new MnsClient(clientOptions);
    let lastErrorCode: string | undefined;
    const consumer = new QueueConsumer({
      queue: config.queue,
      client: pollClient,
      ackClient,
      waitSeconds: config.waitSeconds,
      batchSize: config.batchSize,
      concurrency: config.concurrency,
      maxDeliveries: config.maxDeliveries,
      poisonAction: config.poisonAction,
      onMessage,
      onPoison,
      onReceiveError: (e) => {
        if (lastErrorCode !== e.code) node.error(t('errors.receive', { message: e.message }));
        lastErrorCode = e.code;
        draw();
      },
      onRecovered: () => {
        lastErrorCode = undefined;
        node.log(t('log.recovered'));
      },
      onDeleteFailures: (failures) => {
        for (const f of failures) node.warn(t('errors.delete-stale', { code: f.code }));
      },
      onAckError: (e, count) => node.warn(t('errors.delete-failed', { count, message: e.message })),
      onChange: changed,
    });
    draw();
    consumer.start();

    node.on('close', (_removed: boolean, done: () => void) => {
      running = false;
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
      creds.deregister?.(node);
      // Messages in the flow get a moment to finish, so their deletes go out; the rest is redelivered by MNS.
      void consumer.close(CLOSE_GRACE_MS).finally(() => {
        tracker?.close();
        pollClient.close();
        ackClient.close();
        done();
      });
    });
  }

  RED.nodes.registerType(TYPE, QueueInNode);
}
