// The SQL rule dialog checks the SQL with resources/aliyun-iot-sql-engine.js, lib/sql built for the browser by
// scripts/build.js. Its verdict (compiles, or SqlError line:column message) must be the node's for every rule the
// SQL conformance suite compiles: the suite is run once with a recorder of its compileRule calls, then each recorded
// rule is checked by the bundle in a bare JavaScript context (no require, Buffer or process: only what a browser
// has) and by lib/sql in this process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { createHash } from 'node:crypto';
import { compileRule, SqlError, type CompileOptions } from '../../../lib/sql';
import { createHash as editorHash } from '../../../nodes/aliyun-iot-sql-rule/browser/crypto-shim';

const ROOT = path.resolve(__dirname, '../../..');
const BUNDLE = path.join(ROOT, 'resources', 'aliyun-iot-sql-engine.js');

interface Recorded {
  sql: string;
  options: CompileOptions | null;
}
type Verdict = { ok: true } | { ok: false; line?: number; column?: number; message: string };
interface Engine {
  check(sql: string, options?: CompileOptions): Verdict;
}

/** The bundle, evaluated with the globals a browser page has and nothing from Node. */
function loadBundle(): Engine {
  const context: Record<string, unknown> = { TextEncoder, TextDecoder, btoa, crypto: globalThis.crypto };
  context.globalThis = context;
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(BUNDLE, 'utf8'), context, { filename: BUNDLE });
  const engine = context.AliyunIotSqlEngine as Engine | undefined;
  assert.ok(engine && typeof engine.check === 'function', 'the bundle defines AliyunIotSqlEngine.check');
  return engine;
}

function runtimeVerdict(sql: string, options: CompileOptions | undefined): Verdict {
  try {
    compileRule(sql, options);
    return { ok: true };
  } catch (err) {
    if (err instanceof SqlError) return { ok: false, line: err.line, column: err.column, message: err.message };
    return { ok: false, message: (err as Error).message };
  }
}

function editorVerdict(engine: Engine, sql: string, options: CompileOptions | undefined): Verdict {
  const v = JSON.parse(JSON.stringify(engine.check(sql, options ?? {}))) as Verdict & { problem?: string; hint?: string };
  if (v.ok) return { ok: true };
  const { ok, line, column, message } = v;
  return line === undefined ? { ok, message } : { ok, line, column, message };
}

describe('SQL rule editor engine (the browser bundle of lib/sql)', function () {
  this.timeout(180_000);
  let engine: Engine;
  let corpus: Recorded[] = [];

  before(async () => {
    assert.ok(fs.existsSync(BUNDLE), `${BUNDLE} is missing: run \`npm run build\``);
    engine = loadBundle();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sql-corpus-'));
    const out = path.join(dir, 'calls.json');
    try {
      await new Promise<void>((resolve, reject) => {
        execFile(
          process.execPath,
          [require.resolve('mocha/bin/mocha.js'), '--reporter', 'dot', '--require', path.join(__dirname, 'record-compiles.cjs'), 'test/sql/conformance/*.test.ts'],
          { cwd: ROOT, env: { ...process.env, RECORD_COMPILES_TO: out }, maxBuffer: 16 * 1024 * 1024 },
          (err, _stdout, stderr) => (err ? reject(new Error(`the conformance suite failed: ${err.message}\n${stderr}`)) : resolve()),
        );
      });
      const calls = JSON.parse(fs.readFileSync(out, 'utf8')) as Recorded[];
      const seen = new Set<string>();
      corpus = calls.filter((c) => {
        const key = JSON.stringify(c);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the runtime verdict (ok, or line:column and message) for every rule of the conformance corpus', () => {
    // The corpus is large and mixed; a recorder that saw nothing would make this test empty.
    assert.ok(corpus.length > 300, `only ${corpus.length} rules recorded from the conformance suite`);
    const verdicts = corpus.map((c) => runtimeVerdict(c.sql, c.options ?? undefined));
    const refused = verdicts.filter((v) => !v.ok).length;
    assert.ok(refused > 50 && corpus.length - refused > 200, `corpus mix: ${refused} refused of ${corpus.length}`);
    assert.ok(corpus.some((c) => /crypto\(\s*'/.test(c.sql)) || corpus.some((c) => /crypto\(/.test(c.sql)), 'the corpus exercises crypto()');

    const differences: string[] = [];
    corpus.forEach((c, i) => {
      const editor = editorVerdict(engine, c.sql, c.options ?? undefined);
      try {
        assert.deepEqual(editor, verdicts[i]);
      } catch {
        differences.push(`${JSON.stringify(c.sql)} ${JSON.stringify(c.options)}: editor ${JSON.stringify(editor)}, runtime ${JSON.stringify(verdicts[i])}`);
      }
    });
    assert.deepEqual(differences, [], `${differences.length} of ${corpus.length} rules get another verdict in the editor`);
  });

  it('folds constant crypto() and binary-rule functions the way the runtime does', () => {
    // Constant folding runs functions while compiling; these need the Buffer and node:crypto stand-ins.
    const cases: Array<[string, CompileOptions]> = [
      [`SELECT crypto('abc', 'MD2') AS a, crypto('abc', 'SHA-256') AS b, crypto(123, 'MD5') AS c FROM "/a/+/user/x"`, {}],
      [`SELECT -crypto('abc', 'MD5') AS a FROM "/a/+/user/x"`, {}],
      [`SELECT crypto('abc', 'SHA-512') + 1 AS a FROM "/a/+/user/x"`, {}],
      [`SELECT crypto('abc', 'WHIRLPOOL') AS a FROM "/a/+/user/x"`, {}],
      [`SELECT to_base64(*) AS b, to_hex(*) AS h, newuuid() AS u FROM "/a/+/user/x"`, { dataType: 'BINARY' }],
      [`SELECT FROM WHERE`, {}],
    ];
    for (const [sql, options] of cases) {
      assert.deepEqual(editorVerdict(engine, sql, options), runtimeVerdict(sql, options), sql);
    }
    assert.deepEqual(editorVerdict(engine, 'SELECT FROM WHERE', {}), runtimeVerdict('SELECT FROM WHERE', {}));
    assert.equal(editorVerdict(engine, 'SELECT FROM WHERE', {}).ok, false);
  });

  it("the editor's digests equal node:crypto's at every padding boundary", () => {
    for (const alg of ['md5', 'sha1', 'sha256', 'sha384', 'sha512']) {
      for (const n of [0, 1, 55, 56, 63, 64, 65, 111, 112, 119, 127, 128, 129, 1000]) {
        const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
        assert.equal(editorHash(alg).update(bytes).digest(), createHash(alg).update(bytes).digest('hex'), `${alg} of ${n} bytes`);
      }
      assert.equal(editorHash(alg).update('中文 text').digest(), createHash(alg).update('中文 text', 'utf8').digest('hex'), `${alg} of text`);
    }
  });

  it('is a browser script: no require, Node built-ins or process in the bundle', () => {
    const text = fs.readFileSync(BUNDLE, 'utf8');
    assert.doesNotMatch(text, /\brequire\(|["']node:|\bprocess\./);
  });
});
