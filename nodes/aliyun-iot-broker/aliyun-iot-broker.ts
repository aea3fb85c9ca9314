// The `aliyun-iot-broker` config node: one MQTT connection (to any MQTT broker, or to Alibaba Cloud IoT Platform as a
// device), shared by every IoT device in / out node that uses it. Connects when the first user registers, disconnects
// only when the last user is removed (or this node closes), pushes its status to every user.
import type { Node, NodeAPI, NodeDef, NodeStatus } from 'node-red';
import {
  IotConnection,
  type ConnectionOptions,
  type ConnectionStatus,
  type SubscriptionHandlers,
} from '../../lib/iot/connection';
import type { SignMethod } from '../../lib/iot/signing';

const TYPE = 'aliyun-iot-broker';

export interface BrokerConfig {
  name?: string;
  mode?: 'mqtt' | 'device';
  // MQTT broker mode
  url?: string;
  clientId?: string;
  username?: string;
  protocolVersion?: string | number;
  // Alibaba Cloud IoT device mode
  instanceEndpoint?: string;
  region?: string;
  productKey?: string;
  deviceName?: string;
  signMethod?: string;
  secureMode?: string;
  websocket?: boolean;
  // both
  keepalive?: string | number;
  cleanSession?: boolean;
  ca?: string;
  cert?: string;
  verifyServerCert?: boolean;
}

export interface BrokerSecrets {
  password?: string;
  deviceSecret?: string;
  tlsKey?: string;
}

/** A node that uses the connection; gets the connection status pushed. */
export interface BrokerUser {
  id: string;
  status(s: NodeStatus): void;
}

export interface BrokerNode extends Node<BrokerSecrets> {
  /** Undefined when the configuration is invalid (see configError). */
  connection?: IotConnection;
  configError?: Error;
  /** The device this connection logs in as (Alibaba mode). */
  device?: { productKey: string; deviceName: string };
  register(user: BrokerUser, onStatus?: (status: ConnectionStatus, shown: NodeStatus) => void): void;
  deregister(user: BrokerUser, removed: boolean, done: () => void): void;
  subscribe(ref: string, subscription: string, qos: 0 | 1 | 2, handlers: SubscriptionHandlers): void;
  /** Removes the subscription at the broker (the node was deleted or disabled). */
  unsubscribe(ref: string): void;
  /** Takes the handlers away but keeps the subscription in the broker's session (the node is only restarting). */
  detach(ref: string): void;
  /** The status to show for a connection status, in this node's i18n keys. */
  statusFor(status: ConnectionStatus): NodeStatus;
}

type Def = NodeDef & BrokerConfig;

