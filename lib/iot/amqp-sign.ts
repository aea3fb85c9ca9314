// Alibaba Cloud IoT Platform AMQP server-side subscription login (SASL PLAIN): the username that carries the
// client ID, instance, auth mode, sign method, consumer group, AccessKey ID and timestamp, and the password
// base64(HMAC(secret, "authId=<ak>&timestamp=<ts>")). Facts: ../shared/spec/iot-device.md §4.2 #3, §4.4, §4.7.
// Computed anew for every connection attempt: the platform refuses an old timestamp.
import { createHmac } from 'node:crypto';
import { isSignMethod, type SignMethod } from './signing';

const HASH_OF: Record<SignMethod, string> = { hmacsha256: 'sha256', hmacsha1: 'sha1', hmacmd5: 'md5' };

export type AmqpAuthMode = 'aksign' | 'ststoken';

export interface AmqpSignOptions {
  /** Shown in the console's client list; letters, digits, - _ . : (no "|", "," or "="). */
  clientId: string;
  /** The instance ID; empty for the legacy public instance. */
  iotInstanceId?: string;
  consumerGroupId: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Present for temporary (STS) credentials: authMode becomes ststoken. */
  securityToken?: string;
  /** Default hmacsha1 (the platform's samples). */
  signMethod?: SignMethod;
  /** Milliseconds since 1970; default now. */
  timestamp?: number;
}

export interface AmqpLogin {
  username: string;
  /** A secret. */
  password: string;
}

/** Bad AMQP subscription settings; the message never contains a secret. */
export class AmqpConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmqpConfigError';
  }
}

const CLIENT_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const GROUP_ID = /^[A-Za-z0-9_-]{1,64}$/;
const INSTANCE_ID = /^[A-Za-z0-9_-]{0,64}$/;

/** base64(HMAC_<method>(secret, "authId=<accessKeyId>&timestamp=<ts>")). */
export function amqpPassword(signMethod: SignMethod, accessKeySecret: string, accessKeyId: string, timestamp: number | string): string {
  return createHmac(HASH_OF[signMethod], accessKeySecret).update(`authId=${accessKeyId}&timestamp=${timestamp}`, 'utf8').digest('base64');
}

/** Throws an AmqpConfigError naming what to fix. */
export function checkAmqpSettings(o: { clientId?: unknown; consumerGroupId?: unknown; iotInstanceId?: unknown; signMethod?: unknown }): void {
  if (typeof o.consumerGroupId !== 'string' || !GROUP_ID.test(o.consumerGroupId)) {
    throw new AmqpConfigError(`consumer group ID ${JSON.stringify(o.consumerGroupId ?? '')} is not valid: copy the ID from the console (Message forwarding → Server-side subscription → Consumer groups)`);
  }
  if (typeof o.clientId !== 'string' || !CLIENT_ID.test(o.clientId)) {
    throw new AmqpConfigError(`client ID ${JSON.stringify(o.clientId ?? '')} is not valid: 1-64 letters, digits or _ . : @ -`);
  }
  if (o.iotInstanceId !== undefined && (typeof o.iotInstanceId !== 'string' || !INSTANCE_ID.test(o.iotInstanceId))) {
    throw new AmqpConfigError(`IotInstanceId ${JSON.stringify(o.iotInstanceId)} is not valid: copy it from the instance overview (e.g. iot-06z00xxxxxxx), or leave it empty for the legacy public instance`);
  }
  if (o.signMethod !== undefined && !isSignMethod(o.signMethod)) {
    throw new AmqpConfigError(`sign method ${JSON.stringify(o.signMethod)} is not supported: use hmacsha1, hmacsha256 or hmacmd5`);
  }
}

/** The SASL PLAIN username and password for one connection attempt. */
export function signAmqp(o: AmqpSignOptions): AmqpLogin {
  checkAmqpSettings(o);
  if (!o.accessKeyId || !o.accessKeySecret) throw new AmqpConfigError('the credentials have no AccessKey: check the credentials node');
  const signMethod = o.signMethod ?? 'hmacsha1';
  const timestamp = o.timestamp ?? Date.now();
  const params = [`iotInstanceId=${o.iotInstanceId ?? ''}`];
  if (o.securityToken) params.push('authMode=ststoken', `securityToken=${o.securityToken}`);
  else params.push('authMode=aksign');
  params.push(`signMethod=${signMethod}`, `consumerGroupId=${o.consumerGroupId}`, `authId=${o.accessKeyId}`, `timestamp=${timestamp}`);
  return {
    username: `${o.clientId}|${params.join(',')}|`,
    password: amqpPassword(signMethod, o.accessKeySecret, o.accessKeyId, timestamp),
  };
}

/** The public-instance endpoint `${uid}.iot-amqp.${region}.aliyuncs.com` (port 5671). */
export function amqpPublicHost(accountId: string, region: string): string {
  if (!/^\d{6,20}$/.test(accountId)) throw new AmqpConfigError(`account ID ${JSON.stringify(accountId)} is not valid: the numeric UID of the Alibaba Cloud account`);
  if (!/^[a-z]{2}-[a-z0-9-]+$/.test(region)) throw new AmqpConfigError(`region ${JSON.stringify(region)} is not valid, e.g. cn-shanghai`);
  return `${accountId}.iot-amqp.${region}.aliyuncs.com`;
}
