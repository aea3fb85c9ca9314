// The rules of the editor's "Test credentials" request, apart from Node-RED so they can be tested on their own.
//
// A secret the request does not bring itself — the stored secret of a deployed node (the editor sends an empty field
// or its placeholder), a `${VAR}` read from the server's environment, or the default chain's credentials — is only
// ever used to sign a call to the endpoint the deployed node is configured with, or (when no node is deployed) to an
// Alibaba Cloud STS endpoint derived from the region. A request that names another endpoint must bring its own
// AccessKey ID and secret. So the test can never be used to make the server sign something for a host of the
// caller's choice with a secret the caller does not have.
//
// Answers from an endpoint that came from the request itself ("foreign") are reduced to what a real STS answer holds
// in a known shape (code, request ID, ARNs, STS's own message); anything else that host sent is never quoted back.
import { PopError } from '../pop/errors';
import { CredentialsConfigError, StsError } from './errors';
import { resolveStsEndpoint } from './validate';
import { redactUrl } from '../url-safety';

/** What the Node-RED editor puts in a password field it did not receive (the secret was not retyped). */
export const PASSWORD_PLACEHOLDER = '__PWRD__';
const ENV_REF = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;

/** The fields of a test request (and of a deployed node's configuration) that decide where a call goes. */
export interface TestRequestFields {
  mode?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  roleArn?: string;
  region?: string;
  stsEndpoint?: string;
  chainRole?: boolean;
}

/** The deployed node a request refers to by id: its configuration (env-substituted) and stored credentials. */
export interface StoredNode {
  /** `stsEndpoint` as the node runs it (after `${VAR}` substitution); `rawStsEndpoint` as the editor shows it. */
  config: { mode?: string; region?: string; stsEndpoint?: string; rawStsEndpoint?: string };
  secrets: { accessKeyId?: string; accessKeySecret?: string };
}

export type TestPlan =
  | {
      refused?: undefined;
      /** The fields to test with: the request's, with the endpoint pinned to the stored one where a server-held secret is used. */
      fields: TestRequestFields;
      secrets: { accessKeyId?: string; accessKeySecret?: string };
      /** True when the endpoint came from the request (answers from it are reduced to their STS shape). */
      foreign: boolean;
    }
  | { refused: { status: 400; code: string; field: string; message: string } };

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Whether the test would call STS at all (a role to assume, or an endpoint to verify the key against). */
function callsSts(f: TestRequestFields): boolean {
  const mode = f.mode || 'accessKey';
  const role = mode === 'ramRole' || (mode === 'defaultChain' && f.chainRole === true);
  return role || Boolean((f.stsEndpoint ?? '').trim());
}

/** Endpoint a set of fields resolves to, or undefined when they do not resolve (the test itself then reports why). */
function endpointOf(f: { stsEndpoint?: string; region?: string }): string | undefined {
  try {
    return resolveStsEndpoint(f.stsEndpoint, f.region);
  } catch {
    return undefined;
  }
}

/** Whether the request's endpoint fields name the deployed node's endpoint (resolved, or as typed with `${VAR}`). */
function sameEndpoint(f: TestRequestFields, config: StoredNode['config']): boolean {
  const mine = endpointOf(config);
  if (mine !== undefined && endpointOf(f) === mine) return true;
  const typed = (f.stsEndpoint ?? '').trim();
  return typed !== '' && typed === (config.rawStsEndpoint ?? '').trim();
}

/**
 * Decides which secret and which endpoint a test request uses. `stored` is the deployed node named by the request's
 * `id`, if any. Never throws; a refusal carries the message for a 400 answer.
 */
