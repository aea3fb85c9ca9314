// MNS publish: messages per second through the MNS topic out node (a real Node-RED runtime, through the
// @alicloud/mns adapter) to the local MNS, against a bare keep-alive HTTP client posting the same signed
// PublishMessage requests to the same server, with the same number of requests in flight, in the same run.
// p50/p99 latency (message in → answer) is printed for both sides. The local MNS runs in a child process, as the
// real service runs elsewhere: the client sides are measured, not the server sharing their CPU.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { helper, loadUninstrumented } from './runtime';
import credentialsModule from '../nodes/aliyun-credentials/aliyun-credentials';
import topicOutModule from '../nodes/aliyun-mns-topic-out/aliyun-mns-topic-out';
import { AccountBook } from '../emulators/accounts';
import { startMns } from '../emulators/mns';
import { compare, report, type Side, type Verdict } from './measure';

export const AK = { accessKeyId: 'LTAIbenchmns01', accessKeySecret: 'bench-mns-secret' };
const ACCOUNT = '1234567890123456';
/** Publishes in flight on both sides (the node's concurrency setting; the baseline's worker count). */
const CONCURRENCY = 16;
const BODY = JSON.stringify({ deviceName: 'dev01', temperature: 23.5, humidity: 61, note: 'a<b & "c"' });
const ROUND_TIMEOUT_MS = 60_000;

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latencyLine(name: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  return `${name} p50 ${percentile(s, 50).toFixed(2)} ms, p99 ${percentile(s, 99).toFixed(2)} ms`;
}

/** The baseline: http.Agent keep-alive, V2-signed PublishMessage (same headers the SDK sends), CONCURRENCY in flight. */
function bareClient(url: string, topic: string, latencies: number[]): Side {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(url);
  const resource = `/topics/${topic}/messages`;
  const publishOne = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>${escapeXml(BODY)}</MessageBody></Message>`, 'utf8');
      const date = new Date().toUTCString();
      const md5 = Buffer.from(createHash('md5').update(body).digest('hex'), 'utf8').toString('base64');
      const toSign = `POST\n${md5}\ntext/xml\n${date}\nx-mns-date:${date}\nx-mns-version:2015-06-06\n${resource}`;
      const signature = createHmac('sha1', AK.accessKeySecret).update(toSign, 'utf8').digest('base64');
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: resource,
          agent,
          headers: {
            date,
            'x-mns-date': date,
            'x-mns-version': '2015-06-06',
            'content-type': 'text/xml',
            'content-md5': md5,
            'content-length': body.length,
            authorization: `MNS ${AK.accessKeyId}:${signature}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 201 || !Buffer.concat(chunks).toString('utf8').includes('<MessageId>')) {
              reject(new Error(`bare client: HTTP ${res.statusCode}`));
              return;
            }
            latencies.push(performance.now() - t0);
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    name: 'bare http',
    async run(n: number): Promise<number> {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < n) {
          next++;
          await publishOne();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      return n;
    },
  };
}

/**
 * Ours: the same closed loop as the baseline — CONCURRENCY messages in the node at a time, the next one sent when
 * one comes out of output 1 — so both sides have the same number of publishes in flight and latencies compare.
 */
function nodeSide(latencies: number[], ids = { out: 'out', ok: 'ok', failed: 'failed' }, name = 'topic out'): Side {
  const out = helper.getNode(ids.out) as unknown as { receive(msg: unknown): void };
  const state = { sent: 0, answered: 0, target: 0, failed: 0, finish: undefined as undefined | ((err?: Error) => void) };
  const sendNext = (): void => {
    if (state.sent >= state.target) return;
    state.sent++;
    out.receive({ payload: BODY, t0: performance.now() });
  };
  const answered = (): void => {
    state.answered++;
    if (state.answered >= state.target) state.finish?.(state.failed > 0 ? new Error(`${state.failed} publishes failed`) : undefined);
    else sendNext();
  };
  helper.getNode(ids.ok).on('input', (msg: unknown) => {
    latencies.push(performance.now() - (msg as { t0: number }).t0);
    answered();
  });
  helper.getNode(ids.failed).on('input', (msg: unknown) => {
    state.failed++;
    console.log(`  topic out failed: ${(msg as { error?: { message?: string } }).error?.message}`);
    answered();
  });
  return {
    name,
    run(n: number): Promise<number> {
      return new Promise((resolve, reject) => {
        state.sent = 0;
        state.answered = 0;
        state.target = n;
        const timer = setTimeout(() => reject(new Error(`topic out: ${n - state.answered} of ${n} messages unanswered after ${ROUND_TIMEOUT_MS} ms`)), ROUND_TIMEOUT_MS);
        state.finish = (err) => {
          clearTimeout(timer);
          state.finish = undefined;
          if (err) reject(err);
          else resolve(n);
        };
        for (let i = 0; i < CONCURRENCY; i++) sendNext();
      });
    },
  };
}

