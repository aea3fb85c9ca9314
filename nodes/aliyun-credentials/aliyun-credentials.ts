// The `aliyun-credentials` config node: one credential provider (AccessKey, RAM role via STS AssumeRole, or the
// default chain of @alicloud/credentials) shared by every node that uses it, with credential trouble pushed to
// their status, and the editor's "Test credentials" endpoint `POST aliyun-credentials/test`.
import { EventEmitter } from 'node:events';
import type { Node, NodeAPI, NodeDef, NodeStatus } from 'node-red';
import type { Request, Response } from 'express';
import {
  createCredentialProvider,
  assumeRoleOnce,
  getCallerIdentity,
  validateRole,
  validateAccessKey,
  resolveStsEndpoint,
  sessionNameFrom,
  statusTextFor,
  CredentialsConfigError,
  StaticAccessKeyProvider,
  DefaultChainProvider,
  RefreshingCredentialProvider,
  type AnyProvider,
  type Credentials,
  type CredentialsMode,
  type RefreshFailedEvent,
  type RoleOptions,
} from '../../lib/credentials';
import { planCredentialTest, describeForeignError, reduceForeignResult, type StoredNode } from '../../lib/credentials/test-request';
import { jsonOnly } from '../../lib/admin-request';
import { redactUrl } from '../../lib/url-safety';

const TYPE = 'aliyun-credentials';
const MODES: CredentialsMode[] = ['accessKey', 'ramRole', 'defaultChain'];

export interface AliyunCredentialsConfig {
  name?: string;
  mode?: CredentialsMode;
  roleArn?: string;
  roleSessionName?: string;
  durationSeconds?: string | number;
  policy?: string;
  externalId?: string;
  region?: string;
  stsEndpoint?: string;
  /** Default-chain mode: assume `roleArn` with the chain's credentials. */
  chainRole?: boolean;
}

export interface AliyunCredentialsSecrets {
  accessKeyId?: string;
  accessKeySecret?: string;
}

/** What a user node learns about the credentials: fine, or the trouble in a few words. */
export interface CredentialsState {
  ok: boolean;
  /** True while older credentials are still valid and being used (a refresh failed): shown as a yellow ring. */
  degraded?: boolean;
  /** Short text for a node status, e.g. "STS: NoPermission". */
  text?: string;
  code?: string;
  /** Longer explanation (no secrets). */
  message?: string;
}

/** A node that uses the credentials; only `status` is needed. */
export interface CredentialsUser {
  id: string;
  status(s: NodeStatus): void;
}

/** The runtime face of the config node, for consumer nodes: `RED.nodes.getNode(id) as AliyunCredentialsNode`. */
export interface AliyunCredentialsNode extends Node<AliyunCredentialsSecrets> {
  /** Valid credentials (cached, refreshed before expiry). Rejects with a typed error that never holds a secret. */
  getCredentials(): Promise<Credentials>;
  /**
   * Registers a user node. Without `onChange`, trouble is shown as a ring status on the user ("STS: NoPermission"),
   * yellow while still-valid older credentials are used, red when there are none, and cleared when credentials work again; with `onChange`, the user decides how to show it.
   */
  register(user: CredentialsUser, onChange?: (state: CredentialsState) => void): void;
  deregister(user: CredentialsUser): void;
  /** Emits 'state' (CredentialsState) on every change between ok and trouble. */
  readonly credentialEvents: EventEmitter;
  readonly credentialsState: CredentialsState;
}

type Def = NodeDef & AliyunCredentialsConfig;

