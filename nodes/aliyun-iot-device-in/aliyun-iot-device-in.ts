// The `aliyun-iot-device-in` node: subscribes a topic filter through a broker config node and sends each message with
// msg.iot (productKey, deviceName, topicClass, messageId, receivedAt, qos, raw).
import type { Node, NodeAPI, NodeDef, NodeStatus } from 'node-red';
import { decodePayload, iotMeta, PAYLOAD_FORMATS, type PayloadFormat } from '../../lib/iot/alink';
import { parseTopicFilter } from '../../lib/iot/topics';
import type { ConnectionStatus, IncomingMessage } from '../../lib/iot/connection';
import type { BrokerNode } from '../aliyun-iot-broker/aliyun-iot-broker';

const TYPE = 'aliyun-iot-device-in';

interface DeviceInConfig {
  name?: string;
  broker?: string;
  topic?: string;
  qos?: string | number;
  shareGroup?: string;
  format?: string;
}

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
    try {
      subscription = subscriptionOf(def.topic ?? '', def.shareGroup);
    } catch (err) {
      refuse('status.invalid-topic', (err as Error).message);
      return;
    }

    let refused: string | undefined;
    let lastShown: NodeStatus = {};
    const show = (s: ConnectionStatus, shown: NodeStatus): void => {
      lastShown = shown;
      if (refused && s.state === 'connected') node.status({ fill: 'red', shape: 'dot', text: t('status.subscribe-refused') });
      else node.status(shown);
    };

    // Message IDs: a random prefix per node and a counter, cheaper than a random ID per message at high rates.
    const idPrefix = RED.util.generateId().slice(0, 8);
    let seq = 0;
    const onMessage = (m: IncomingMessage): void => {
      const payload = decodePayload(m.payload, format);
      const iot = iotMeta(m.topic, m.payload, m.qos, m.receivedAt, format === 'auto' ? payload : undefined);
      node.send({ _msgid: idPrefix + (seq++).toString(16).padStart(8, '0'), topic: m.topic, payload, iot });
    };

    broker.register(node, show);
    // A broker whose configuration is invalid has no connection: register() has shown that, and the broker has
    // logged why; subscribing would only blame the topic.
    if (!broker.connection) {
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
      if (removed) broker.unsubscribe(node.id);
      else broker.detach(node.id);
      broker.deregister(node, removed, done);
    });
  }

  RED.nodes.registerType(TYPE, DeviceIn);
}
