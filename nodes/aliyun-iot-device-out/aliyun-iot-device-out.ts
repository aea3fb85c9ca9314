// The `aliyun-iot-device-out` node: sends msg.payload down to devices, by MQTT publish through a broker config node,
// or through the IoT OpenAPI `Pub` action with Alibaba Cloud credentials.
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { iotEndpoint, IotApiError, pub } from '../../lib/iot/openapi';
import { checkTopicName } from '../../lib/iot/topics';
import { PublishError } from '../../lib/iot/connection';
import type { BrokerNode } from '../aliyun-iot-broker/aliyun-iot-broker';
import type { AliyunCredentialsNode } from '../aliyun-credentials/aliyun-credentials';

const TYPE = 'aliyun-iot-device-out';

interface DeviceOutConfig {
  name?: string;
  mode?: 'mqtt' | 'pub';
  broker?: string;
  topic?: string;
  qos?: string | number;
  retain?: boolean;
  /** Id of the aliyun-credentials config node (not `credentials`: Node-RED reserves that name). */
  aliyunCredentials?: string;
  endpoint?: string;
  iotInstanceId?: string;
  productKey?: string;
}

type Def = NodeDef & DeviceOutConfig;

type CredentialsNode = AliyunCredentialsNode;

interface OutMsg extends NodeMessageInFlow {
  productKey?: unknown;
  pub?: { messageId: string; requestId?: string; productKey: string; topic: string; qos: 0 | 1 };
}

/** msg.payload → bytes: Buffer as is, string as UTF-8, anything else as JSON. */
export function payloadBytes(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload);
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload === undefined || payload === null) throw new Error('msg.payload is missing: there is nothing to send');
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);

  function DeviceOut(this: Node, def: Def): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const mode = def.mode === 'pub' ? 'pub' : 'mqtt';
    const qos = Number(def.qos ?? 0) as 0 | 1 | 2;
    let startError: Error | undefined;
    let sent = 0;

    const fail = (message: string): void => {
      startError = new Error(message);
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalid-config') });
      node.error(message);
    };
    const topicFor = (msg: OutMsg): string => {
      const topic = (def.topic ?? '').trim() || (typeof msg.topic === 'string' ? msg.topic : '');
      return checkTopicName(topic);
    };

    if (mode === 'mqtt') {
      const broker = def.broker ? (RED.nodes.getNode(def.broker) as BrokerNode | null) : null;
      if (qos !== 0 && qos !== 1 && qos !== 2) fail(t('errors.invalid-config', { message: `QoS ${JSON.stringify(def.qos)} is not valid: 0, 1 or 2` }));
      if (!broker) {
        fail(t('errors.no-broker'));
        node.on('input', (_msg, _send, done) => done(startError));
        return;
      }
      broker.register(node);
      node.on('input', (msg: OutMsg, send, done) => {
        if (startError) {
          done(startError);
          return;
        }
        let topic: string;
        let bytes: Buffer;
        try {
          topic = topicFor(msg);
          bytes = payloadBytes(msg.payload);
        } catch (err) {
          done(err as Error);
          return;
        }
        const conn = broker.connection;
        if (!conn) {
          done(broker.configError ?? new Error(t('errors.no-broker')));
          return;
        }
        conn.publish(topic, bytes, { qos, retain: def.retain === true }).then(
          () => {
            sent++;
            send(msg);
            done();
          },
          (err: unknown) => {
            if (err instanceof PublishError && err.code === 'NOT_CONNECTED') node.status({ fill: 'red', shape: 'ring', text: t('status.not-sent') });
            done(err as Error);
          },
        );
      });
      node.on('close', (removed: boolean, done: () => void) => {
        broker.deregister(node, removed, done);
      });
      return;
    }

    // IoT OpenAPI Pub
    const credNode = def.aliyunCredentials ? (RED.nodes.getNode(def.aliyunCredentials) as CredentialsNode | null) : null;
    let endpoint = '';
    if (!credNode || typeof credNode.getCredentials !== 'function') {
      fail(t('errors.no-credentials'));
    } else {
      try {
        endpoint = iotEndpoint(def.endpoint ?? '');
        if (qos !== 0 && qos !== 1) throw new Error(`Pub accepts QoS 0 or 1, not ${JSON.stringify(def.qos)}`);
      } catch (err) {
        fail(t('errors.invalid-config', { message: (err as Error).message }));
      }
      credNode.register?.(node);
    }
    if (!startError) node.status({ fill: 'grey', shape: 'ring', text: t('status.ready') });

    node.on('input', (msg: OutMsg, send, done) => {
      if (startError || !credNode) {
        done(startError ?? new Error(t('errors.no-credentials')));
        return;
      }
      let topic: string;
      let bytes: Buffer;
      const productKey = (def.productKey ?? '').trim() || (typeof msg.productKey === 'string' ? msg.productKey : '');
      try {
        topic = topicFor(msg);
        bytes = payloadBytes(msg.payload);
        if (!productKey) throw new Error(t('errors.no-product-key'));
      } catch (err) {
        done(err as Error);
        return;
      }
      const run = async (): Promise<void> => {
        const credentials = await credNode.getCredentials();
        const result = await pub({
          endpoint,
          credentials,
          productKey,
          topicFullName: topic,
          messageContent: bytes,
          qos: qos as 0 | 1,
          iotInstanceId: def.iotInstanceId?.trim() || undefined,
        });
        sent++;
        msg.pub = { messageId: result.messageId, requestId: result.requestId, productKey, topic, qos: qos as 0 | 1 };
        node.status({ fill: 'green', shape: 'dot', text: t('status.sent', { count: sent }) });
        send(msg);
      };
      run().then(
        () => done(),
        (err: unknown) => {
          const code = err instanceof IotApiError || (err as { code?: unknown })?.code ? String((err as { code: unknown }).code) : 'error';
          node.status({ fill: 'red', shape: 'ring', text: t('status.failed', { code }) });
          done(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      credNode?.deregister?.(node);
      done();
    });
  }

  RED.nodes.registerType(TYPE, DeviceOut);
}