interface ResolvedInput {
  mode: CredentialsMode;
  accessKeyId?: string;
  accessKeySecret?: string;
  role?: RoleOptions;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const ENV_REF_ONE = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;

export default function (RED: NodeAPI): void {
  /** Where each running node sends its STS calls (env-substituted), for the Test endpoint's stored-secret rule. */
  const running = new Map<string, { node: Node; config: StoredNode['config'] }>();
  const util = RED.util as unknown as { getSetting?: (node: unknown, name: string) => string | undefined };

  /** `${VAR}` in a credential → its value (Node-RED substitutes only plain properties, never credentials). */
  function substituteEnv(value: string | undefined, field: string, node?: Node): string | undefined {
    if (value === undefined) return undefined;
    return value.replace(ENV_REF, (_m, name: string) => {
      const v = (node && util.getSetting ? util.getSetting(node, name) : undefined) ?? process.env[name];
      if (v === undefined || v === '') throw new CredentialsConfigError(field, `environment variable ${name} (used in ${field}) is not set`);
      return v;
    });
  }

  function resolveInput(cfg: AliyunCredentialsConfig, creds: AliyunCredentialsSecrets, nodeId: string, node?: Node): ResolvedInput {
    const mode = (cfg.mode || 'accessKey') as CredentialsMode;
    if (!MODES.includes(mode)) throw new CredentialsConfigError('mode', `unknown mode "${mode}"; choose AccessKey, RAM role or Default chain`);
    const out: ResolvedInput = { mode };
    if (mode !== 'defaultChain') {
      out.accessKeyId = substituteEnv(creds.accessKeyId, 'accessKeyId', node);
      out.accessKeySecret = substituteEnv(creds.accessKeySecret, 'accessKeySecret', node);
    }
    if (mode === 'ramRole' || (mode === 'defaultChain' && cfg.chainRole)) {
      out.role = {
        roleArn: cfg.roleArn ?? '',
        roleSessionName: cfg.roleSessionName || sessionNameFrom(nodeId),
        durationSeconds: cfg.durationSeconds === '' ? undefined : cfg.durationSeconds,
        policy: cfg.policy,
        externalId: cfg.externalId,
        region: cfg.region,
        stsEndpoint: cfg.stsEndpoint,
      };
    }
    return out;
  }

  function AliyunCredentials(this: AliyunCredentialsNode, def: Def): void {
    RED.nodes.createNode(this, def);
    running.set(this.id, { node: this, config: { mode: def.mode, region: def.region, stsEndpoint: def.stsEndpoint, rawStsEndpoint: rawStsEndpoint(this.id) } });
    // The closures below (provider events, admin-facing methods) run outside the constructor's `this`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const events = new EventEmitter();
    const users = new Map<string, { user: CredentialsUser; onChange?: (s: CredentialsState) => void }>();
    let state: CredentialsState = { ok: true };
    let provider: AnyProvider | undefined;
    let configError: Error | undefined;
    let lastWarned: string | undefined;

    const ring = (st: CredentialsState): NodeStatus => ({ fill: st.degraded ? 'yellow' : 'red', shape: 'ring', text: st.text });
    const publish = (next: CredentialsState) => {
      if (next.ok === state.ok && next.text === state.text && next.degraded === state.degraded) return;
      const wasTrouble = !state.ok;
      state = next;
      events.emit('state', next);
      for (const { user, onChange } of users.values()) {
        if (onChange) onChange(next);
        else if (!next.ok) user.status(ring(next));
        else if (wasTrouble) user.status({});
      }
    };
    const trouble = (err: unknown, degraded = false) => {
      const text = statusTextFor(err);
      const message = err instanceof Error ? err.message : String(err);
      const code = (err as { code?: string })?.code;
      if (text !== lastWarned) {
        lastWarned = text;
        node.warn(`${RED._(`${TYPE}.errors.trouble`)}: ${message}`);
      }
      publish({ ok: false, degraded, text, code, message });
    };

    try {
      const input = resolveInput(def, node.credentials ?? {}, node.id, node);
      provider = createCredentialProvider({ ...input, refresh: { proactive: true } });
      if (provider instanceof RefreshingCredentialProvider) {
        provider.on('refresh-failed', (ev: RefreshFailedEvent) => trouble(ev.error, ev.servingCached));
        provider.on('expired', (e: Error) => trouble(e));
        provider.on('refreshed', () => {
          if (!state.ok) node.log(RED._(`${TYPE}.log.recovered`));
          lastWarned = undefined;
          publish({ ok: true });
        });
      }
    } catch (err) {
      configError = err instanceof Error ? err : new Error(String(err));
      node.error(`${RED._(`${TYPE}.errors.config`)}: ${configError.message}`);
      state = { ok: false, text: statusTextFor(configError), code: (configError as { code?: string }).code, message: configError.message };
    }

    node.getCredentials = async () => {
      if (configError) throw configError;
      try {
        const c = await (provider as AnyProvider).getCredentials();
        if (!state.ok && !(provider instanceof RefreshingCredentialProvider)) publish({ ok: true });
        return c;
      } catch (err) {
        trouble(err);
        throw err;
      }
    };
    node.register = (user, onChange) => {
      users.set(user.id, { user, onChange });
      if (!state.ok) {
        if (onChange) onChange(state);
        else user.status(ring(state));
      }
    };
    node.deregister = (user) => {
      users.delete(user.id);
    };
    Object.defineProperty(node, 'credentialEvents', { value: events });
    Object.defineProperty(node, 'credentialsState', { get: () => state });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (provider instanceof RefreshingCredentialProvider) provider.close();
      if (running.get(node.id)?.node === node) running.delete(node.id);
      events.removeAllListeners();
      users.clear();
      done();
    });
  }

  RED.nodes.registerType<AliyunCredentialsNode, Def, unknown, AliyunCredentialsSecrets>(TYPE, AliyunCredentials, {
    credentials: { accessKeyId: { type: 'text' }, accessKeySecret: { type: 'password' } },
  });

  /** The stsEndpoint of the deployed flow configuration, as typed (it may be a ${VAR} the editor shows as such). */
  function rawStsEndpoint(id: string): string | undefined {
    let raw: string | undefined;
    RED.nodes.eachNode((n: { id: string; stsEndpoint?: unknown }) => {
      if (n.id === id && typeof n.stsEndpoint === 'string') raw = n.stsEndpoint;
    });
    return raw;
  }

  // "Test credentials" from the editor: JSON only (415 otherwise, so no cross-site form can post it). A secret the
  // request does not bring itself (stored, ${VAR}, default chain) is only sent to the deployed node's endpoint: see
  // lib/credentials/test-request.ts for the rules.
  RED.httpAdmin.post(`/${TYPE}/test`, RED.auth.needsPermission(`${TYPE}.write`), jsonOnly, (req: Request, res: Response) => {
    const raw: unknown = req.body;
    const body = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
    const id = typeof body.id === 'string' ? body.id : '';
    const mine = id ? running.get(id) : undefined;
    const stored: StoredNode | undefined = mine
      ? { config: mine.config, secrets: (RED.nodes.getCredentials(id) as AliyunCredentialsSecrets | undefined) ?? {} }
      : undefined;
    const plan = planCredentialTest(body, stored);
    if (plan.refused) {
      res.status(plan.refused.status).json({ ok: false, ...plan.refused });
      return;
    }
    const hide = [plan.secrets.accessKeySecret, stored?.secrets.accessKeySecret];
    const reply = (result: Record<string, unknown>) => {
      let text = JSON.stringify(result);
      for (const s of hide) if (s && s.length >= 4) text = text.split(JSON.stringify(s).slice(1, -1)).join('***');
      res.type('application/json').send(text);
    };
    const cfg: AliyunCredentialsConfig = { ...(body as AliyunCredentialsConfig), ...plan.fields, mode: plan.fields.mode as CredentialsMode | undefined };
    runTest(cfg, plan.secrets, id || 'editor-test', mine?.node).then(
      (ok) => {
        hide.push(...ok.hide);
        const result = { ok: true, ...ok.result };
        reply(plan.foreign ? reduceForeignResult(result) : result);
      },
      (err: unknown) => {
        if (plan.foreign) {
          reply({ ok: false, ...describeForeignError(err, String(cfg.stsEndpoint ?? '')) });
          return;
        }
        const e = err as { code?: string; message?: string; requestId?: string; field?: string };
        reply({ ok: false, code: e.code ?? 'Error', message: e.message ?? String(err), requestId: e.requestId, field: e.field });
      },
    );
  });

  async function runTest(cfg: AliyunCredentialsConfig, secrets: AliyunCredentialsSecrets, nodeId: string, node?: Node): Promise<{ result: Record<string, unknown>; hide: string[] }> {
    const input = resolveInput(cfg, secrets, nodeId, node);
    const hide = [input.accessKeySecret ?? ''];
    let source: StaticAccessKeyProvider | DefaultChainProvider;
    let sourceInfo: Record<string, unknown>;
    if (input.mode === 'defaultChain') {
      const chain = new DefaultChainProvider();
      const c = await chain.getCredentials();
      hide.push(c.accessKeySecret, c.securityToken ?? '');
      sourceInfo = { provider: chain.providerName, accessKeyId: c.accessKeyId };
      source = chain;
    } else {
      const key = validateAccessKey(input.accessKeyId, input.accessKeySecret);
      source = new StaticAccessKeyProvider(key.accessKeyId, key.accessKeySecret);
      // A key ID read from ${VAR} is shown as typed: the answer never reveals an environment variable's value.
      const typedId = secrets.accessKeyId ?? '';
      sourceInfo = { accessKeyId: ENV_REF_ONE.test(typedId) ? typedId : key.accessKeyId };
    }
    if (input.role) {
      const role = validateRole(input.role);
      const r = await assumeRoleOnce(source, role);
      hide.push(r.credentials.accessKeySecret, r.credentials.securityToken);
      return { result: { mode: input.mode, ...sourceInfo, verified: true, assumedRoleArn: r.assumedRoleArn, expiration: r.credentials.expiration.toISOString(), requestId: r.requestId, endpoint: redactUrl(role.endpoint) }, hide };
    }
    if (cfg.stsEndpoint) {
      const endpoint = resolveStsEndpoint(cfg.stsEndpoint, cfg.region);
      const who = await getCallerIdentity({ endpoint }, await source.getCredentials());
      return { result: { mode: input.mode, ...sourceInfo, verified: true, identityArn: who.arn, accountId: who.accountId, requestId: who.requestId, endpoint: redactUrl(endpoint) }, hide };
    }
    return { result: { mode: input.mode, ...sourceInfo, verified: false, note: RED._(`${TYPE}.test.not-verified`) }, hide };
  }
}