/** Child-process mode: start the local MNS with the bench account and print its URL. */
async function serveMns(): Promise<void> {
  const accounts = new AccountBook();
  accounts.addAccessKey({ ...AK, accountId: ACCOUNT });
  const mns = await startMns({ accounts, accountId: ACCOUNT, topics: [{ name: 'bench' }], publishedLimit: 1000 });
  process.stdout.write(`MNS_URL ${mns.url}\n`);
  const stop = (): void => {
    void mns.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop); // the parent went away
  process.stdin.resume();
}

export function startMnsProcess(): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, __filename, '--serve-mns'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    const timer = setTimeout(() => reject(new Error('the local MNS child process did not start within 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /MNS_URL (\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.once('exit', (code) => reject(new Error(`the local MNS child process exited with ${code}`)));
  });
}

export async function benchMns(): Promise<Verdict[]> {
  console.log(`\nMNS publish — topic out node ÷ bare keep-alive HTTP client, same signed requests, same local MNS, ${CONCURRENCY} in flight on both sides (target ≥ 0.7×)`);
  const { url, child } = await startMnsProcess();
  const mns = { url };
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-outbox-'));
  helper.settings({ userDir } as never);
  try {
    await loadUninstrumented(
      [credentialsModule, topicOutModule],
      [
        { id: 'tab', type: 'tab' },
        { id: 'creds', z: 'tab', type: 'aliyun-credentials', mode: 'accessKey' },
        {
          id: 'out', z: 'tab', type: 'aliyun-mns-topic-out', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: mns.url,
          topic: 'bench', bodyEncoding: 'json', retries: '0', concurrency: String(CONCURRENCY), queueLimit: '100000', timeout: '10',
          outbox: 'memory', wires: [['ok'], ['failed']],
        },
        { id: 'ok', z: 'tab', type: 'helper' },
        { id: 'failed', z: 'tab', type: 'helper' },
        {
          id: 'outDisk', z: 'tab', type: 'aliyun-mns-topic-out', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: mns.url,
          topic: 'bench', bodyEncoding: 'json', retries: '0', concurrency: String(CONCURRENCY), timeout: '10',
          outbox: 'disk', wires: [['okDisk'], ['failedDisk']],
        },
        { id: 'okDisk', z: 'tab', type: 'helper' },
        { id: 'failedDisk', z: 'tab', type: 'helper' },
      ],
      { creds: { ...AK } },
    );
    const oursLatency: number[] = [];
    const baseLatency: number[] = [];
    const c = await compare('publish: topic out vs bare HTTP', nodeSide(oursLatency), bareClient(mns.url, 'bench', baseLatency), 2000, 5);
    const verdict = report(c, 0.7, 'topic-out', 'bare http');
    console.log(`  latency: ${latencyLine('topic-out', oursLatency)} · ${latencyLine('bare http', baseLatency)}`);

    // The durable outbox: the same node with its journal on (fsync before done, then publish) vs memory only. In a
    // closed loop of CONCURRENCY messages the fsync batch is at most CONCURRENCY; an open stream batches more.
    console.log(`\nMNS topic out — outbox on disk ÷ memory only, same local MNS, ${CONCURRENCY} in flight (target ≥ 0.7×)`);
    const diskLatency: number[] = [];
    const memLatency: number[] = [];
    const disk = nodeSide(diskLatency, { out: 'outDisk', ok: 'okDisk', failed: 'failedDisk' }, 'outbox on disk');
    const mem = nodeSide(memLatency, { out: 'out', ok: 'ok', failed: 'failed' }, 'memory only');
    const o = await compare('publish: outbox on disk vs memory only', disk, mem, 2000, 5);
    const outboxVerdict = report(o, 0.7, 'outbox on disk', 'memory only');
    const stats = (helper.getNode('outDisk') as unknown as { outboxStats(): { syncs: number; synced: number; maxBatch: number } }).outboxStats();
    console.log(`  fsync batches: ${stats.syncs} fsyncs for ${stats.synced} messages, ${(stats.synced / Math.max(1, stats.syncs)).toFixed(1)} per fsync on average, ${stats.maxBatch} at most`);
    console.log(`  latency: ${latencyLine('outbox on disk', diskLatency)} · ${latencyLine('memory only', memLatency)}`);
    return [verdict, outboxVerdict];
  } finally {
    await helper.unload();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

if (require.main === module && process.argv.includes('--serve-mns')) {
  serveMns().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else if (require.main === module) {
  benchMns().then((v) => {
    if (v.some((x) => !x.ok)) process.exitCode = 1;
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
