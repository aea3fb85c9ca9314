// Products and devices known to the local IoT platform, with their secrets.
import { randomBytes } from 'node:crypto';

export interface DeviceSpec {
  productKey: string;
  deviceName: string;
  /** Default: 32 random hex characters. */
  deviceSecret?: string;
  /** A disabled device is refused with CONNACK 5. Default true. */
  enabled?: boolean;
}

export interface DeviceRecord {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
  enabled: boolean;
  /** The platform's device ID, as in the rule engine's iotId. */
  iotId: string;
}

export interface ProductRecord {
  productKey: string;
  /** Account (UID) owning the product; Pub from another account gets iot.prod.NotExistedProduct. Undefined: any account. */
  accountId?: string;
}

const NAME = /^[A-Za-z0-9_.@:-]{1,64}$/;

export class DeviceRegistry {
  private readonly products = new Map<string, ProductRecord>();
  private readonly devices = new Map<string, DeviceRecord>();

  addProduct(productKey: string, accountId?: string): ProductRecord {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(productKey)) throw new Error(`productKey ${JSON.stringify(productKey)} is not valid`);
    const record: ProductRecord = accountId === undefined ? { productKey } : { productKey, accountId };
    this.products.set(productKey, record);
    return { ...record };
  }

  getProduct(productKey: string): ProductRecord | undefined {
    const p = this.products.get(productKey);
    return p && { ...p };
  }

  /** Registers a device (and its product when new); returns the stored record including the secret. */
  addDevice(spec: DeviceSpec): DeviceRecord {
    if (!NAME.test(spec.deviceName)) throw new Error(`deviceName ${JSON.stringify(spec.deviceName)} is not valid`);
    if (!this.products.has(spec.productKey)) this.addProduct(spec.productKey);
    const record: DeviceRecord = {
      productKey: spec.productKey,
      deviceName: spec.deviceName,
      deviceSecret: spec.deviceSecret ?? randomBytes(16).toString('hex'),
      enabled: spec.enabled ?? true,
      iotId: randomBytes(15).toString('base64').replace(/[+/=]/g, 'x'),
    };
    this.devices.set(key(spec.productKey, spec.deviceName), record);
    return { ...record };
  }

  getDevice(productKey: string, deviceName: string): DeviceRecord | undefined {
    const d = this.devices.get(key(productKey, deviceName));
    return d && { ...d };
  }

  setEnabled(productKey: string, deviceName: string, enabled: boolean): void {
    const d = this.devices.get(key(productKey, deviceName));
    if (!d) throw new Error(`no device ${productKey}/${deviceName}`);
    d.enabled = enabled;
  }

  removeDevice(productKey: string, deviceName: string): void {
    this.devices.delete(key(productKey, deviceName));
  }

  listDevices(): DeviceRecord[] {
    return [...this.devices.values()].map((d) => ({ ...d }));
  }
}

function key(productKey: string, deviceName: string): string {
  return `${productKey}\u0000${deviceName}`;
}