export function planCredentialTest(body: Record<string, unknown>, stored: StoredNode | undefined): TestPlan {
  const fields: TestRequestFields = {
    mode: str(body.mode),
    accessKeyId: str(body.accessKeyId),
    accessKeySecret: str(body.accessKeySecret),
    roleArn: str(body.roleArn),
    region: str(body.region),
    stsEndpoint: str(body.stsEndpoint),
    chainRole: body.chainRole === true,
  };
  const chain = (fields.mode || 'accessKey') === 'defaultChain';
  const typed = fields.accessKeySecret;
  const fromStore = !chain && (!typed || typed === PASSWORD_PLACEHOLDER);
  const fromEnv = !chain && (ENV_REF.test(typed ?? '') || ENV_REF.test(fields.accessKeyId ?? ''));
  const serverHeld = chain || fromStore || fromEnv;

  if (!serverHeld) {
    // The request brings its own key: it may go anywhere, but nothing stored is added to it.
    const own = { accessKeyId: fields.accessKeyId, accessKeySecret: typed };
    if (stored && sameEndpoint(fields, stored.config)) {
      return { fields: { ...fields, stsEndpoint: stored.config.stsEndpoint, region: stored.config.region }, secrets: own, foreign: false };
    }
    const custom = Boolean((fields.stsEndpoint ?? '').trim());
    return { fields, secrets: own, foreign: custom && callsSts(fields) };
  }

  const secrets = {
    accessKeyId: fields.accessKeyId || (fromStore ? stored?.secrets.accessKeyId : undefined),
    accessKeySecret: fromStore ? stored?.secrets.accessKeySecret : typed,
  };
  const what = chain ? 'the default credential chain' : fromStore ? 'the stored AccessKey secret' : 'a ${VAR} from the server environment';
  if (stored) {
    // Pinned to the deployed node's endpoint: the request may change the role and its options, not where it goes.
    const pinned = { ...fields, stsEndpoint: stored.config.stsEndpoint, region: stored.config.region };
    if (callsSts(fields) && !sameEndpoint(fields, stored.config)) {
      return {
        refused: {
          status: 400,
          code: 'EndpointNeedsOwnSecret',
          field: 'stsEndpoint',
          message: `the STS endpoint or region differs from the deployed node's, and the test would use ${what}, which is only ever sent to the deployed endpoint: type the AccessKey ID and secret to test another endpoint, or deploy first and test again`,
        },
      };
    }
    return { fields: pinned, secrets, foreign: false };
  }
  if (fromStore && !fromEnv) {
    // No deployed node, so nothing stored: the test stops at "the AccessKey secret is empty" before any call.
    return { fields, secrets: { accessKeyId: fields.accessKeyId, accessKeySecret: undefined }, foreign: false };
  }
  if (callsSts(fields) && (fields.stsEndpoint ?? '').trim()) {
    return {
      refused: {
        status: 400,
        code: 'EndpointNeedsOwnSecret',
        field: 'stsEndpoint',
        message: `a custom STS endpoint is tested with ${what} only after the node is deployed (it is then sent to the deployed endpoint only): type the AccessKey ID and secret themselves, or leave the STS endpoint empty to use Alibaba Cloud's STS for the region`,
      },
    };
  }
  return { fields, secrets, foreign: false };
}

const CODE_RE = /^[A-Za-z][A-Za-z0-9._-]{0,79}$/;
const REQUEST_ID_RE = /^[0-9A-Za-z-]{8,64}$/;
const ARN_RE = /^acs:ram::\d{0,32}:[A-Za-z0-9.@_:/-]{1,300}$/;
const ACCOUNT_RE = /^\d{1,32}$/;
const MAX_STS_MESSAGE = 400;

/** The success fields a foreign endpoint may show: those in the shape STS gives them; anything else is left out. */
export function reduceForeignResult(result: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(result)) {
    if (v === undefined) continue;
    if (k === 'assumedRoleArn' || k === 'identityArn') {
      if (typeof v === 'string' && ARN_RE.test(v)) out[k] = v;
    } else if (k === 'requestId') {
      if (typeof v === 'string' && REQUEST_ID_RE.test(v)) out[k] = v;
    } else if (k === 'accountId') {
      if (typeof v === 'string' && ACCOUNT_RE.test(v)) out[k] = v;
    } else if (k === 'endpoint') {
      out[k] = redactUrl(String(v));
    } else {
      // Our own values (mode, accessKeyId from the request, verified, expiration as an ISO date, provider).
      out[k] = v;
    }
  }
  return out;
}

/**
 * The error answer for a call to a foreign endpoint: STS's code, message and request ID when the host answered like
 * STS (JSON with a Code and a RequestId of STS's shape); otherwise only the HTTP status or transport failure, in our
 * words, and nothing of the body.
 */
export function describeForeignError(err: unknown, endpoint: string): { code: string; message: string; requestId?: string; field?: string } {
  if (err instanceof CredentialsConfigError) return { code: err.code, message: err.message, field: err.field };
  if (!(err instanceof PopError)) return { code: 'Error', message: 'the test failed' };
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    origin = 'the endpoint';
  }
  const action = err instanceof StsError ? err.action : 'call';
  const stsShaped = err.status !== undefined && typeof err.requestId === 'string' && REQUEST_ID_RE.test(err.requestId) && CODE_RE.test(err.code) && err.code !== 'InvalidResponse';
  if (stsShaped) {
    const message = err.message.length > MAX_STS_MESSAGE ? `${err.message.slice(0, MAX_STS_MESSAGE)}…` : err.message;
    return { code: err.code, message, requestId: err.requestId };
  }
  if (err.status === undefined) {
    // No answer at all (refused, timed out, cut off): our own words, which name only the origin.
    const code = CODE_RE.test(err.code) ? err.code : 'NetworkError';
    return { code, message: `STS ${action} failed: ${code} (no usable answer from ${origin})` };
  }
  return {
    code: 'InvalidResponse',
    message: `STS ${action} failed: HTTP ${err.status} from ${origin}, which is not an STS answer (its body is not shown) — check the STS endpoint`,
  };
}
