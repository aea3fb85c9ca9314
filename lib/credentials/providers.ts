// The credential providers: static AccessKey, AssumeRole (own STS client), and the default chain of
// @alicloud/credentials — each returned behind the same cache/single-flight layer where it can expire.
import type { CredentialProvider, Credentials } from './types';
import { RefreshingCredentialProvider, type RefreshPolicy } from './refreshing';
import { assumeRole, type AssumeRoleResult } from './sts-client';
import { CredentialsConfigError } from './errors';
import {
  validateAccessKey,
  validateRoleArn,
  validateSessionName,
  validateDuration,
  validatePolicy,
  validateExternalId,
  resolveStsEndpoint,
} from './validate';

export class StaticAccessKeyProvider implements CredentialProvider {
  private readonly creds: Credentials;
  constructor(accessKeyId: string | undefined, accessKeySecret: string | undefined) {
    this.creds = validateAccessKey(accessKeyId, accessKeySecret);
  }
  async getCredentials(): Promise<Credentials> {
    return { ...this.creds };
  }
}

export interface RoleOptions {
  roleArn: string;
  roleSessionName: string;
  durationSeconds?: number | string;
  policy?: string;
  externalId?: string;
  region?: string;
  /** Full http(s):// URL; default https://sts.<region>.aliyuncs.com (or sts.aliyuncs.com without a region). */
  stsEndpoint?: string;
  timeoutMs?: number;
}

export interface ValidatedRole {
  roleArn: string;
  roleSessionName: string;
  durationSeconds: number;
  policy?: string;
  externalId?: string;
  endpoint: string;
  timeoutMs?: number;
}

export function validateRole(o: RoleOptions): ValidatedRole {
  return {
    roleArn: validateRoleArn(o.roleArn),
    roleSessionName: validateSessionName(o.roleSessionName),
    durationSeconds: validateDuration(o.durationSeconds),
    policy: validatePolicy(o.policy),
    externalId: validateExternalId(o.externalId),
    endpoint: resolveStsEndpoint(o.stsEndpoint, o.region),
    timeoutMs: o.timeoutMs,
  };
}

/** One AssumeRole call with the given source credentials (no caching). */
export async function assumeRoleOnce(source: CredentialProvider, role: ValidatedRole): Promise<AssumeRoleResult> {
  const caller = await source.getCredentials();
  return assumeRole({ endpoint: role.endpoint, timeoutMs: role.timeoutMs }, caller, role);
}

/** AssumeRole with caching, refresh at the §9.7 threshold and single-flight. */
export class AssumeRoleProvider extends RefreshingCredentialProvider {
  readonly role: ValidatedRole;
  /** ARN of the assumed session after the last successful refresh. */
  assumedRoleArn?: string;
  constructor(source: CredentialProvider, options: RoleOptions, policy?: RefreshPolicy) {
    const role = validateRole(options);
    super(async () => {
      const r = await assumeRoleOnce(source, role);
      this.assumedRoleArn = r.assumedRoleArn;
      return r.credentials;
    }, policy);
    this.role = role;
  }
}

/** Minimal shape of @alicloud/credentials' provider API that we use. */
interface SdkProvider {
  getCredentials(): Promise<{ accessKeyId: string; accessKeySecret: string; securityToken?: string; providerName?: string }>;
  getProviderName(): string;
}

/**
 * The default chain of @alicloud/credentials (env vars, OIDC, CLI profile, credentials file, ECS RAM role,
 * credentials URI). The SDK gives no expiry, so results are reused for `noExpiryTtlMs` (the SDK caches and
 * refreshes its sessions itself); concurrent callers share one lookup.
 */
export class DefaultChainProvider extends RefreshingCredentialProvider {
  /** Name of the chain member that answered last, e.g. "default/env". */
  providerName?: string;
  constructor(policy?: RefreshPolicy, sdk?: SdkProvider) {
    let chain = sdk;
    super(async () => {
      if (!chain) {
        // Loaded lazily: the SDK reads files and env vars when built.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require('@alicloud/credentials') as { DefaultCredentialsProvider: { builder(): { build(): SdkProvider } } };
        chain = mod.DefaultCredentialsProvider.builder().build();
      }
      let c;
      try {
        c = await chain.getCredentials();
      } catch (e) {
        // The SDK's texts list what it tried; they contain no secrets, but keep them short.
        const msg = String((e as Error).message ?? e).slice(0, 500);
        throw new CredentialsConfigError('defaultChain', `no credentials found by the default chain (env vars ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, ~/.alibabacloud/credentials, ~/.aliyun/config.json, ECS RAM role, OIDC): ${msg}`);
      }
      this.providerName = c.providerName ?? chain.getProviderName();
      return { accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, securityToken: c.securityToken || undefined };
    }, { noExpiryTtlMs: 60_000, ...policy });
  }
}

export type CredentialsMode = 'accessKey' | 'ramRole' | 'defaultChain';

export interface CreateProviderOptions {
  mode: CredentialsMode;
  accessKeyId?: string;
  accessKeySecret?: string;
  /** Required for ramRole; optional for defaultChain (then the chain's credentials assume it). */
  role?: RoleOptions;
  refresh?: RefreshPolicy;
}

export type AnyProvider = StaticAccessKeyProvider | AssumeRoleProvider | DefaultChainProvider;

/** Builds the provider for a mode; throws CredentialsConfigError when the configuration is incomplete. */
export function createCredentialProvider(o: CreateProviderOptions): AnyProvider {
  switch (o.mode) {
    case 'accessKey':
      return new StaticAccessKeyProvider(o.accessKeyId, o.accessKeySecret);
    case 'ramRole': {
      if (!o.role) throw new CredentialsConfigError('roleArn', 'RAM role mode needs a role ARN');
      return new AssumeRoleProvider(new StaticAccessKeyProvider(o.accessKeyId, o.accessKeySecret), o.role, o.refresh);
    }
    case 'defaultChain': {
      const chain = new DefaultChainProvider(o.refresh);
      return o.role ? new AssumeRoleProvider(chain, o.role, o.refresh) : chain;
    }
    default:
      throw new CredentialsConfigError('mode', `unknown credentials mode "${String(o.mode)}"; use accessKey, ramRole or defaultChain`);
  }
}
