// Thing-model (TSL) parsing: what the cloud rule engine sees for Alink property / event posts on /sys topics.
// Spec: ../shared/spec/iot-sql.md §3.1 and DECISION §8.3.

export interface TslContext {
  /** Override of the product key taken from the topic. */
  productKey?: string;
  /** Override of the device name taken from the topic. */
  deviceName?: string;
  /** Cloud receive time (ms epoch); default: now. Becomes `gmtCreate` and the default property `time`. */
  now?: number;
  iotId?: string;
  deviceType?: string;
  /** Event name and type (info / alert / error) from the thing model, when known. */
  eventName?: string;
  eventType?: string;
}

export type AlinkPostKind = 'property' | 'event';

export interface AlinkPostTopic {
  kind: AlinkPostKind;
  productKey: string;
  deviceName: string;
  /** Event identifier (`property` for property posts). */
  identifier: string;
}

/** Recognise `/sys/{pk}/{dn}/thing/event/property/post` and `/sys/{pk}/{dn}/thing/event/{identifier}/post`. */
export function parseAlinkPostTopic(topic: string): AlinkPostTopic | undefined {
  if (typeof topic !== 'string' || !topic.startsWith('/sys/') || !topic.endsWith('/post')) return undefined;
  const l = topic.split('/');
  // ['', 'sys', pk, dn, 'thing', 'event', id, 'post']
  if (l.length !== 8 || l[4] !== 'thing' || l[5] !== 'event' || !l[2] || !l[3] || !l[6]) return undefined;
  return { kind: l[6] === 'property' ? 'property' : 'event', productKey: l[2], deviceName: l[3], identifier: l[6] };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** §8.3: a JSON object with a string `method`, an object `params` and no `items` is raw Alink. */
export function isRawAlink(payload: unknown): payload is { method: string; params: Record<string, unknown> } {
  return isPlainObject(payload) && typeof payload.method === 'string' && isPlainObject(payload.params)
    && !('items' in payload);
}

/** A params entry of the `{value, time}` form (only those keys, `value` present). */
function isWrapped(v: unknown): v is { value: unknown; time?: unknown } {
  if (!isPlainObject(v) || !('value' in v)) return false;
  for (const k in v) if (k !== 'value' && k !== 'time') return false;
  return true;
}

/**
 * Convert a raw Alink property/event post into the parsed form a cloud rule sees. Returns the payload unchanged
 * when the topic is not a property/event post or the payload is not raw Alink (e.g. already parsed).
 */
export function parseTslPayload(topic: string, payload: unknown, ctx: TslContext = {}): unknown {
  const t = parseAlinkPostTopic(topic);
  if (!t || !isRawAlink(payload)) return payload;
  const now = typeof ctx.now === 'number' && Number.isFinite(ctx.now) ? ctx.now : Date.now();
  const params = payload.params;
  const productKey = ctx.productKey ?? t.productKey;
  const deviceName = ctx.deviceName ?? t.deviceName;
  if (t.kind === 'property') {
    const out: Record<string, unknown> = {};
    if (ctx.iotId !== undefined) out.iotId = ctx.iotId;
    out.productKey = productKey;
    out.deviceName = deviceName;
    out.gmtCreate = now;
    if (ctx.deviceType !== undefined) out.deviceType = ctx.deviceType;
    const items: Record<string, unknown> = {};
    for (const key of Object.keys(params)) {
      const p = params[key];
      let value: unknown = p;
      let time: unknown = now;
      if (isWrapped(p)) {
        value = p.value;
        if (typeof p.time === 'number' && Number.isFinite(p.time)) time = p.time;
      }
      Object.defineProperty(items, key, { value: { value, time }, enumerable: true, writable: true, configurable: true });
    }
    out.items = items;
    return out;
  }
  const out: Record<string, unknown> = { identifier: t.identifier };
  if (ctx.eventName !== undefined) out.name = ctx.eventName;
  if (ctx.eventType !== undefined) out.type = ctx.eventType;
  if (ctx.iotId !== undefined) out.iotId = ctx.iotId;
  out.productKey = productKey;
  out.deviceName = deviceName;
  out.gmtCreate = now;
  if (ctx.deviceType !== undefined) out.deviceType = ctx.deviceType;
  // Alink event params are {value: {...}, time}; a bare params object is taken as the value itself.
  const hasValue = 'value' in params;
  out.value = hasValue ? params.value : params;
  out.time = hasValue && typeof params.time === 'number' && Number.isFinite(params.time) ? params.time : now;
  return out;
}
