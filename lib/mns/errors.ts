// One typed error for every MNS failure, and the retry classification of spec §7.2.

/** Where the failure came from: MNS answered with a code, the HTTP exchange broke, or we refused locally. */
export type MnsErrorSource = 'mns' | 'http' | 'network' | 'local';

export interface MnsErrorInit {
  code: string;
  /** HTTP status; 0 when no response arrived (network error, timeout) or the error is local. */
  status: number;
  message: string;
  requestId?: string;
  retryable?: boolean;
  source: MnsErrorSource;
  /** An auth error that a fresh set of credentials may cure (expired/rotated STS token). */
  credentialsSuspect?: boolean;
  cause?: unknown;
}

/** Codes that are worth retrying with backoff (spec §7.2). */
const RETRYABLE_CODES = new Set([
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
  'BadGateway',
  'GatewayTimeout',
  'TooManyRequests',
  'QpsLimitExceeded',
  'Throttling',
  'QueueDeletedRecently',
  'InvalidResponse',
  'NetworkError',
  'Timeout',
  'TimeExpired',
  'SecurityTokenExpired',
  'CredentialsUnavailable',
]);

/** Auth answers that new credentials may fix: refresh once, then retry (spec §4.3, §7.2). */
const CREDENTIAL_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'SecurityTokenExpired']);

export function isRetryableCode(code: string, status: number): boolean {
  if (RETRYABLE_CODES.has(code)) return true;
  if (status === 429 || status >= 500) return true;
  return false;
}

export class MnsError extends Error {
  readonly code: string;
  readonly status: number;
  readonly requestId?: string;
  readonly retryable: boolean;
  readonly source: MnsErrorSource;
  readonly credentialsSuspect: boolean;

  constructor(init: MnsErrorInit) {
    super(init.message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'MnsError';
    this.code = init.code;
    this.status = init.status;
    if (init.requestId) this.requestId = init.requestId;
    this.source = init.source;
    this.retryable = init.retryable ?? isRetryableCode(init.code, init.status);
    this.credentialsSuspect = init.credentialsSuspect ?? CREDENTIAL_CODES.has(init.code);
  }

  /** A copy with another retry verdict (e.g. an auth error that persisted after a credential refresh). */
  withRetryable(retryable: boolean, message?: string): MnsError {
    return new MnsError({
      code: this.code,
      status: this.status,
      message: message ?? this.message,
      requestId: this.requestId,
      retryable,
      source: this.source,
      credentialsSuspect: false,
      cause: this.cause,
    });
  }
}

/** The SDK throws `Error` named `MNS<Code>Error` with "... failed with <status>. requestid: <id>, hostid: <h>, message: <m>". */
const SDK_MESSAGE = /failed with (\d{3})\. requestid: ([^,]*), hostid: [^,]*, message: ([\s\S]*)$/;

/** An MNS <Error> answer (Code, HTTP status, RequestId, Message) as an MnsError. */
export function mnsServiceError(e: { code: string; status: number; requestId?: string; text: string }, operation: string, cause?: unknown): MnsError {
  // An STS token that expired is transient from the publisher's view: the provider will hand out a new one.
  const tokenExpired = e.code === 'AccessDenied' && /security token.*expired/i.test(e.text);
  return new MnsError({
    code: tokenExpired ? 'SecurityTokenExpired' : e.code,
    status: e.status,
    message: `MNS ${operation} failed: ${e.code}: ${e.text}`,
    requestId: e.requestId,
    source: 'mns',
    cause,
  });
}

/** Turns anything the SDK or httpx threw into an MnsError. */
export function fromSdkError(err: unknown, operation: string): MnsError {
  if (err instanceof MnsError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const named = /^MNS(\w+)Error$/.exec(e.name);
  if (named && named[1] !== '') {
    const code = named[1];
    const m = SDK_MESSAGE.exec(e.message);
    const status = m ? Number(m[1]) : 0;
    const requestId = m && m[2] && m[2] !== 'undefined' ? m[2] : undefined;
    const text = m ? m[3] : e.message;
    return mnsServiceError({ code, status, requestId, text }, operation, e);
  }
  const sysCode = (e as NodeJS.ErrnoException).code;
  if (e.name.startsWith('RequestTimeout') || /timeout/i.test(e.name)) {
    return new MnsError({ code: 'Timeout', status: 0, message: `MNS ${operation} timed out (${e.message.replace(/\s+/g, ' ').trim()})`, source: 'network', cause: e });
  }
  if (sysCode || /socket hang up|ECONN|EPIPE|ENOTFOUND|EAI_AGAIN/.test(e.message)) {
    return new MnsError({
      code: 'NetworkError',
      status: 0,
      message: `MNS ${operation} failed: network error ${sysCode ?? ''} ${e.message}`.replace(/\s+/g, ' ').trim(),
      source: 'network',
      cause: e,
    });
  }
  if (e instanceof SyntaxError || /xml|Non-whitespace|Unexpected/i.test(e.message) || e instanceof TypeError) {
    // xml2js could not parse, or the XML had an unexpected root element.
    return new MnsError({ code: 'InvalidResponse', status: 0, message: `MNS ${operation}: unreadable response (${e.message})`, source: 'http', cause: e });
  }
  return new MnsError({ code: 'NetworkError', status: 0, message: `MNS ${operation} failed: ${e.message}`, source: 'network', cause: e });
}

/** Names for non-XML HTTP failures (a proxy's HTML 503, an empty 502). */
export function codeForStatus(status: number): string {
  switch (status) {
    case 429:
      return 'TooManyRequests';
    case 500:
      return 'InternalError';
    case 502:
      return 'BadGateway';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'GatewayTimeout';
    default:
      return `HttpStatus${status}`;
  }
}
