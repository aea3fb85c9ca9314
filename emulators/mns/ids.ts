// Identifiers shaped like the real service's (spec §1.4).
import { randomBytes } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  // 248 = 62 * 4: values at or above it would bias the distribution, so they are remapped by a second draw.
  for (let i = 0; i < length; i++) {
    let b = bytes[i];
    while (b >= 248) b = randomBytes(1)[0];
    out += ALNUM[b % 62];
  }
  return out;
}

/** Queue message ID: 32 uppercase hex digits, e.g. 0909FF0D9C3A630C372B8A14BD2011B6. */
export function queueMessageId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

/** Receipt handle: only [A-Za-z0-9-], so it survives raw and URL-escaped query strings alike (spec §1.4). */
export function receiptHandle(dequeueCount: number): string {
  return `${dequeueCount}-${randomAlnum(32)}`;
}

/** Generates topic message IDs like D273CD6A89564E54-1-15180395A19-200000001. */
export class TopicMessageIds {
  private readonly prefix = randomBytes(8).toString('hex').toUpperCase();
  private counter = 0;
  next(publishTime: number): string {
    this.counter = (this.counter + 1) % 1e8;
    return `${this.prefix}-1-${publishTime.toString(16).toUpperCase()}-2${String(this.counter).padStart(8, '0')}`;
  }
}

/** Request IDs like 56667514B2B71C9C16000001: seconds in hex, a per-server random part, then a counter. */
export class RequestIds {
  private readonly middle = randomBytes(4).toString('hex').toUpperCase();
  private counter = 0;
  next(): string {
    this.counter = (this.counter + 1) % 0x10000;
    const seconds = Math.floor(Date.now() / 1000).toString(16).toUpperCase().padStart(8, '0').slice(-8);
    return `${seconds}${this.middle}${this.counter.toString(16).toUpperCase().padStart(4, '0')}0000`.slice(0, 24);
  }
}
