// How an MNS node finds its endpoint, credentials and HTTP agent: from the `aliyun-mns-endpoint` config node when
// one is chosen, else from the node's own fields as saved by releases before that node existed (so old flows
// keep working unchanged).
import type http from 'node:http';
import type { NodeAPI } from 'node-red';
import { endpointFromFields, type EndpointFields } from '../../lib/mns';
import type { AliyunCredentialsNode } from '../aliyun-credentials/aliyun-credentials';
import type { MnsEndpointNode } from '../aliyun-mns-endpoint/aliyun-mns-endpoint';

export interface MnsNodeFields extends EndpointFields {
  /** Id of an aliyun-mns-endpoint config node. */
  mnsEndpoint?: string;
  /** Id of the aliyun-credentials config node (old per-node form). */
  aliyunCredentials?: string;
}

export interface ResolvedEndpoint {
  endpoint: string;
  /** The region ID for error records; for an old-form custom URL, its host. */
  region: string;
  credentials: AliyunCredentialsNode;
  /** The config node's shared agent; undefined for the old per-node form (the client makes its own). */
  agent?: http.Agent;
}

/** Throws with what to fix (translated via `t`: keys errors.no-endpoint / errors.no-credentials). */
export function resolveMnsEndpoint(RED: NodeAPI, def: MnsNodeFields, t: (key: string, subs?: Record<string, string>) => string): ResolvedEndpoint {
  if (def.mnsEndpoint) {
    const ep = RED.nodes.getNode(def.mnsEndpoint) as unknown as MnsEndpointNode | null;
    if (!ep || typeof ep.agent !== 'function') throw new Error(t('errors.no-endpoint'));
    if (ep.problem || !ep.endpoint || !ep.credentialsNode) throw new Error(ep.problem ?? t('errors.no-endpoint'));
    return { endpoint: ep.endpoint, region: ep.region, credentials: ep.credentialsNode, agent: ep.agent() };
  }
  const endpoint = endpointFromFields(def);
  const found = def.aliyunCredentials ? (RED.nodes.getNode(def.aliyunCredentials) as unknown as AliyunCredentialsNode | null) : null;
  if (!found || typeof found.getCredentials !== 'function') throw new Error(t('errors.no-credentials'));
  const region = def.endpointType === 'custom' ? new URL(endpoint).host : (def.region ?? '').trim();
  return { endpoint, region, credentials: found };
}
