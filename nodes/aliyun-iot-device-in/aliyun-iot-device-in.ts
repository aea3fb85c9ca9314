// The `aliyun-iot-device-in` node: subscribes a topic filter through a broker config node and sends each message with
// msg.iot (productKey, deviceName, topicClass, messageId, receivedAt, qos, raw).
// A QoS 1/2 message is acknowledged to the broker (PUBACK / PUBCOMP) when the flow has finished with it (the shared
// completion tracker, ../shared/completion.ts): finished without error, or finished with an error that a node reported
// (done(err): an error output such as MNS topic out's, a Catch node, the log). One that does not finish within the
// processing timeout, or is still in the flow when the node closes, is left unacknowledged: the broker redelivers
// it on the next connection (persistent session).
import type { Node, NodeAPI, NodeDef, NodeStatus } from 'node-red';
import { decodePayload, iotMeta, PAYLOAD_FORMATS, type PayloadFormat } from '../../lib/iot/alink';
import { parseTopicFilter } from '../../lib/iot/topics';
import type { ConnectionStatus, IncomingMessage } from '../../lib/iot/connection';
import type { BrokerNode } from '../aliyun-iot-broker/aliyun-iot-broker';
import { CompletionTracker, hasCompletionHooks } from '../shared/completion';

const TYPE = 'aliyun-iot-device-in';

interface DeviceInConfig {
  name?: string;
  broker?: string;
  topic?: string;
  qos?: string | number;
  shareGroup?: string;
  format?: string;
  /** 'complete' (default): acknowledge when the flow has finished with the message; 'arrival': when it enters. */
  ackMode?: string;
  /** Processing timeout in seconds (ackMode complete); default 60. */
  ackTimeout?: string | number;
}

const DEFAULT_ACK_TIMEOUT_S = 60;

type Def = NodeDef & DeviceInConfig;

