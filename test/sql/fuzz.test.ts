// Issue 9: a seeded fuzzer mutates the conformance suite's SQL and checks that the engine never aborts, hangs, throws
// anything but SqlError from compileRule, throws from evaluate, takes over 1 s for one compile or evaluate, or
// changes Object.prototype. It runs in a child process (fuzz/fuzz-worker.ts) so that a V8 abort — which no `try`
// can catch — fails this test instead of killing mocha. About 20 s of fuzzing; the seed is printed, and
// SQL_FUZZ_SEED=<seed> (also SQL_FUZZ_SECONDS, SQL_FUZZ_ITERATIONS) reproduces a run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';

const WORKER = path.join(__dirname, 'fuzz', 'fuzz-worker.ts');
const FUZZ_SECONDS = Number(process.env.SQL_FUZZ_SECONDS ?? 20);
/** The worker stops by itself after FUZZ_SECONDS; past this it is hung, and killed. */
const HANG_MS = (FUZZ_SECONDS + 40) * 1000;

interface Summary {
  seed: number;
  iterations: number;
  corpus: number;
  compiled: number;
  refused: number;
  evaluations: number;
  outcomes: Record<string, number>;
  maxCompileMs: number;
  maxEvaluateMs: number;
  seconds: number;
  findingCount: number;
  findings: { iteration: number; kind: string; detail: string; sql: string }[];
}

describe('sql engine: seeded fuzzing of the conformance corpus (issue 9)', function () {
  this.timeout(HANG_MS + 10_000);

  it('never aborts, hangs, throws the wrong thing, takes over 1 s, or changes Object.prototype', async function () {
    const seed = process.env.SQL_FUZZ_SEED ?? String((Date.now() ^ (process.pid << 8)) >>> 0);
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env: { ...process.env, SQL_FUZZ_SEED: seed, SQL_FUZZ_SECONDS: String(FUZZ_SECONDS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 20_000) stderr += d; });
    let hung = false;
    const killer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, HANG_MS);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.on('close', (c, s) => resolve([c, s]));
    });
    clearTimeout(killer);
    const repro = `reproduce with: SQL_FUZZ_SEED=${seed} node --import tsx test/sql/fuzz/fuzz-worker.ts`;
    assert.ok(!hung, `the fuzzer hung for ${HANG_MS} ms (seed ${seed}); ${repro}\n${stderr.slice(-3000)}`);
    const line = stdout.trim().split('\n').pop() ?? '';
    let summary: Summary | undefined;
    try { summary = JSON.parse(line) as Summary; } catch { summary = undefined; }
    assert.ok(summary && signal === null && (code === 0 || code === 1),
      `the fuzzer process died (exit ${code}, signal ${signal}, seed ${seed}): a V8 abort or crash; ${repro}\n${stderr.slice(-3000)}`);
    console.log(`      seed ${summary.seed}: ${summary.iterations} mutants of ${summary.corpus} statements in ${summary.seconds} s; `
      + `${summary.compiled} compiled, ${summary.refused} refused with SqlError, ${summary.evaluations} evaluations `
      + `(${Object.entries(summary.outcomes).map(([k, v]) => `${v} ${k}`).join(', ')}); slowest compile `
      + `${summary.maxCompileMs.toFixed(0)} ms, slowest evaluate ${summary.maxEvaluateMs.toFixed(0)} ms`);
    assert.deepEqual(summary.findings, [], `${summary.findingCount} finding(s) with seed ${seed}; ${repro}`);
    assert.equal(code, 0);
    // The run did real work: the corpus was found and mutants both compiled and were refused.
    assert.ok(summary.corpus >= 100, `only ${summary.corpus} corpus statements found in test/sql/conformance`);
    assert.ok(summary.iterations >= 200, `only ${summary.iterations} mutants in ${summary.seconds} s`);
    assert.ok(summary.compiled > 0 && summary.refused > 0 && summary.evaluations > 0);
  });
});
