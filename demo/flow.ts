// The example flows, pointed at the local cloud. `npm start` deploys exactly what a user imports from
// Import → Examples (the full path and the down-link round trip), with the config nodes rewritten to the local
// STS, MNS and IoT platform and the local demo credentials attached the way the admin API takes them on deploy
// (`credentials` on the node object), so Node-RED stores them encrypted in flows_cred.json, never in flows.json.
// The end-to-end tests use the same rewriting for every example.
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_APPLICATION, DEMO_PRODUCT_KEY, DEMO_REGION, type LocalCloud } from '../emulators';

export const EXAMPLES_DIR = path.resolve(__dirname, '..', 'examples');
export const FULL_PATH_EXAMPLE = 'Full path - device to SQL rule to MNS';
export const DOWNLINK_EXAMPLE = 'Down-link round trip - command and reply';

/** The productKey and deviceName the examples use as placeholders for a real account. */
export const EXAMPLE_PRODUCT_KEY = 'a1B2c3D4e5F';
export const EXAMPLE_DEVICE_NAME = 'dev01';

/** One object of a flow export (tab, node or config node); `credentials` only on the way in to POST /flows. */
export interface FlowObject {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  credentials?: Record<string, string>;
  [key: string]: unknown;
}

export interface LocalizeOptions {
  /** Replaces the examples' productKey placeholder (default: the local cloud's demo product). */
  productKey?: string;
  /** Replaces the examples' deviceName placeholder `dev01` (default: sensor-01). */
  deviceName?: string;
}

/** Reads examples/<name>.json and checks that it is a well-formed export (unique ids, wires to nodes of the file). */
export function readExample(name: string): FlowObject[] {
  const file = path.join(EXAMPLES_DIR, `${name}.json`);
  const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as FlowObject[];
  if (!Array.isArray(flow)) throw new Error(`${file}: a flow export is a JSON array`);
  const ids = new Set(flow.map((n) => n.id));
  if (ids.size !== flow.length) throw new Error(`${file}: node ids are not unique`);
  for (const n of flow) {
    if (n.credentials) throw new Error(`${file}: node ${n.id} carries credentials; examples must not`);
    if (n.z !== undefined && !ids.has(n.z)) throw new Error(`${file}: node ${n.id} is on tab ${n.z}, which the file does not have`);
    for (const port of n.wires ?? []) for (const to of port) if (!ids.has(to)) throw new Error(`${file}: node ${n.id} is wired to ${to}, which the file does not have`);
  }
  return flow;
}

/** Every example file's name (without .json). */
export function exampleNames(): string[] {
  return fs
    .readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/**
 * A copy of an example with its config nodes pointing at the local cloud and the demo credentials attached:
 * - aliyun-credentials: the local RAM user's AccessKey; in RAM role mode the local STS and the demo role;
 * - aliyun-iot-broker: MQTT mode → the local broker with its application account; device mode → the local broker
 *   as that device (plain TCP), with the device's secret from the local registry;
 * - aliyun-mns-topic-out / -queue-in: the local MNS as a custom endpoint;
 * - aliyun-iot-device-out in Pub mode: the local IoT OpenAPI;
 * - aliyun-iot-amqp-in: the local AMQP subscription server (plain);
 * - the productKey / deviceName placeholders in topics, SQL, payloads and texts → the local demo product and device.
 */
export function localizeExample(flow: FlowObject[], cloud: LocalCloud, options: LocalizeOptions = {}): FlowObject[] {
  const iot = cloud.iot;
  const mns = cloud.mns;
  if (!iot || !mns) throw new Error('the local cloud must run the IoT platform and MNS');
  const productKey = options.productKey ?? DEMO_PRODUCT_KEY;
  const deviceName = options.deviceName ?? 'sensor-01';
  const rename = (v: unknown): unknown => {
    if (typeof v === 'string') return v.split(EXAMPLE_PRODUCT_KEY).join(productKey).replace(new RegExp(`\\b${EXAMPLE_DEVICE_NAME}\\b`, 'g'), deviceName);
    if (Array.isArray(v)) return v.map(rename);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rename(x)]));
    return v;
  };
  const mqtt = new URL(iot.mqttUrl);
  return flow.map((original) => {
    const n: FlowObject = { ...original };
    for (const [k, v] of Object.entries(n)) if (k !== 'id' && k !== 'z' && k !== 'type' && k !== 'wires') n[k] = rename(v);
    switch (n.type) {
      case 'aliyun-credentials':
        n.region = DEMO_REGION;
        if (n.mode === 'ramRole' || n.chainRole) {
          if (!cloud.demo.roleArn) throw new Error('the local cloud has no role to assume');
          n.roleArn = cloud.demo.roleArn;
          n.stsEndpoint = cloud.sts.url;
        }
        if (n.mode === 'defaultChain') n.mode = n.chainRole ? 'ramRole' : 'accessKey';
        n.credentials = { accessKeyId: cloud.demo.accessKeyId, accessKeySecret: cloud.demo.accessKeySecret };
        break;
      case 'aliyun-iot-broker':
        if (n.mode === 'device') {
          const device = iot.registry.getDevice(String(n.productKey), String(n.deviceName));
          if (!device) throw new Error(`the local IoT platform has no device ${String(n.productKey)}/${String(n.deviceName)} (for broker "${String(n.name)}")`);
          n.instanceEndpoint = mqtt.host;
          n.secureMode = 'tcp';
          n.websocket = false;
          n.credentials = { deviceSecret: device.deviceSecret };
        } else {
          n.url = iot.mqttUrl;
          n.username = DEMO_APPLICATION.username;
          n.credentials = { password: DEMO_APPLICATION.password };
        }
        break;
      case 'aliyun-mns-topic-out':
      case 'aliyun-mns-queue-in':
        n.endpointType = 'custom';
        n.endpoint = mns.url;
        n.accountId = mns.accountId;
        n.region = mns.region;
        break;
      case 'aliyun-iot-device-out':
        if (n.mode === 'pub') n.endpoint = iot.openApiUrl;
        break;
      case 'aliyun-iot-amqp-in':
        if (!iot.amqp?.url) throw new Error('the local IoT platform runs no AMQP subscription server');
        n.endpointType = 'custom';
        n.endpoint = iot.amqp.url;
        n.caFile = '';
        break;
    }
    return n;
  });
}

/** What `npm start` deploys: the full-path and down-link examples, pointed at the local cloud. */
export function buildDemoFlow(cloud: LocalCloud): FlowObject[] {
  return [FULL_PATH_EXAMPLE, DOWNLINK_EXAMPLE].flatMap((name) => localizeExample(readExample(name), cloud));
}

/** The flows without their credentials (what GET /flows returns) and the credentials by node id. */
export function splitCredentials(flow: FlowObject[]): { flows: FlowObject[]; credentials: Record<string, Record<string, string>> } {
  const credentials: Record<string, Record<string, string>> = {};
  const flows = flow.map(({ credentials: c, ...rest }) => {
    if (c) credentials[rest.id] = c;
    return rest as FlowObject;
  });
  return { flows, credentials };
}
