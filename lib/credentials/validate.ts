// Checks of AssumeRole inputs, done before any request so users get a message that says what to fix.
import { CredentialsConfigError } from './errors';
import { redactUrl, refuseUserInfo } from '../url-safety';

export const ROLE_ARN_RE = /^acs:ram::(\d+):role\/([A-Za-z0-9.@_\-/]+)$/;
export const SESSION_NAME_RE = /^[A-Za-z0-9.@_-]{2,64}$/;
export const ACCESS_KEY_ID_RE = /^[A-Za-z0-9.]{8,128}$/;
export const MIN_DURATION_SECONDS = 900;
export const MAX_DURATION_SECONDS = 43200;
export const MAX_POLICY_LENGTH = 2048;

export function validateRoleArn(roleArn: string | undefined): string {
  const v = (roleArn ?? '').trim();
  if (!v) throw new CredentialsConfigError('roleArn', 'role ARN is required, e.g. acs:ram::1234567890123456:role/iot-mns-writer');
  if (!ROLE_ARN_RE.test(v)) {
    throw new CredentialsConfigError('roleArn', `role ARN "${v}" is not of the form acs:ram::<account ID>:role/<role name>`);
  }
  return v;
}

export function validateSessionName(name: string | undefined): string {
  const v = name ?? '';
  if (!SESSION_NAME_RE.test(v)) {
    const why = v.length < 2 || v.length > 64 ? `has ${v.length} characters` : 'contains a character other than A-Z a-z 0-9 . @ _ -';
    throw new CredentialsConfigError('roleSessionName', `session name "${v}" ${why}; use 2–64 characters of A-Z a-z 0-9 . @ _ -`);
  }
  return v;
}

/** Makes a valid session name from anything (e.g. a Node-RED node id). */
export function sessionNameFrom(seed: string): string {
  const cleaned = `node-red-${seed}`.replace(/[^A-Za-z0-9.@_-]/g, '-');
  return cleaned.slice(0, 64);
}

export function validateDuration(seconds: number | string | undefined): number {
  if (seconds === undefined || seconds === '') return 3600;
  const n = typeof seconds === 'number' ? seconds : Number(seconds);
  if (!Number.isInteger(n) || n < MIN_DURATION_SECONDS || n > MAX_DURATION_SECONDS) {
    throw new CredentialsConfigError(
      'durationSeconds',
      `duration "${seconds}" must be a whole number of seconds from ${MIN_DURATION_SECONDS} to the role's maximum (at most ${MAX_DURATION_SECONDS}); default 3600`,
    );
  }
  return n;
}

export function validatePolicy(policy: string | undefined): string | undefined {
  if (policy === undefined || policy.trim() === '') return undefined;
  if (policy.length > MAX_POLICY_LENGTH) {
    throw new CredentialsConfigError('policy', `policy has ${policy.length} characters; STS accepts at most ${MAX_POLICY_LENGTH}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(policy);
  } catch (e) {
    throw new CredentialsConfigError('policy', `policy is not valid JSON: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CredentialsConfigError('policy', 'policy must be a JSON object like {"Version":"1","Statement":[...]}');
  }
  return policy;
}

export function validateExternalId(externalId: string | undefined): string | undefined {
  if (externalId === undefined || externalId === '') return undefined;
  if (!/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
    throw new CredentialsConfigError('externalId', 'external ID must be 2–1224 characters of letters, digits and + = , . @ : / - _');
  }
  return externalId;
}

export function validateAccessKey(accessKeyId: string | undefined, accessKeySecret: string | undefined): { accessKeyId: string; accessKeySecret: string } {
  const id = (accessKeyId ?? '').trim();
  const secret = accessKeySecret ?? '';
  if (!id) throw new CredentialsConfigError('accessKeyId', 'AccessKey ID is empty — enter it, or ${ENV_VAR} to read it from the environment');
  if (!ACCESS_KEY_ID_RE.test(id)) throw new CredentialsConfigError('accessKeyId', 'AccessKey ID has unexpected characters (letters, digits and "." only) — check for spaces or a pasted secret');
  if (!secret) throw new CredentialsConfigError('accessKeySecret', 'AccessKey secret is empty — enter it, or ${ENV_VAR} to read it from the environment');
  if (/\s/.test(secret)) throw new CredentialsConfigError('accessKeySecret', 'AccessKey secret contains white space — check the pasted value');
  return { accessKeyId: id, accessKeySecret: secret };
}

/** `https://sts.<region>.aliyuncs.com`, or the given endpoint after checking it is an http(s) URL. */
export function resolveStsEndpoint(endpoint: string | undefined, region: string | undefined): string {
  const e = (endpoint ?? '').trim();
  if (e) {
    refuseUserInfo(e, 'the STS endpoint', 'STS calls are signed with the AccessKey above', (m) => new CredentialsConfigError('stsEndpoint', m));
    let u: URL;
    try {
      u = new URL(e);
    } catch {
      throw new CredentialsConfigError('stsEndpoint', `STS endpoint "${redactUrl(e)}" is not a URL; write it in full, e.g. https://sts.cn-shanghai.aliyuncs.com`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CredentialsConfigError('stsEndpoint', 'STS endpoint must start with http:// or https://');
    return e.replace(/\/+$/, '');
  }
  const r = (region ?? '').trim();
  if (!r) return 'https://sts.aliyuncs.com';
  if (!/^[a-z0-9-]+$/.test(r)) throw new CredentialsConfigError('region', `region "${r}" is not a region ID like cn-shanghai`);
  return `https://sts.${r}.aliyuncs.com`;
}
