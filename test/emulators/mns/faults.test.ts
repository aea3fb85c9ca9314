// Fault injection of the local MNS (spec §12.9), through the API and through /__emulator/faults: each mode is
// observed the way a client sees it, and count/seed based faults are deterministic.
import assert from 'node:assert/strict';
import http from 'node:http';
import { AccountBook } from '../../../emulators/accounts';
import { startMns } from '../../../emulators/mns';
import type { MnsEmulator } from '../../../emulators/mns';
import { ACCOUNT_ID, AK, NS, SK, signedHeaders, signedRequest, waitForEvent, xmlField } from './helpers';

const PUBLISH = '/topics/t/messages';
const BODY = `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="${NS}"><MessageBody>hello</MessageBody></Message>`;

function adminRequest(mns: MnsEmulator, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const url = new URL(path, mns.url);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body ? { 'Content-Type': 'application/json' } : {}, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A publish that reports how it ended: an HTTP status, or the network error code. */
async function publish(mns: MnsEmulator, timeoutMs = 5000): Promise<{ status?: number; code?: string; error?: string; contentType?: string; body?: string; ms: number }> {
  const started = Date.now();
  const url = new URL(mns.url);
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: PUBLISH, headers: signedHeaders('POST', PUBLISH, BODY), agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, contentType: res.headers['content-type'], body: text, code: xmlField(text, 'Code'), ms: Date.now() - started }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message, ms: Date.now() - started }));
    req.end(BODY);
  });
}

