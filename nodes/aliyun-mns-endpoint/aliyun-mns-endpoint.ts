// The `aliyun-mns-endpoint` config node: one MNS endpoint (account ID + region + network, or a full URL), the
// credentials node to sign with, and one keep-alive HTTP agent shared by every MNS node that uses it (topic out,
// queue in). The agent is destroyed when the config node closes, after its users (Node-RED closes users first).
import type http from 'node:http';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { createMnsAgent, mnsEndpoint, type MnsNetwork } from '../../lib/mns';
import type { AliyunCredentialsNode } from '../aliyun-credentials/aliyun-credentials';

const TYPE = 'aliyun-mns-endpoint';

export interface MnsEndpointConfig {
  name?: string;
  accountId?: string;
  region?: string;
  /** public, internal, vpc, or custom (then `endpoint` is the full URL). */
  network?: MnsNetwork | 'custom';
  endpoint?: string;
  /** Id of the aliyun-credentials config node. */
  aliyunCredentials?: string;
}

/** The runtime face of the config node, for the MNS nodes: `RED.nodes.getNode(id) as MnsEndpointNode`. */
export interface MnsEndpointNode extends Node {
  /** The endpoint URL, e.g. https://1234567890123456.mns.cn-hangzhou.aliyuncs.com; undefined when misconfigured. */
  readonly endpoint?: string;
  /** The region ID (for error records' actionRegion); for a custom URL without a region, the URL's host. */
  readonly region: string;
  readonly accountId?: string;
  /** The credentials node, or undefined when none is chosen. */
  readonly credentialsNode?: AliyunCredentialsNode;
  /** Why the endpoint cannot be used (what to fix), if so. */
  readonly problem?: string;
  /** The keep-alive agent every client of this endpoint shares. */
  agent(): http.Agent;
}

export default function (RED: NodeAPI): void {
  function MnsEndpoint(this: Node & { endpoint?: string; region: string; accountId?: string; credentialsNode?: AliyunCredentialsNode; problem?: string; agent(): http.Agent }, def: NodeDef & MnsEndpointConfig): void {
    RED.nodes.createNode(this, def);
    const network = def.network ?? 'public';
    const region = (def.region ?? '').trim();
    this.accountId = (def.accountId ?? '').trim() || undefined;
    try {
      this.endpoint = network === 'custom'
        ? mnsEndpoint({ endpoint: def.endpoint ?? '' })
        : mnsEndpoint({ accountId: def.accountId, region, network });
    } catch (err) {
      this.problem = (err as Error).message;
    }
    this.region = region !== '' ? region : this.endpoint ? new URL(this.endpoint).host : '';
    const creds = def.aliyunCredentials ? (RED.nodes.getNode(def.aliyunCredentials) as unknown as AliyunCredentialsNode | null) : null;
    if (creds && typeof creds.getCredentials === 'function') this.credentialsNode = creds;
    else if (!this.problem) this.problem = RED._(`${TYPE}.errors.no-credentials`);

    let agent: http.Agent | undefined;
    const endpoint = this.endpoint;
    this.agent = () => {
      if (!endpoint) throw new Error(this.problem ?? 'no MNS endpoint');
      agent ??= createMnsAgent(endpoint);
      return agent;
    };
    this.on('close', (done: () => void) => {
      agent?.destroy();
      agent = undefined;
      done();
    });
  }
  RED.nodes.registerType(TYPE, MnsEndpoint as unknown as (this: Node, def: NodeDef) => void);
}
