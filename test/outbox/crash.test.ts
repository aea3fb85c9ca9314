// The journal across crashes: a child process appends in a loop and reports every record that is durable; the parent
// kills it with SIGKILL at random (seeded) moments, several times, then reads the journal back: every record
// reported durable (and not removed) is there exactly once, every record read back is whole, nothing is invented.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal } from '../../lib/outbox';
import { bodyOf } from './crash-child';

const CHILD = path.join(__dirname, 'crash-child.ts');
const KILLS = 6;

/** mulberry32: a small seeded PRNG, so a failing run can be repeated with the same kill points. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the child until `afterOk` durable records were reported, plus a random extra delay; then SIGKILL. */
function runAndKill(dir: string, start: number, afterOk: number, extraMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ok: number[] = [];
    let rest = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ok ')) ok.push(Number(line.slice(3)));
      }
      if (ok.length >= afterOk && !killTimer) killTimer = setTimeout(() => child.kill('SIGKILL'), extraMs);
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`child ended by itself (code ${code}): ${stderr}`));
      else resolve(ok);
    });
  });
}

describe('outbox journal: SIGKILL at random moments while appending', function () {
  this.timeout(60_000);
  const seed = Number(process.env.OUTBOX_CRASH_SEED ?? 20_261_208);
  let dir: string;
  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-crash-'));
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`every record reported durable is read back exactly once, whole (seed ${seed}, ${KILLS} kills)`, async function () {
    const random = prng(seed);
    const durable: number[] = [];
    for (let run = 0; run < KILLS; run++) {
      const ok = await runAndKill(dir, run * 10_000_000, 200 + Math.floor(random() * 2000), Math.floor(random() * 150));
      assert.ok(ok.length > 0, `run ${run} made records durable`);
      durable.push(...ok);
    }
    const j = new Journal({ dir });
    const records = await j.open();
    await j.close();
    const seen = new Map<number, number>();
    for (const r of records) {
      const s = r.data.toString();
      const n = Number(s.slice(0, s.indexOf(':')));
      assert.equal(s, bodyOf(n), `record ${n} is whole`);
      seen.set(n, (seen.get(n) ?? 0) + 1);
    }
    const dupes = [...seen.entries()].filter(([, c]) => c > 1);
    assert.deepEqual(dupes, [], 'no record read back twice');
    const missing = durable.filter((n) => n % 3 !== 0 && !seen.has(n));
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} durable records missing`);
    // Replay order is append order within each run.
    const order = records.map((r) => Number(r.data.toString().split(':')[0]));
    const byRun = new Map<number, number[]>();
    for (const n of order) byRun.set(Math.floor(n / 10_000_000), [...(byRun.get(Math.floor(n / 10_000_000)) ?? []), n]);
    for (const [run, ns] of byRun) assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `run ${run} replays in append order`);
    console.log(`      ${durable.length} records reported durable over ${KILLS} kills; ${records.length} read back; torn tails skipped: ${j.stats.torn}`);
  });
});
