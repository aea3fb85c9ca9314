// The local IoT platform's own check of Alibaba's device MQTT login (spec iot-device §4.1/§4.2).
// Written independently of lib/iot on purpose: the emulator must not share a bug with the client it tests.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const DEVICE_SIGN_METHODS = ['hmacmd5', 'hmacsha1', 'hmacsha256'] as const;
export type DeviceSignMethod = (typeof DEVICE_SIGN_METHODS)[number];

const ALGORITHM: Record<DeviceSignMethod, string> = { hmacmd5: 'md5', hmacsha1: 'sha1', hmacsha256: 'sha256' };

/** CONNACK return codes as Alibaba documents them for MQTT 3.1/3.1.1. */
export const CONNACK = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  /** "username or password format error" */
  BAD_USERNAME_OR_PASSWORD: 4,
  /** "device not authorized" */
  NOT_AUTHORIZED: 5,
} as const;

export interface ParsedClientId {
  /** The device's own client ID (the part before the first `|`). */
  clientId: string;
  /** Parameters between the `|` marks, e.g. securemode, signmethod, timestamp. */
  params: Map<string, string>;
}

/** Parses `clientId|k=v,k=v|`; undefined when the field does not have that shape. */
export function parseMqttClientId(field: string): ParsedClientId | undefined {
  const first = field.indexOf('|');
  if (first <= 0 || !field.endsWith('|') || first === field.length - 1) return undefined;
  const inner = field.slice(first + 1, -1);
  if (inner.includes('|')) return undefined;
  const params = new Map<string, string>();
  for (const part of inner.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    params.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return { clientId: field.slice(0, first), params };
}

/** The signed text: each parameter name followed by its value, names in lexical order. */
export function signedContent(fields: Record<string, string | undefined>): string {
  return Object.keys(fields)
    .filter((name) => fields[name] !== undefined)
    .sort()
    .map((name) => name + fields[name])
    .join('');
}

export function expectedPassword(
  method: DeviceSignMethod,
  deviceSecret: string,
  clientId: string,
  productKey: string,
  deviceName: string,
  timestamp: string | undefined,
): string {
  const content = signedContent({ productKey, deviceName, clientId, timestamp });
  return createHmac(ALGORITHM[method], Buffer.from(deviceSecret, 'utf8')).update(content, 'utf8').digest('hex');
}

/** Compares hex signatures without leaking timing; accepts either letter case. */
export function samePassword(expectedHex: string, given: Buffer | string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expectedHex.toLowerCase(), 'utf8');
  const b = Buffer.from((typeof given === 'string' ? given : given.toString('utf8')).toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface DeviceLoginClaim {
  clientId: string;
  productKey: string;
  deviceName: string;
  secureMode: string;
  signMethod: DeviceSignMethod;
  timestamp?: string;
}

export type ClaimResult = { ok: true; claim: DeviceLoginClaim } | { ok: false; returnCode: number; reason: string };

/** Checks the format of a device CONNECT (clientId params and username); the password is checked later against the registry. */
export function readDeviceClaim(mqttClientId: string, username: string | undefined, password: Buffer | undefined): ClaimResult {
  const parsed = parseMqttClientId(mqttClientId);
  if (!parsed) {
    return { ok: false, returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'clientId is not of the form "<id>|securemode=..,signmethod=..|"' };
  }
  const secureMode = parsed.params.get('securemode');
  if (secureMode === '-2') {
    return { ok: false, returnCode: CONNACK.NOT_AUTHORIZED, reason: 'dynamic registration without pre-registration is not supported by the local platform' };
  }
  if (secureMode !== '2' && secureMode !== '3') {
    return { ok: false, returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: `securemode ${JSON.stringify(secureMode)} is not 2 (TLS) or 3 (TCP)` };
  }
  const signMethod = parsed.params.get('signmethod');
  if (!(DEVICE_SIGN_METHODS as readonly string[]).includes(signMethod ?? '')) {
    return { ok: false, returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: `signmethod ${JSON.stringify(signMethod)} is not hmacmd5, hmacsha1 or hmacsha256` };
  }
  const timestamp = parsed.params.get('timestamp');
  if (timestamp !== undefined && !/^\d+$/.test(timestamp)) {
    return { ok: false, returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'timestamp is not a number of milliseconds' };
  }
  if (parsed.clientId.length > 64) {
    return { ok: false, returnCode: CONNACK.IDENTIFIER_REJECTED, reason: 'clientId is longer than 64 characters' };
  }
  const amp = username?.indexOf('&') ?? -1;
  if (!username || amp <= 0 || amp === username.length - 1) {
    return { ok: false, returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'username is not "<deviceName>&<productKey>"' };
  }
  if (!password || password.length === 0) {
    return { ok: false, returnCode: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'password is missing' };
  }
  return {
    ok: true,
    claim: {
      clientId: parsed.clientId,
      deviceName: username.slice(0, amp),
      productKey: username.slice(amp + 1),
      secureMode,
      signMethod: signMethod as DeviceSignMethod,
      timestamp,
    },
  };
}