describe('local MNS: fault injection', () => {
  let mns: MnsEmulator;
  beforeEach(async () => {
    const accounts = new AccountBook();
    accounts.addAccessKey({ accessKeyId: AK, accessKeySecret: SK, accountId: ACCOUNT_ID });
    mns = await startMns({ accounts, accountId: ACCOUNT_ID, topics: [{ name: 't' }], queues: [{ name: 'q' }] });
  });
  afterEach(async () => {
    await mns.stop();
  });

  it('fails exactly the next N requests with 500 InternalError, then recovers', async () => {
    mns.faults.fail({ kind: 'internal-error', count: 2 });
    const results = [await publish(mns), await publish(mns), await publish(mns)];
    assert.deepEqual(results.map((r) => [r.status, r.code]), [[500, 'InternalError'], [500, 'InternalError'], [201, undefined]]);
    assert.equal(mns.published('t').length, 1, 'failed requests publish nothing');
    assert.equal(mns.faults.injected['internal-error'], 2);
    assert.deepEqual(mns.faults.state().failures, []);
  });

  it('answers 503 with an HTML body and 502 with an empty one, like a load balancer', async () => {
    mns.faults.fail({ kind: 'service-unavailable', count: 1 });
    mns.faults.fail({ kind: 'bad-gateway', count: 1 });
    const html = await publish(mns);
    assert.equal(html.status, 503);
    assert.equal(html.contentType, 'text/html');
    assert.match(html.body ?? '', /<html>/);
    const empty = await publish(mns);
    assert.equal(empty.status, 502);
    assert.equal(empty.body, '');
    assert.equal((await publish(mns)).status, 201);
  });

  it('throttles with 429 TooManyRequests after holding the request, and with the legacy 400 QpsLimitExceeded', async () => {
    mns.faults.fail({ kind: 'throttle', count: 1, holdMs: 150 });
    const throttled = await publish(mns);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.code, 'TooManyRequests');
    assert.ok(throttled.ms >= 140, `held ${throttled.ms} ms`);
    mns.faults.fail({ kind: 'throttle-legacy', count: 1 });
    const legacy = await publish(mns);
    assert.deepEqual([legacy.status, legacy.code], [400, 'QpsLimitExceeded']);
  });

  it('resets the connection without an answer', async () => {
    mns.faults.fail({ kind: 'reset', count: 1 });
    const reset = await publish(mns);
    assert.equal(reset.status, undefined);
    assert.ok(reset.error === 'ECONNRESET' || reset.error === 'socket hang up', reset.error);
    assert.equal(mns.published('t').length, 0);
  });

  it('"lost-response" processes the request, then drops the answer (a client retry would duplicate)', async () => {
    mns.faults.fail({ kind: 'lost-response', count: 1 });
    const lost = await publish(mns);
    assert.equal(lost.status, undefined);
    assert.ok(lost.error === 'ECONNRESET' || lost.error === 'socket hang up', lost.error);
    assert.equal(mns.published('t').length, 1, 'the message was stored although the client saw an error');
  });

  it('never answers a "timeout" request; the client gives up', async () => {
    mns.faults.fail({ kind: 'timeout', count: 1 });
    const hung = await publish(mns, 300);
    assert.equal(hung.error, 'CLIENT_TIMEOUT');
    assert.equal((await publish(mns)).status, 201);
  });

  it('adds latency to the next N requests only', async () => {
    mns.faults.setLatency(250, 1);
    const slow = await publish(mns);
    assert.equal(slow.status, 201);
    assert.ok(slow.ms >= 240, `took ${slow.ms} ms`);
    assert.equal(mns.faults.state().latency, undefined);
    assert.equal(mns.faults.injected.latency, 1);
  });

  it('fails at a seeded rate with the same pattern every time, and only on the given path prefix', async () => {
    const pattern = async (): Promise<number[]> => {
      mns.faults.clear();
      mns.faults.fail({ kind: 'internal-error', rate: 0.5, seed: 42, pathPrefix: '/topics/' });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await publish(mns)).status ?? 0);
      return statuses;
    };
    const first = await pattern();
    const second = await pattern();
    assert.deepEqual(first, second);
    assert.ok(first.includes(500) && first.includes(201), `a 0.5 rate mixes outcomes: ${first.join(',')}`);
    const queueCall = await signedRequest(mns.url, 'GET', '/queues/q');
    assert.equal(queueCall.status, 200, 'requests outside the prefix are untouched');
  });

  it('refuses connections during an outage and serves again on the same port afterwards', async () => {
    const port = mns.port;
    assert.equal((await publish(mns)).status, 201);
    const over = mns.faults.outage(400);
    const during = await publish(mns);
    assert.equal(during.error, 'ECONNREFUSED');
    await over;
    assert.equal(mns.port, port);
    assert.equal((await publish(mns)).status, 201);
    assert.equal(mns.published('t').length, 2);
  });

  it('breaks a parked long poll when the outage starts', async () => {
    const parked = waitForEvent(mns.events, 'long-poll');
    const polling = signedRequest(mns.url, 'GET', '/queues/q/messages?waitseconds=20').then(() => 'answered', (e: NodeJS.ErrnoException) => e.code);
    await parked;
    const over = mns.faults.outage(100);
    assert.equal(await polling, 'ECONNRESET');
    await over;
  });

  it('is driven over HTTP at /__emulator/faults: failures, clock offset, outage, clear', async () => {
    const set = await adminRequest(mns, 'POST', '/__emulator/faults', { fail: { kind: 'internal-error', count: 1 }, clockOffsetMs: 20 * 60_000 });
    assert.equal(set.status, 200);
    assert.equal((await publish(mns)).code, 'InternalError');
    const skewed = await publish(mns);
    assert.deepEqual([skewed.status, skewed.code], [408, 'TimeExpired']);
    const state = await adminRequest(mns, 'GET', '/__emulator/faults');
    assert.equal((state.json as { injected: Record<string, number> }).injected['internal-error'], 1);
    await adminRequest(mns, 'DELETE', '/__emulator/faults');
    assert.equal((await publish(mns)).status, 201);

    const bad = await adminRequest(mns, 'POST', '/__emulator/faults', { fail: { kind: 'meteor', count: 1 } });
    assert.equal(bad.status, 400);
    assert.match((bad.json as { error: string }).error, /unknown failure kind "meteor"/);

    const started = waitForEvent(mns.events, 'outage');
    const ended = waitForEvent(mns.events, 'outage-end');
    const outage = await adminRequest(mns, 'POST', '/__emulator/faults', { outageMs: 300 });
    assert.equal(outage.status, 200);
    await started;
    assert.equal((await publish(mns)).error, 'ECONNREFUSED');
    await ended;
    assert.equal((await publish(mns)).status, 201);
  });

  it('does not apply faults to the unsigned inspection API', async () => {
    mns.faults.fail({ kind: 'reset', count: 1 });
    const res = await adminRequest(mns, 'GET', '/__emulator');
    assert.equal(res.status, 200);
    assert.deepEqual(mns.faults.state().failures.map((f) => f.count), [1]);
  });
});
