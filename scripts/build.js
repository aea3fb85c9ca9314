'use strict';
// Build: compile TypeScript to CommonJS in dist/, then put each node's editor HTML, locales and the
// shared icons beside its compiled JS, where the Node-RED loader looks for them.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
// Files Node-RED serves to the editor at /resources/<package name>/... (the package's resources/ folder).
const resources = path.join(root, 'resources');

fs.rmSync(dist, { recursive: true, force: true });
fs.rmSync(resources, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
  cwd: root,
});

function copyDir(from, to, filter) {
  if (!fs.existsSync(from)) return;
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(src, dst, filter);
    else if (!filter || filter(entry.name)) fs.copyFileSync(src, dst);
  }
}

const nodesDir = path.join(root, 'nodes');
for (const type of fs.readdirSync(nodesDir)) {
  const srcDir = path.join(nodesDir, type);
  if (!fs.statSync(srcDir).isDirectory()) continue;
  const outDir = path.join(dist, 'nodes', type);
  fs.mkdirSync(outDir, { recursive: true });
  // The editor definition sits next to the JS with the same base name (Node-RED loader rule).
  copyDir(srcDir, outDir, (name) => name.endsWith('.html'));
  copyDir(path.join(srcDir, 'locales'), path.join(outDir, 'locales'));
  // Icons are looked up in <dir of js>/icons; every node gets the package's icon set.
  copyDir(path.join(root, 'icons'), path.join(outDir, 'icons'));
}

// Non-TypeScript runtime assets that live next to library code (e.g. emulator certificates, editor scripts).
for (const dir of ['lib', 'emulators']) {
  copyDir(path.join(root, dir), path.join(dist, dir), (name) => /\.(json|pem|html|css|txt)$/.test(name) && !name.endsWith('.d.ts'));
}

// The SQL rule dialog checks the SQL as the user types with the same lib/sql the node runs, compiled for the
// browser: one script that defines window.AliyunIotSqlEngine.check(sql, options). Buffer and node:crypto are the
// only Node parts the compiler touches (constant folding); small stand-ins replace them (see the shim files).
const browserDir = path.join(root, 'nodes', 'aliyun-iot-sql-rule', 'browser');
require('esbuild').buildSync({
  entryPoints: [path.join(browserDir, 'sql-check.ts')],
  outfile: path.join(resources, 'aliyun-iot-sql-engine.js'),
  bundle: true,
  format: 'iife',
  globalName: 'AliyunIotSqlEngine',
  platform: 'browser',
  target: ['es2020'],
  inject: [path.join(browserDir, 'buffer-shim.ts')],
  alias: { 'node:crypto': path.join(browserDir, 'crypto-shim.ts') },
  banner: { js: '// node-red-contrib-aliyun-iot-mns: the rule SQL compiler (lib/sql) for the editor. Built by scripts/build.js.' },
  logLevel: 'warning',
});
console.log('build: dist/ and resources/ ready');