/** The filter as subscribed: `$share/<group>/<topic>` when a group is set. Throws a TopicError for a bad filter. */
export function subscriptionOf(topic: string, shareGroup: string | undefined): string {
  const group = (shareGroup ?? '').trim();
  const filter = (topic ?? '').trim();
  if (group && /[/+#]/.test(group)) throw new Error(`shared-subscription group "${group}" must not contain "/", "+" or "#"`);
  const subscription = group ? `$share/${group}/${filter}` : filter;
  parseTopicFilter(subscription);
  return subscription;
}

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);

  function DeviceIn(this: Node, def: Def): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const broker = def.broker ? (RED.nodes.getNode(def.broker) as BrokerNode | null) : null;
    const qos = Number(def.qos ?? 0) as 0 | 1 | 2;
    const format = (def.format || 'auto') as PayloadFormat;
    const ackMode = def.ackMode === 'arrival' ? 'arrival' : 'complete';
    const ackTimeoutS = def.ackTimeout === undefined || def.ackTimeout === '' ? DEFAULT_ACK_TIMEOUT_S : Number(def.ackTimeout);
    let subscription: string;

    if (!broker) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.no-broker') });
      node.error(t('errors.no-broker'));
      return;
    }
    const refuse = (statusKey: string, message: string): void => {
      node.status({ fill: 'red', shape: 'ring', text: t(statusKey) });
      node.error(t('errors.invalid-config', { message }));
    };
    if (!PAYLOAD_FORMATS.includes(format)) {
      refuse('status.invalid-config', `payload format "${format}" is unknown: use auto, string or buffer`);
      return;
    }
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      refuse('status.invalid-config', `QoS ${JSON.stringify(def.qos)} is not valid: 0, 1 or 2`);
      return;
    }
    if (def.ackMode !== undefined && def.ackMode !== '' && def.ackMode !== 'complete' && def.ackMode !== 'arrival') {
      refuse('status.invalid-config', `acknowledge mode "${def.ackMode}" is unknown: use complete or arrival`);
      return;
    }
    if (!Number.isFinite(ackTimeoutS) || ackTimeoutS < 1 || ackTimeoutS > 86_400) {
      refuse('status.invalid-config', `processing timeout ${JSON.stringify(def.ackTimeout)} s is not valid: 1-86400 seconds`);
      return;
    }
    try {
      subscription = subscriptionOf(def.topic ?? '', def.shareGroup);
    } catch (err) {
      refuse('status.invalid-topic', (err as Error).message);
      return;
    }

    let refused: string | undefined;
    let lastShown: NodeStatus = {};
    let lastState: ConnectionStatus['state'] = 'idle';
    /** Messages the flow did not finish within the processing timeout (left unacknowledged). */
    let timedOut = 0;
    const show = (s: ConnectionStatus, shown: NodeStatus): void => {
      lastShown = shown;
      lastState = s.state;
      if (refused && s.state === 'connected') node.status({ fill: 'red', shape: 'dot', text: t('status.subscribe-refused') });
      else if (timedOut > 0 && s.state === 'connected') node.status({ fill: 'yellow', shape: 'dot', text: t('status.unacknowledged', { count: timedOut }) });
      else node.status(shown);
    };

    // Acknowledge on completion: needs Node-RED's message hooks (2.0+); without them, on arrival as before.
    const tracker = qos > 0 && ackMode === 'complete' && hasCompletionHooks(RED) ? new CompletionTracker(RED) : undefined;
    /** Deferred acknowledgements of the messages in the flow, by _msgid. */
    const inFlow = new Map<string, (safe: boolean) => void>();

    // Message IDs: a random prefix per node and a counter, cheaper than a random ID per message at high rates.
    const idPrefix = RED.util.generateId().slice(0, 8);
    let seq = 0;
    const onMessage = (m: IncomingMessage): void => {
      const payload = decodePayload(m.payload, format);
      const iot = iotMeta(m.topic, m.payload, m.qos, m.receivedAt, format === 'auto' ? payload : undefined);
      const _msgid = idPrefix + (seq++).toString(16).padStart(8, '0');
      if (!tracker || !m.defer) {
        node.send({ _msgid, topic: m.topic, payload, iot });
        return;
      }
      const ack = m.defer();
      inFlow.set(_msgid, ack);
      tracker.track(_msgid, ackTimeoutS * 1000, (how) => {
        inFlow.delete(_msgid);
        if (how === 'timeout') {
          // Not finished in time: not safe. Left unacknowledged, the broker redelivers it on the next connection.
          timedOut++;
          ack(false);
          node.warn(t('errors.ack-timeout', { topic: m.topic, seconds: ackTimeoutS }));
          show({ state: lastState, at: Date.now() }, lastShown);
          return;
        }
        // 'ok', or 'failed': a node finished it with done(err), which reported it (error output, Catch, log).
        ack(true);
      });
      node.send({ _msgid, topic: m.topic, payload, iot });
      tracker.sent(_msgid);
    };

    broker.register(node, show);
    // A broker whose configuration is invalid has no connection: register() has shown that, and the broker has
    // logged why; subscribing would only blame the topic.
    if (!broker.connection) {
      tracker?.close();
      node.on('close', (removed: boolean, done: () => void) => broker.deregister(node, removed, done));
      return;
    }
    try {
      broker.subscribe(node.id, subscription, qos, {
        onMessage,
        onRefused: (sub, code) => {
          refused = sub;
          node.status({ fill: 'red', shape: 'dot', text: t('status.subscribe-refused') });
          node.error(t('errors.subscribe-refused', { topic: sub, code: `0x${code.toString(16)}` }));
        },
        onGranted: () => {
          if (refused) {
            refused = undefined;
            node.status(lastShown);
          }
        },
      });
    } catch (err) {
      refuse('status.invalid-topic', (err as Error).message);
    }

    node.on('close', (removed: boolean, done: () => void) => {
      // Deleted or disabled: the subscription goes. Only restarting (redeploy, Node-RED stop): keep it in the broker's
      // session (no UNSUBSCRIBE), so a persistent session keeps queueing QoS 1 messages; the new node with the same
      // id takes it over (with a changed filter, the old one is unsubscribed then).
      // Messages still in the flow are not safe: left unacknowledged, the broker redelivers them on its next
      // connection (persistent session).
      tracker?.close();
      for (const ack of inFlow.values()) ack(false);
      inFlow.clear();
      if (removed) broker.unsubscribe(node.id);
      else broker.detach(node.id);
      broker.deregister(node, removed, done);
    });
  }

  RED.nodes.registerType(TYPE, DeviceIn);
}
