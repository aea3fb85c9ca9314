// The public entry `require('node-red-contrib-aliyun-iot-mns/sql')` (DESIGN.md) works from the BUILT package:
// resolved by package name through the "exports" map, evaluated, with its type declarations in place.
// npm test builds first; run alone, this needs `npm run build` beforehand.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import type * as SqlApi from '../../../lib/sql';

const root = path.resolve(__dirname, '../../..');
const NAME = 'node-red-contrib-aliyun-iot-mns';
const ENTRY = `${NAME}/sql`;
const built = path.join(root, 'dist/lib/sql/index.js');

function requireBuilt(): typeof SqlApi {
  assert.ok(fs.existsSync(built), `dist/lib/sql/index.js is missing: run \`npm run build\` first (npm test does it)`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the point is to load it by package name, as users do
  return require(ENTRY) as typeof SqlApi;
}

describe('public API: require("node-red-contrib-aliyun-iot-mns/sql") from the built package', function () {
  it('resolves by package name through "exports" to dist/, not to the TypeScript source', function () {
    requireBuilt();
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string> };
    assert.equal(pkg.name, NAME);
    assert.equal(pkg.exports['./sql'], './dist/lib/sql/index.js');
    assert.equal(require.resolve(ENTRY), built);
  });

  it('compiles and evaluates a rule: output, filtered, no-match, dropped', function () {
    const { compileRule } = requireBuilt();
    const rule = compileRule(
      `SELECT deviceName() AS deviceName, items.temperature.value AS t, timestamp('yyyy-MM-dd HH:mm') AS at
       FROM "/sys/a1B2c3D4e5F/+/thing/event/property/post" WHERE items.temperature.value > 35`,
    );
    const post = (v: number): string => JSON.stringify({ id: '1', version: '1.0', method: 'thing.event.property.post', params: { temperature: v } });
    const topic = '/sys/a1B2c3D4e5F/dev01/thing/event/property/post';
    const now = Date.UTC(2018, 9, 25, 16, 0); // 2018-10-26 00:00 in GMT+8, the default timezone
    assert.deepEqual(rule.evaluate({ topic, payload: Buffer.from(post(38.5)), now }),
      { outcome: 'output', output: { deviceName: 'dev01', t: 38.5, at: '2018-10-26 00:00' } });
    assert.equal(rule.evaluate({ topic, payload: post(20), now }).outcome, 'filtered');
    assert.equal(rule.evaluate({ topic: '/a1B2c3D4e5F/dev01/user/update', payload: '{}' }).outcome, 'no-match');
    const dropped = rule.evaluate({ topic, payload: 'temperature=38' });
    assert.equal(dropped.outcome, 'dropped');
    assert.match(dropped.reason ?? '', /not valid JSON/);
  });

  it('throws SqlError with 1-based line and column for invalid SQL', function () {
    const { compileRule, SqlError } = requireBuilt();
    assert.throws(() => compileRule('SELECT a,\n  devicename() AS d FROM "/pk/+/user/a"'), (e: unknown) => {
      assert.ok(e instanceof SqlError, 'an instance of the exported SqlError');
      assert.equal(e.message, "Unknown function 'devicename' at 2:3 — did you mean deviceName()?");
      assert.equal(e.line, 2);
      assert.equal(e.column, 3);
      return true;
    });
  });

  it('ships type declarations that TypeScript finds for the subpath', function () {
    requireBuilt();
    for (const f of ['index.d.ts', 'types.d.ts']) {
      assert.ok(fs.existsSync(path.join(root, 'dist/lib/sql', f)), `dist/lib/sql/${f} missing: the build must emit declarations`);
    }
    const dts = fs.readFileSync(path.join(root, 'dist/lib/sql/index.d.ts'), 'utf8');
    assert.match(dts, /\bcompileRule\b/);
    assert.match(dts, /\bSqlError\b/);
    const options: ts.CompilerOptions = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };
    const resolved = ts.resolveModuleName(ENTRY, path.join(root, 'test/sql/api/consumer.ts'), options, ts.sys);
    assert.equal(resolved.resolvedModule?.resolvedFileName, path.join(root, 'dist/lib/sql/index.d.ts'));
  });

  it('works for an integrator who installed the package (plain node, outside this folder)', function () {
    requireBuilt();
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'sql-api-'));
    try {
      fs.mkdirSync(path.join(app, 'node_modules'));
      fs.symlinkSync(root, path.join(app, 'node_modules', NAME), 'dir');
      const script = [
        `const { compileRule } = require(${JSON.stringify(ENTRY)});`,
        `const r = compileRule('SELECT a, topic(2) AS d FROM "/pk/+/user/a"').evaluate({ topic: '/pk/dev9/user/a', payload: '{"a":1}' });`,
        'process.stdout.write(JSON.stringify(r));',
      ].join('\n');
      const out = execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' });
      assert.deepEqual(JSON.parse(out), { outcome: 'output', output: { a: 1, d: 'dev9' } });
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  });
});
