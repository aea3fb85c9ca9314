// Device-side MQTT login for Alibaba Cloud IoT Platform (one secret per device, or per product with
// pre-registration): the CONNECT clientId, username and password, and the broker endpoint.
// Facts: ../shared/spec/iot-device.md §4.1 and §4.2 (worked vectors).
import { createHmac } from 'node:crypto';
import { redactUrl, refuseUserInfo } from '../url-safety';

export type SignMethod = 'hmacsha256' | 'hmacsha1' | 'hmacmd5';
/** 2 = TLS, 3 = plain TCP. */
export type SecureMode = 2 | 3;

export const SIGN_METHODS: readonly SignMethod[] = ['hmacsha256', 'hmacsha1', 'hmacmd5'];

const HASH_OF: Record<SignMethod, string> = { hmacsha256: 'sha256', hmacsha1: 'sha1', hmacmd5: 'md5' };

export interface DeviceSignOptions {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
  /** Default hmacsha256. */
  signMethod?: SignMethod;
  /** Default 2 (TLS). */
  secureMode?: SecureMode;
  /**
   * Milliseconds since epoch put in the clientId and the signed content. Default: now.
   * `null` leaves the timestamp out of both (the spec allows that).
   */
  timestamp?: number | string | null;
  /** The device's own client ID (≤ 64 characters). Default `${productKey}.${deviceName}`. */
  clientId?: string;
}

export interface DeviceMqttLogin {
  /** The full MQTT clientId: `clientId|securemode=…,signmethod=…,timestamp=…|`. */
  clientId: string;
  /** `${deviceName}&${productKey}`. */
  username: string;
  /** Hex HMAC of the sorted parameters, keyed with the device secret. This is a secret. */
  password: string;
}

/** Error for bad device settings; its message never contains the device secret. */
export class DeviceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceConfigError';
  }
}

// ProductKey and DeviceName as the console allows them; the characters that would break the clientId
// or username syntax (| , & / + # and spaces) are excluded either way.
const PRODUCT_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const DEVICE_NAME = /^[A-Za-z0-9_.@:-]{1,64}$/;
const CLIENT_ID = /^[^|,&\s]{1,64}$/;

export function isSignMethod(value: unknown): value is SignMethod {
  return typeof value === 'string' && (SIGN_METHODS as readonly string[]).includes(value);
}

/** Throws a DeviceConfigError naming what to fix when productKey / deviceName are unusable. */
export function checkDeviceIdentity(productKey: unknown, deviceName: unknown): void {
  if (typeof productKey !== 'string' || !PRODUCT_KEY.test(productKey)) {
    throw new DeviceConfigError(
      `productKey ${JSON.stringify(productKey)} is not valid: use the ProductKey from the console (letters, digits, _ or -)`,
    );
  }
  if (typeof deviceName !== 'string' || !DEVICE_NAME.test(deviceName)) {
    throw new DeviceConfigError(
      `deviceName ${JSON.stringify(deviceName)} is not valid: 1-64 characters of letters, digits and _ - . @ :`,
    );
  }
}

/**
 * The content that is signed: parameter names and values concatenated in lexical order of the names
 * (clientId, deviceName, productKey, timestamp), timestamp left out when absent.
 */
export function deviceSignContent(clientId: string, deviceName: string, productKey: string, timestamp?: string): string {
  let content = `clientId${clientId}deviceName${deviceName}productKey${productKey}`;
  if (timestamp !== undefined) content += `timestamp${timestamp}`;
  return content;
}

/** Hex HMAC of the content with the device secret (lowercase hex). */
export function deviceSignature(signMethod: SignMethod, deviceSecret: string, content: string): string {
  return createHmac(HASH_OF[signMethod], deviceSecret).update(content, 'utf8').digest('hex');
}

