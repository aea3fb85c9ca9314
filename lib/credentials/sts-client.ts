// Our own STS client (AssumeRole, GetCallerIdentity) over the shared RPC caller. Spec §9.
import { callRpc, type RpcCredentials } from '../pop/rpc';
import { PopError } from '../pop/errors';
import { StsError } from './errors';
import type { Credentials } from './types';

export const STS_VERSION = '2015-04-01';

export interface AssumeRoleParams {
  roleArn: string;
  roleSessionName: string;
  durationSeconds?: number;
  policy?: string;
  externalId?: string;
}

export interface AssumeRoleResult {
  credentials: Credentials & { securityToken: string; expiration: Date };
  assumedRoleArn: string;
  assumedRoleId?: string;
  requestId?: string;
}

export interface CallerIdentity {
  accountId?: string;
  arn?: string;
  identityType?: string;
  userId?: string;
  requestId?: string;
}

export interface StsClientOptions {
  /** Full URL, e.g. https://sts.cn-shanghai.aliyuncs.com or http://127.0.0.1:9000 */
  endpoint: string;
  timeoutMs?: number;
}

async function call<T>(opts: StsClientOptions, action: string, caller: RpcCredentials, params: Record<string, string | number | undefined>): Promise<{ body: T; requestId?: string }> {
  try {
    return await callRpc<T>({ endpoint: opts.endpoint, action, version: STS_VERSION, params, credentials: caller, method: 'POST', timeoutMs: opts.timeoutMs });
  } catch (e) {
    if (e instanceof PopError) throw new StsError(action, e);
    throw e;
  }
}

function invalidAnswer(action: string, why: string, requestId?: string): StsError {
  return new StsError(action, new PopError({ code: 'InvalidResponse', message: why, requestId, retryable: true }));
}

export async function assumeRole(opts: StsClientOptions, caller: RpcCredentials, p: AssumeRoleParams): Promise<AssumeRoleResult> {
  const { body, requestId } = await call<{
    AssumedRoleUser?: { Arn?: string; AssumedRoleId?: string };
    Credentials?: { AccessKeyId?: string; AccessKeySecret?: string; SecurityToken?: string; Expiration?: string };
  }>(opts, 'AssumeRole', caller, {
    RoleArn: p.roleArn,
    RoleSessionName: p.roleSessionName,
    DurationSeconds: p.durationSeconds,
    Policy: p.policy,
    ExternalId: p.externalId,
  });
  const c = body.Credentials;
  if (!c || !c.AccessKeyId || !c.AccessKeySecret || !c.SecurityToken || !c.Expiration) {
    throw invalidAnswer('AssumeRole', 'the answer has no complete Credentials object', requestId);
  }
  const expiration = new Date(c.Expiration);
  if (Number.isNaN(expiration.getTime())) throw invalidAnswer('AssumeRole', `Expiration "${c.Expiration}" is not a date`, requestId);
  return {
    credentials: { accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken, expiration },
    assumedRoleArn: body.AssumedRoleUser?.Arn ?? `${p.roleArn}/${p.roleSessionName}`,
    assumedRoleId: body.AssumedRoleUser?.AssumedRoleId,
    requestId,
  };
}

export async function getCallerIdentity(opts: StsClientOptions, caller: RpcCredentials): Promise<CallerIdentity> {
  const { body, requestId } = await call<{ AccountId?: string; Arn?: string; IdentityType?: string; UserId?: string }>(opts, 'GetCallerIdentity', caller, {});
  return { accountId: body.AccountId, arn: body.Arn, identityType: body.IdentityType, userId: body.UserId, requestId };
}
