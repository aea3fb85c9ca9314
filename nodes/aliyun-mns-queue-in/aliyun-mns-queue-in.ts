// The `aliyun-mns-queue-in` node: long-polls an MNS queue and emits each message; deletes it only after the
// flow has finished with it, so a failure lets MNS deliver it again (at-least-once).
//
// "Finished" (delete mode "after Complete") is told by the shared completion tracker (../shared/completion.ts,
// Node-RED's message hooks): when every copy of the message has been completed without an error, the message is
// deleted; when some node completed it with done(err), or it did not finish within the processing timeout, it is
// left in the queue and becomes visible again after the queue's visibility timeout.
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { MnsClient, MnsError, decodeMessage, type ReceivedMessage } from '../../lib/mns';
import { mnsInfo, normaliseQueueIn, type NormalisedQueueIn, type QueueInConfig } from './queue-in-io';
import type { AliyunCredentialsNode } from '../aliyun-credentials/aliyun-credentials';
import { CompletionTracker, hasCompletionHooks } from '../shared/completion';

const TYPE = 'aliyun-mns-queue-in';
const STATUS_INTERVAL_MS = 250;
const MAX_BACKOFF_MS = 60_000;
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
    try {
      cfg = normaliseQueueIn(def);
      const found = def.aliyunCredentials ? (RED.nodes.getNode(def.aliyunCredentials) as unknown as CredentialsConfigNode | null) : null;
      if (!found || typeof found.getCredentials !== 'function') throw new Error(t('errors.no-credentials'));
      credsNode = found;
      if (cfg.ackMode === 'complete' && !hasCompletionHooks(RED)) throw new Error(t('errors.no-hooks'));
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalid-config') });
      node.error(t('errors.invalid-config', { message: (err as Error).message }));
      return;
    }
    const config = cfg;
    const creds = credsNode;
    const credentials = { getCredentials: () => creds.getCredentials() };
    const clientOptions = { endpoint: config.endpoint, accountId: config.accountId, credentials };
    // Polling and deleting use separate clients, so that close can end the long poll at once while the deletes
    // of messages the flow just finished still go out.
    const pollClient = new MnsClient(clientOptions);
    const ackClient = new MnsClient(clientOptions);

    // Messages sent and not yet finished by the flow, by _msgid: what to delete once they are.
    const tracked = new Map<string, ReceivedMessage>();
    const tracker = config.ackMode === 'complete' ? new CompletionTracker(RED) : undefined;
    const counts = { received: 0, deleted: 0, redelivery: 0 };
    let running = true;
    let lastError: MnsError | undefined;
    let retryAt = 0;
    let credentialTrouble: string | undefined;
    let wakeSlot: (() => void) | undefined;
    let wakeSleep: (() => void) | undefined;

    // ---- status
    let lastDrawn = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    const draw = (): void => {
      lastDrawn = Date.now();
      if (!running) return;
      if (credentialTrouble) node.status({ fill: 'red', shape: 'ring', text: credentialTrouble });
      else if (lastError && retryAt > Date.now()) {
        const seconds = Math.ceil((retryAt - Date.now()) / 1000);
        node.status({ fill: 'red', shape: 'ring', text: t('status.error', { code: lastError.code, seconds }) });
      } else {
        node.status({
          fill: 'green',
          shape: 'dot',
          text: t('status.polling', { received: counts.received, inflow: tracked.size, deleted: counts.deleted }),
        });
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

    // ---- deletes, batched up to 16 per call
    const toDelete: string[] = [];
    let flushing: Promise<void> | undefined;
    const flushDeletes = (): Promise<void> => {
      if (flushing) return flushing;
      flushing = (async () => {
        while (toDelete.length > 0) {
          const batch = toDelete.splice(0, 16);
          let attempt = 0;
          for (;;) {
            try {
              const failed = await ackClient.deleteMessages(config.queue, batch);
              counts.deleted += batch.length - failed.length;
              for (const f of failed) node.warn(t('errors.delete-stale', { code: f.code }));
              break;
            } catch (err) {
              const e = err instanceof MnsError ? err : undefined;
              if (e?.retryable && attempt < 3 && e.code !== 'Closed') {
                attempt++;
                await new Promise((r) => setTimeout(r, 500 * attempt));
                continue;
              }
              node.warn(t('errors.delete-failed', { count: batch.length, message: (err as Error).message }));
              break;
            }
          }
          changed();
        }
      })().finally(() => {
        flushing = undefined;
      });
      return flushing;
    };

    const finish = (id: string, deleteIt: boolean, why?: string): void => {
      const message = tracked.get(id);
      if (!message) return;
      tracked.delete(id);
      if (deleteIt) {
        toDelete.push(message.receiptHandle);
        queueMicrotask(() => void flushDeletes());
      } else {
        counts.redelivery++;
        if (why) node.warn(why);
      }
      wakeSlot?.();
      changed();
    };

    const emit = (m: ReceivedMessage): void => {
      counts.received++;
      const msg: NodeMessageInFlow & { mns?: unknown; iot?: unknown } = {
        _msgid: RED.util.generateId(),
        topic: config.queue,
        payload: undefined,
      } as NodeMessageInFlow;
      const mns = mnsInfo(config.queue, m);
      msg.mns = mns;
      try {
        const decoded = decodeMessage(m.body, config.payloadFormat);
        msg.payload = decoded.payload;
        mns.envelope = decoded.envelope;
        if (decoded.notification) mns.notification = decoded.notification;
        if (decoded.iot) msg.iot = decoded.iot;
      } catch (err) {
        // Cannot decode: report it with the message (Catch sees it) and leave it in the queue for redelivery.
        msg.payload = m.body;
        counts.redelivery++;
        node.error(t('errors.decode', { message: (err as Error).message }), msg);
        return;
      }
      if (config.ackMode === 'send') {
        node.send(msg);
        toDelete.push(m.receiptHandle);
        queueMicrotask(() => void flushDeletes());
        return;
      }
      const id = msg._msgid;
      tracked.set(id, m);
      tracker?.track(id, config.ackTimeoutMs, (how) => {
        if (how === 'timeout') finish(id, false, t('errors.ack-timeout', { messageId: m.messageId, seconds: config.ackTimeoutMs / 1000 }));
        else finish(id, how === 'ok');
      });
      node.send(msg);
      tracker?.sent(id);
    };

    // ---- the poll loop
    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          wakeSleep = undefined;
          resolve();
        }, ms);
        wakeSleep = () => {
          clearTimeout(timer);
          wakeSleep = undefined;
          resolve();
        };
      });
    const slotFree = (): Promise<void> =>
      new Promise((resolve) => {
        wakeSlot = () => {
          wakeSlot = undefined;
          resolve();
        };
      });

    const loop = async (): Promise<void> => {
      let backoff = 1000;
      while (running) {
        const free = config.concurrency - tracked.size;
        if (free <= 0) {
          await slotFree();
          continue;
        }
        let got: ReceivedMessage[];
        try {
          got = await pollClient.receiveMessages(config.queue, config.waitSeconds, Math.min(config.batchSize, free));
          if (lastError) node.log(t('log.recovered'));
          lastError = undefined;
          backoff = 1000;
        } catch (err) {
          if (!running) break;
          const e = err instanceof MnsError ? err : new MnsError({ code: 'Error', status: 0, message: String(err), source: 'local' });
          if (!lastError || lastError.code !== e.code) node.error(t('errors.receive', { message: e.message }));
          lastError = e;
          // Permanent errors (QueueNotExist, AccessDenied) are retried too, slowly: the queue may be created later.
          const delay = e.retryable ? backoff : Math.max(backoff, 10_000);
          retryAt = Date.now() + delay;
          draw();
          await sleep(delay);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        for (const m of got) {
          if (!running) break; // closing: unsent messages become visible again after the visibility timeout
          emit(m);
        }
        changed();
      }
    };
    draw();
    void loop().catch((err: unknown) => node.error(t('errors.receive', { message: (err as Error).message })));

    node.on('close', (_removed: boolean, done: () => void) => {
      running = false;
      pollClient.close();
      wakeSleep?.();
      wakeSlot?.();
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
      creds.deregister?.(node);
      const end = (): void => {
        tracker?.close();
        tracked.clear();
        ackClient.close();
        done();
      };
      // Give messages in the flow a moment to finish, so their deletes go out; the rest is redelivered by MNS.
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, CLOSE_GRACE_MS);
      });
      const drained = (async () => {
        while (tracked.size > 0) await slotFree();
        await flushDeletes();
      })();
      void Promise.race([drained, grace]).then(() => {
        clearTimeout(graceTimer);
        end();
      });
    });
  }

  RED.nodes.registerType(TYPE, QueueInNode);
}
