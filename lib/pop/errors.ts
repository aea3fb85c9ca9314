// Typed error of an RPC (POP) call: the service's own code, message and request ID, or a transport failure.

export interface PopErrorFields {
  code: string;
  message: string;
  requestId?: string;
  status?: number;
  retryable: boolean;
  hostId?: string;
  recommend?: string;
  /** For SignatureDoesNotMatch: true when both sides signed the same string, so the secret must differ. */
  secretMismatch?: boolean;
}

/** Codes that name transport trouble rather than an answer from the service. */
export const TRANSPORT_CODES = ['NetworkError', 'Timeout', 'InvalidResponse'] as const;

export class PopError extends Error {
  readonly code: string;
  readonly requestId?: string;
  /** HTTP status, absent when no response arrived. */
  readonly status?: number;
  readonly retryable: boolean;
  readonly hostId?: string;
  readonly recommend?: string;
  readonly secretMismatch?: boolean;

  constructor(fields: PopErrorFields, options?: { cause?: unknown }) {
    super(fields.message, options);
    this.name = 'PopError';
    this.code = fields.code;
    this.requestId = fields.requestId;
    this.status = fields.status;
    this.retryable = fields.retryable;
    this.hostId = fields.hostId;
    this.recommend = fields.recommend;
    if (fields.secretMismatch !== undefined) this.secretMismatch = fields.secretMismatch;
  }
}

const RETRYABLE_CODES = new Set([
  'Throttling',
  'Throttling.User',
  'Throttling.Api',
  'ServiceUnavailable',
  'InternalError',
  'SignatureNonceUsed',
  'NetworkError',
  'Timeout',
]);

/** Whether repeating the same call later may succeed (throttling, 5xx, transport). */
export function isRetryable(code: string, status?: number): boolean {
  if (RETRYABLE_CODES.has(code) || code.startsWith('Throttling')) return true;
  return status !== undefined && status >= 500;
}
