// MNS endpoints (spec §1.1): https://<accountId>.mns.<region>[-internal[-vpc]].aliyuncs.com, or a full custom URL.
import { redactUrl, refuseUserInfo } from '../url-safety';

export type MnsNetwork = 'public' | 'internal' | 'vpc';

export interface EndpointOptions {
  /** A full URL (http:// or https://) such as http://127.0.0.1:40123; wins over accountId/region. */
  endpoint?: string;
  accountId?: string;
  region?: string;
  network?: MnsNetwork;
  /** https (default) or http for the region form. */
  secure?: boolean;
}

export function mnsEndpoint(o: EndpointOptions): string {
  if (o.endpoint !== undefined && o.endpoint.trim() !== '') {
    const text = o.endpoint.trim().replace(/\/+$/, '');
    // Never quote credentials back: user:password@ is refused before anything else looks at the text, and the
    // text is quoted only through redactUrl (a password may contain "/", which a simple mask misses).
    refuseUserInfo(text, 'the MNS endpoint', 'MNS signs with the AccessKey of the credentials node', (m) => new Error(m));
    const shown = redactUrl(text);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`the MNS endpoint "${shown}" is not a URL; write it like https://1234567890123456.mns.cn-hangzhou.aliyuncs.com`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the MNS endpoint must start with http:// or https://, got "${shown}"`);
    if (url.pathname !== '/' && url.pathname !== '') throw new Error(`the MNS endpoint must not contain a path ("${url.pathname}"); MNS paths start at the host`);
    if (url.search || url.hash) throw new Error('the MNS endpoint must not contain a query or fragment');
    return `${url.protocol}//${url.host}`;
  }
  const accountId = (o.accountId ?? '').trim();
  const region = (o.region ?? '').trim();
  if (!/^\d{6,20}$/.test(accountId)) throw new Error(`the account ID must be the digits of your Alibaba Cloud account UID (e.g. 1234567890123456), got "${accountId}"`);
  if (!/^[a-z]{2,}(-[a-z0-9]+)+$/.test(region)) throw new Error(`the region must look like cn-hangzhou, got "${region}"`);
  const suffix = o.network === 'internal' ? '-internal' : o.network === 'vpc' ? '-internal-vpc' : '';
  const scheme = o.secure === false ? 'http' : 'https';
  return `${scheme}://${accountId}.mns.${region}${suffix}.aliyuncs.com`;
}

/** How the MNS nodes' editors store the endpoint: a region form (account ID, region, network) or a full URL. */
export interface EndpointFields {
  endpointType?: 'region' | 'custom' | string;
  endpoint?: string;
  accountId?: string;
  region?: string;
  network?: MnsNetwork;
}

/** The endpoint the editor fields describe; throws with what to fix when they describe none. */
export function endpointFromFields(c: EndpointFields): string {
  return c.endpointType === 'custom'
    ? mnsEndpoint({ endpoint: c.endpoint ?? '' })
    : mnsEndpoint({ accountId: c.accountId, region: c.region, network: c.network ?? 'public' });
}

/** An editor number field: empty means `dflt`; otherwise a whole number in [min, max], or an error naming the field. */
export function wholeNumberField(v: unknown, dflt: number, min: number, max: number, what: string): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what} must be a whole number from ${min} to ${max}, got "${String(v)}"`);
  return n;
}