function num(v: unknown, fallback: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

/** Node config → connection options (throws ConnectionConfigError from the connection for bad values). */
export function connectionOptions(def: BrokerConfig, creds: BrokerSecrets): ConnectionOptions {
  const tls = {
    ca: def.ca || undefined,
    cert: def.cert || undefined,
    key: creds.tlsKey || undefined,
    rejectUnauthorized: def.verifyServerCert !== false,
  };
  const protocolVersion = Number(def.protocolVersion || 4) as 4 | 5;
  const clean = def.cleanSession !== false;
  if ((def.mode ?? 'mqtt') === 'device') {
    return {
      mode: 'device',
      instanceEndpoint: def.instanceEndpoint?.trim() || undefined,
      region: def.region?.trim() || undefined,
      productKey: (def.productKey ?? '').trim(),
      deviceName: (def.deviceName ?? '').trim(),
      deviceSecret: creds.deviceSecret ?? '',
      signMethod: (def.signMethod || 'hmacsha256') as SignMethod,
      secureMode: def.secureMode === 'tcp' ? 'tcp' : def.secureMode === 'tls' || !def.secureMode ? 'tls' : (def.secureMode as 'tls'),
      websocket: def.websocket === true,
      keepalive: num(def.keepalive, 300),
      clean,
      protocolVersion,
      clientId: def.clientId?.trim() || undefined,
      tls,
    };
  }
  return {
    mode: 'mqtt',
    url: (def.url ?? '').trim(),
    clientId: def.clientId?.trim() || undefined,
    username: def.username || undefined,
    password: creds.password || undefined,
    keepalive: num(def.keepalive, 60),
    clean,
    protocolVersion,
    tls,
  };
}

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);

  function statusFor(s: ConnectionStatus): NodeStatus {
    const seconds = s.retryInMs !== undefined ? Math.max(1, Math.round(s.retryInMs / 1000)) : 0;
    switch (s.state) {
      case 'connected':
        return { fill: 'green', shape: 'dot', text: 'node-red:common.status.connected' };
      case 'connecting':
        return { fill: 'yellow', shape: 'ring', text: 'node-red:common.status.connecting' };
      case 'retrying':
        return { fill: 'red', shape: 'ring', text: t('status.retrying', { seconds }) };
      case 'refused': {
        const key = s.reason?.startsWith('not authorized') ? (s.reason.includes('deviceSecret') ? 'status.refused-device' : 'status.refused-login') : 'status.refused';
        return { fill: 'red', shape: 'ring', text: t(key, { code: s.code ?? '?', seconds }) };
      }
      case 'kicked':
        return { fill: 'red', shape: 'dot', text: t('status.kicked', { seconds }) };
      default:
        return { fill: 'red', shape: 'ring', text: 'node-red:common.status.disconnected' };
    }
  }

  function AliyunIotBroker(this: BrokerNode, def: Def): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const users = new Map<string, { user: BrokerUser; onStatus?: (s: ConnectionStatus, shown: NodeStatus) => void }>();
    let lastLogged: string | undefined;
    node.statusFor = statusFor;

    let options: ConnectionOptions | undefined;
    try {
      options = connectionOptions(def, node.credentials ?? {});
      node.connection = new IotConnection(options);
      node.device = node.connection.resolved.device;
    } catch (err) {
      node.configError = new Error(t('errors.config', { message: (err as Error).message }));
      node.error(node.configError.message);
    }

    const push = (s: ConnectionStatus): void => {
      const shown = statusFor(s);
      for (const { user, onStatus } of users.values()) {
        if (onStatus) onStatus(s, shown);
        else user.status(shown);
      }
      // Log state changes once, not every retry.
      const key = `${s.state}:${s.reason ?? ''}`;
      if (s.state === 'connected') {
        if (lastLogged !== undefined) node.log(t('log.connected', { where: node.connection?.resolved.display ?? '' }));
        lastLogged = undefined;
      } else if ((s.state === 'refused' || s.state === 'kicked' || s.state === 'retrying') && key !== lastLogged) {
        lastLogged = key;
        node.warn(t('log.trouble', { where: node.connection?.resolved.display ?? '', reason: s.reason ?? s.state }));
      }
    };
    let unrouted = 0;
    const wire = (conn: IotConnection): void => {
      // Until the deploy has started every node, a message for no user waits for the one being created.
      conn.holdUnrouted(true);
      conn.on('status', push);
      conn.on('unrouted', (m: { topic: string; qos: number }) => {
        // Acknowledged without a user: say so (first, then every 100th), never drop silently.
        if (unrouted++ % 100 === 0) node.warn(t('log.unrouted', { topic: m.topic, count: unrouted }));
      });
      conn.on('log', (entry: { level: string; message: string }) => {
        if (entry.level === 'warn') node.warn(entry.message);
        else if (entry.level === 'error') node.error(entry.message);
        else node.debug(entry.message);
      });
    };
    if (node.connection) wire(node.connection);

    node.register = (user, onStatus) => {
      users.set(user.id, { user, onStatus });
      if (!node.connection) {
        const shown: NodeStatus = { fill: 'red', shape: 'ring', text: t('status.invalid-config') };
        if (onStatus) onStatus({ state: 'stopped', reason: node.configError?.message, at: Date.now() }, shown);
        else user.status(shown);
        return;
      }
      let conn = node.connection;
      if (users.size === 1) {
        if (conn.isStopped && options) {
          // The previous last user was removed and the connection closed; a new user brings it back.
          conn = new IotConnection(options);
          node.connection = conn;
          wire(conn);
        }
        conn.start();
      }
      const current = conn.status;
      if (onStatus) onStatus(current, statusFor(current));
      else user.status(statusFor(current));
    };

    node.deregister = (user, removed, done) => {
      users.delete(user.id);
      user.status({});
      if (users.size === 0 && removed && node.connection) {
        // The last user was deleted or disabled: nothing needs the connection any more.
        node.connection.stop().then(() => done(), () => done());
        return;
      }
      done();
    };

    node.subscribe = (ref, subscription, qos, handlers) => {
      if (!node.connection) throw node.configError ?? new Error(t('status.invalid-config'));
      node.connection.subscribe(ref, subscription, qos, handlers);
    };
    node.unsubscribe = (ref) => {
      node.connection?.unsubscribe(ref);
    };
    node.detach = (ref) => {
      node.connection?.detach(ref);
    };

    // After each deploy: users that were closed for a restart and did not come back (e.g. moved to another broker)
    // lose their subscription; messages that waited for a user being created go on.
    const onFlowsStarted = (): void => {
      const conn = node.connection;
      if (!conn) return;
      const gone = conn.purgeDetached();
      if (gone.length > 0) node.debug(`unsubscribed for nodes that did not come back: ${gone.join(', ')}`);
      conn.holdUnrouted(false);
    };
    RED.events.on('flows:started', onFlowsStarted);

    node.on('close', (_removed: boolean, done: () => void) => {
      RED.events.off('flows:started', onFlowsStarted);
      users.clear();
      const conn = node.connection;
      if (!conn) {
        done();
        return;
      }
      conn.stop().then(() => done(), () => done());
    });
  }

  RED.nodes.registerType<BrokerNode, Def, unknown, BrokerSecrets>(TYPE, AliyunIotBroker, {
    credentials: { password: { type: 'password' }, deviceSecret: { type: 'password' }, tlsKey: { type: 'password' } },
  });
}
