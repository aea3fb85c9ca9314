// Typed credential errors. Their messages name what to fix and never contain a secret or a token.
import { PopError } from '../pop/errors';

/** A configuration value is missing or malformed; `field` names it (e.g. "roleSessionName"). */
export class CredentialsConfigError extends Error {
  readonly code = 'InvalidConfig';
  readonly field: string;
  readonly retryable = false;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'CredentialsConfigError';
    this.field = field;
  }
}

/** The cached STS credentials expired and refreshing them failed; `cause` is the last refresh error. */
export class CredentialsExpiredError extends Error {
  readonly code = 'CredentialsExpired';
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialsExpiredError';
  }
}

/** Plain words for the STS answers users meet most, keyed by STS code (prefix match for families). */
const HINTS: [string, string][] = [
  ['SignatureDoesNotMatch', 'the AccessKey secret does not match the AccessKey ID — check it'],
  ['InvalidAccessKeyId.NotFound', 'STS does not know this AccessKey ID — check it (it may be deleted, or belong to another site such as the international vs China site)'],
  ['InvalidAccessKeyId.Inactive', 'this AccessKey is disabled — enable it in the RAM console or use another one'],
  ['NoPermission', 'the caller may not assume this role — grant it sts:AssumeRole and make the role trust it (root-account keys can never assume roles)'],
  ['EntityNotExist.Role', 'no role with this ARN exists — check the account ID and role name'],
  ['InvalidParameter.RoleSessionName', 'the session name must be 2–64 characters of A-Z a-z 0-9 . @ _ -'],
  ['InvalidParameter.DurationSeconds', "the duration must be at least 900 s and at most the role's maximum session duration"],
  ['InvalidParameter.PolicyGrammar', 'the policy is not a valid RAM policy document'],
  ['InvalidParameter.ExternalId', 'the external ID does not match what the role requires'],
  ['InvalidParameter', 'STS rejected a parameter'],
  ['MissingParameter', 'a required parameter is missing'],
  ['Throttling', 'STS is throttling requests — will retry later'],
  ['InvalidTimeStamp', "this machine's clock is off — fix the system time (NTP)"],
  ['InvalidSecurityToken', 'the source credentials expired'],
  ['MissingSecurityToken', 'the source credentials are STS credentials but no security token was sent'],
  ['InternalError', 'STS had an internal error — will retry later'],
  ['ServiceUnavailable', 'STS is unavailable — will retry later'],
  ['NetworkError', 'cannot reach the STS endpoint — check the endpoint URL and the network'],
  ['Timeout', 'the STS endpoint did not answer in time'],
];

function hintFor(code: string, secretMismatch?: boolean): string | undefined {
  if (code === 'SignatureDoesNotMatch' && secretMismatch === false) {
    return 'STS computed a different signature for the same secret — the request was altered on the way (proxy?) or the endpoint is not STS';
  }
  for (const [prefix, hint] of HINTS) if (code === prefix || code.startsWith(prefix + '.') || (prefix === 'Throttling' && code.startsWith(prefix))) return hint;
  return undefined;
}

/** An STS call failed: `code`, `requestId`, `status` are STS's; `message` is readable and says what to fix. */
export class StsError extends PopError {
  /** STS's own message text (scrubbed of anything secret). */
  readonly stsMessage: string;
  readonly action: string;
  constructor(action: string, err: PopError) {
    const hint = hintFor(err.code, err.secretMismatch);
    const parts = [`STS ${action} failed: ${err.code}`];
    if (hint) parts.push(`— ${hint}`);
    // "STS: …" only for words STS itself sent (it answered with JSON); transport trouble is described as it is.
    const fromSts = err.status !== undefined && err.requestId !== undefined;
    if (err.message && !(hint && err.code === 'SignatureDoesNotMatch')) parts.push(fromSts ? `(STS: ${err.message})` : `(${err.message})`);
    if (err.requestId) parts.push(`[RequestId ${err.requestId}]`);
    super({ ...err, message: parts.join(' '), code: err.code, retryable: err.retryable }, { cause: undefined });
    this.name = 'StsError';
    this.stsMessage = err.message;
    this.action = action;
  }
}

/** Short status text for a node ("STS: NoPermission", "credentials expired"). */
export function statusTextFor(err: unknown): string {
  if (err instanceof StsError) return `STS: ${err.code}`;
  if (err instanceof CredentialsExpiredError) {
    const c = err.cause;
    return c instanceof StsError ? `expired, STS: ${c.code}` : 'credentials expired';
  }
  if (err instanceof CredentialsConfigError) return `config: ${err.field}`;
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') return `credentials: ${(err as { code: string }).code}`;
  return 'credentials error';
}
