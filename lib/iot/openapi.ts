// IoT Platform OpenAPI `Pub` (RPC, version 2018-01-20): send a message to a device's custom topic from the cloud side.
// Facts: ../shared/spec/iot-device.md §4.5. Signing and transport come from lib/pop.
import { callRpc, PopError, type RpcCredentials } from '../pop';
import { checkTopicName } from './topics';
import { redactUrl, refuseUserInfo } from '../url-safety';

export const IOT_API_VERSION = '2018-01-20';

export interface PubRequest {
  /** Full endpoint URL, e.g. https://iot.cn-shanghai.aliyuncs.com (see iotEndpoint). */
  endpoint: string;
  credentials: RpcCredentials;
  productKey: string;
  /** TopicFullName: the custom topic the device subscribed to, e.g. /a1B2c3D4e5F/dev01/user/get. */
  topicFullName: string;
  /** The raw bytes; sent Base64-encoded as MessageContent. */
  messageContent: Buffer;
  qos?: 0 | 1;
  /** Required for instances that have an ID (Enterprise and new public instances). */
  iotInstanceId?: string;
  timeoutMs?: number;
}

export interface PubResult {
  messageId: string;
  requestId?: string;
}

/** A failed Pub: the platform's code (e.g. iot.common.InvalidTenant, Throttling.User) or a transport failure. */
export class IotApiError extends Error {
  readonly code: string;
  readonly requestId?: string;
  readonly status?: number;
  readonly retryable: boolean;
  readonly throttled: boolean;
  constructor(fields: { code: string; message: string; requestId?: string; status?: number; retryable: boolean }, options?: { cause?: unknown }) {
    super(fields.message, options);
    this.name = 'IotApiError';
    this.code = fields.code;
    this.requestId = fields.requestId;
    this.status = fields.status;
    this.retryable = fields.retryable;
    this.throttled = fields.code.startsWith('Throttling');
  }
}

/** What to do about the codes users meet most; the platform's own message is kept beside it. */
const HINTS: Record<string, string> = {
  'iot.common.InvalidTenant': 'the IotInstanceId is wrong, missing, or not in this account',
  'iot.prod.NotExistedProduct': 'the productKey does not exist in this instance',
  'iot.messagebroker.InvalidTopic': 'TopicFullName is not a topic of this product',
  'Throttling.User': 'too many calls: Pub allows 1600 QPS per account; slow down and retry',
  InvalidAccessKeyId: 'the AccessKey ID is not known: check the credentials node',
  'InvalidAccessKeyId.NotFound': 'the AccessKey ID is not known: check the credentials node',
  SignatureDoesNotMatch: 'the AccessKey secret does not match the AccessKey ID',
  Forbidden: 'the RAM user or role lacks permission for iot:Pub',
  'Forbidden.RAM': 'the RAM user or role lacks permission for iot:Pub',
  InvalidSecurityToken: 'the STS token is invalid or expired',
};

/** The endpoint for a region (`cn-shanghai` → https://iot.cn-shanghai.aliyuncs.com), or a given http(s) URL. */
export function iotEndpoint(regionOrUrl: string): string {
  const v = (regionOrUrl ?? '').trim();
  refuseUserInfo(v, 'the IoT OpenAPI endpoint', 'Pub is signed with the AccessKey of the credentials node', (m) => new IotApiError({ code: 'InvalidEndpoint', message: m, retryable: false }));
  if (/^https?:\/\//i.test(v)) {
    try {
      return new URL(v).toString();
    } catch {
      throw new IotApiError({ code: 'InvalidEndpoint', message: `endpoint "${redactUrl(v)}" is not a URL`, retryable: false });
    }
  }
  if (!/^[a-z]{2}-[a-z0-9-]+$/.test(v)) {
    throw new IotApiError({
      code: 'InvalidEndpoint',
      message: `"${redactUrl(v)}" is neither a region (e.g. cn-shanghai) nor an endpoint URL (https://iot.cn-shanghai.aliyuncs.com)`,
      retryable: false,
    });
  }
  return `https://iot.${v}.aliyuncs.com`;
}

function toIotError(err: unknown): IotApiError {
  if (err instanceof IotApiError) return err;
  if (err instanceof PopError) {
    const hint = HINTS[err.code];
    // lib/pop reads the RPC `Message`; Pub's own failures carry `ErrorMessage`, so the text may be just "HTTP 200".
    const own = err.message && !/^HTTP \d+$/.test(err.message) ? err.message : '';
    const message = [err.code, hint, own].filter(Boolean).join(': ');
    return new IotApiError({ code: err.code, message, requestId: err.requestId, status: err.status, retryable: err.retryable }, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new IotApiError({ code: 'Unknown', message, retryable: false }, { cause: err });
}

/** Calls Pub. Resolves with the MessageId; rejects with an IotApiError (never containing a secret). */
export async function pub(req: PubRequest): Promise<PubResult> {
  if (!req.productKey) throw new IotApiError({ code: 'MissingProductKey', message: 'productKey is empty: set it in the node or in msg.productKey', retryable: false });
  try {
    checkTopicName(req.topicFullName);
  } catch (err) {
    throw new IotApiError({ code: 'InvalidTopic', message: (err as Error).message, retryable: false });
  }
  const qos = req.qos ?? 0;
  if (qos !== 0 && qos !== 1) throw new IotApiError({ code: 'InvalidQos', message: `Pub accepts QoS 0 or 1, not ${JSON.stringify(qos)}`, retryable: false });
  const params: Record<string, string | number | undefined> = {
    ProductKey: req.productKey,
    TopicFullName: req.topicFullName,
    MessageContent: req.messageContent.toString('base64'),
    Qos: qos,
    IotInstanceId: req.iotInstanceId || undefined,
  };
  let body: Record<string, unknown>;
  let requestId: string | undefined;
  try {
    const res = await callRpc<Record<string, unknown>>({
      endpoint: req.endpoint,
      action: 'Pub',
      version: IOT_API_VERSION,
      params,
      credentials: req.credentials,
      timeoutMs: req.timeoutMs,
    });
    body = res.body;
    requestId = res.requestId;
  } catch (err) {
    throw toIotError(err);
  }
  if (body.Success === false) {
    const code = typeof body.Code === 'string' ? body.Code : 'PubFailed';
    const own = typeof body.ErrorMessage === 'string' ? body.ErrorMessage : '';
    throw new IotApiError({ code, message: [code, HINTS[code], own].filter(Boolean).join(': '), requestId, status: 200, retryable: code.startsWith('Throttling') });
  }
  const messageId = body.MessageId;
  if (typeof messageId !== 'string' && typeof messageId !== 'number') {
    throw new IotApiError({ code: 'InvalidResponse', message: 'Pub answered without a MessageId', requestId, retryable: false });
  }
  return { messageId: String(messageId), requestId };
}
