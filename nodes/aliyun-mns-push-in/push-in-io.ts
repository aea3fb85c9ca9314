// Pure pieces of the MNS push in node: config and settings normalisation, and msg.mns from a verified push.
import type http from 'node:http';
import { wholeNumberField as int, type NotificationInfo, type PayloadFormat } from '../../lib/mns';

export interface PushInConfig {
  name?: string;
  /** The path MNS pushes to, below Node-RED's httpNodeRoot. */
  url?: string;
  payloadFormat?: PayloadFormat;
  /** Seconds the flow may take before the push is answered with an error (MNS then retries). */
  ackTimeout?: string | number;
  /** Pushes in the flow at once; more are answered 503 at once (MNS retries them). */
  concurrency?: string | number;
}

export interface NormalisedPushIn {
  url: string;
  payloadFormat: PayloadFormat;
  ackTimeoutMs: number;
  concurrency: number;
}

export function normalisePushIn(c: PushInConfig): NormalisedPushIn {
  let url = (c.url ?? '').trim();
  if (url !== '' && !url.startsWith('/')) url = `/${url}`;
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(url) || url.includes('//')) throw new Error(`the path "${url}" is invalid: use a URL path such as /mns/notifications (no spaces, query or "//")`);
  if (/[:*()]/.test(url)) throw new Error(`the path "${url}" must be literal: MNS pushes to one fixed path, so route parameters (":name", "*") are not allowed`);
  const payloadFormat = c.payloadFormat ?? 'auto';
  if (!['auto', 'text', 'json', 'base64'].includes(payloadFormat)) throw new Error(`payload format must be auto, text, json or base64, got "${payloadFormat}"`);
  return {
    url,
    payloadFormat,
    ackTimeoutMs: int(c.ackTimeout, 10, 1, 300, 'processing timeout (seconds)') * 1000,
    concurrency: int(c.concurrency, 16, 1, 1000, 'concurrency'),
  };
}

/** settings.js `aliyunMnsPush`: certificate hosts trusted besides Alibaba's (only for a local MNS). */
export function trustedCertHostsFrom(settings: unknown): string[] {
  const s = (settings && typeof settings === 'object' ? (settings as Record<string, unknown>).aliyunMnsPush : undefined) as { trustedCertHosts?: unknown } | undefined;
  if (s === undefined || s === null) return [];
  const hosts = s.trustedCertHosts;
  if (hosts === undefined) return [];
  if (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(h))) {
    throw new Error('settings.js aliyunMnsPush.trustedCertHosts must be a list of "host" or "host:port" strings, e.g. ["127.0.0.1:4100"]');
  }
  return hosts as string[];
}

function header(h: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** msg.mns of a push: the path, the MNS request and message IDs, the tag, and the notification when there is one. */
export function pushMnsInfo(path: string, headers: http.IncomingHttpHeaders, notification?: NotificationInfo): Record<string, unknown> {
  const info: Record<string, unknown> = {
    path,
    requestId: header(headers, 'x-mns-request-id'),
    messageId: notification?.messageId ?? header(headers, 'x-mns-message-id'),
  };
  const tag = notification?.messageTag ?? header(headers, 'x-mns-message-tag');
  if (tag) info.messageTag = tag;
  return info;
}