/** Computes the CONNECT clientId, username and password for a device. */
export function signDevice(options: DeviceSignOptions): DeviceMqttLogin {
  const { productKey, deviceName, deviceSecret } = options;
  checkDeviceIdentity(productKey, deviceName);
  if (typeof deviceSecret !== 'string' || deviceSecret.length === 0) {
    throw new DeviceConfigError('deviceSecret is empty: copy the DeviceSecret of this device from the console');
  }
  const signMethod = options.signMethod ?? 'hmacsha256';
  if (!isSignMethod(signMethod)) {
    throw new DeviceConfigError(`sign method ${JSON.stringify(signMethod)} is not supported: use hmacsha256, hmacsha1 or hmacmd5`);
  }
  const secureMode = options.secureMode ?? 2;
  if (secureMode !== 2 && secureMode !== 3) {
    throw new DeviceConfigError(`secure mode ${JSON.stringify(secureMode)} is not supported: use 2 (TLS) or 3 (TCP)`);
  }
  const clientId = options.clientId ?? `${productKey}.${deviceName}`;
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    throw new DeviceConfigError(
      `client ID ${JSON.stringify(clientId)} is not valid: 1-64 characters without spaces, "|", "," or "&"`,
    );
  }
  let timestamp: string | undefined;
  if (options.timestamp === undefined) {
    timestamp = String(Date.now());
  } else if (options.timestamp !== null) {
    timestamp = String(options.timestamp);
    if (!/^\d{1,16}$/.test(timestamp)) {
      throw new DeviceConfigError(`timestamp ${JSON.stringify(options.timestamp)} is not valid: milliseconds since 1970 as digits`);
    }
  }
  const params = [`securemode=${secureMode}`, `signmethod=${signMethod}`];
  if (timestamp !== undefined) params.push(`timestamp=${timestamp}`);
  return {
    clientId: `${clientId}|${params.join(',')}|`,
    username: `${deviceName}&${productKey}`,
    password: deviceSignature(signMethod, deviceSecret, deviceSignContent(clientId, deviceName, productKey, timestamp)),
  };
}

export type MqttTransport = 'mqtt' | 'mqtts' | 'ws' | 'wss';

export interface EndpointOptions {
  /** New public / Enterprise instance host from the console, e.g. iot-06z00xxxxxxx.mqtt.iothub.aliyuncs.com. */
  instanceHost?: string;
  /** Region for the legacy public endpoint, e.g. cn-shanghai (needs productKey). */
  region?: string;
  productKey?: string;
  /** Default mqtts. */
  transport?: MqttTransport;
  /** Overrides the default port (a port in a pasted instance URL, else 1883 for mqtt/mqtts, 443 for ws/wss). */
  port?: number;
}

export interface Endpoint {
  host: string;
  port: number;
  url: string;
  /** The secure mode matching the transport: 2 for mqtts/wss, 3 for mqtt/ws. */
  secureMode: SecureMode;
}

/** Where a device connects: the instance host, or the legacy `${pk}.iot-as-mqtt.${region}.aliyuncs.com`. */
export function deviceEndpoint(options: EndpointOptions): Endpoint {
  const transport = options.transport ?? 'mqtts';
  if (!['mqtt', 'mqtts', 'ws', 'wss'].includes(transport)) {
    throw new DeviceConfigError(`transport ${JSON.stringify(transport)} is not supported: use mqtt, mqtts, ws or wss`);
  }
  let host: string;
  let pastedPort: number | undefined;
  const instanceHost = options.instanceHost?.trim();
  if (instanceHost) {
    refuseUserInfo(instanceHost, 'the instance endpoint', 'the device logs in with its deviceSecret, not with a user name in the endpoint', (m) => new DeviceConfigError(m));
    const hostAndPort = instanceHost.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
    const portMatch = /:(\d+)$/.exec(hostAndPort);
    if (portMatch) pastedPort = Number(portMatch[1]);
    host = hostAndPort.replace(/:.*$/, '');
    if (!/^[A-Za-z0-9.-]+$/.test(host)) {
      throw new DeviceConfigError(`instance endpoint ${JSON.stringify(redactUrl(instanceHost))} is not a host name`);
    }
  } else {
    const region = options.region?.trim();
    if (!region || !/^[a-z0-9-]+$/.test(region)) {
      throw new DeviceConfigError('set either the instance endpoint, or the region (e.g. cn-shanghai) for the legacy public endpoint');
    }
    if (!options.productKey || !PRODUCT_KEY.test(options.productKey)) {
      throw new DeviceConfigError('the legacy public endpoint needs the productKey');
    }
    host = `${options.productKey}.iot-as-mqtt.${region}.aliyuncs.com`;
  }
  const websocket = transport === 'ws' || transport === 'wss';
  const port = options.port ?? pastedPort ?? (websocket ? 443 : 1883);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DeviceConfigError(`port ${JSON.stringify(options.port)} is not valid: 1-65535`);
  }
  const secureMode: SecureMode = transport === 'mqtts' || transport === 'wss' ? 2 : 3;
  return { host, port, url: `${transport}://${host}:${port}${websocket ? '/mqtt' : ''}`, secureMode };
}

/** The MQTT keepalive must be 30-1200 s or the platform refuses the connection. */
export function checkKeepalive(seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 30 || seconds > 1200) {
    throw new DeviceConfigError(`keepalive ${JSON.stringify(seconds)} s is out of range: the platform accepts 30-1200 s (300 or more recommended)`);
  }
  return seconds;
}
