// The Node-RED Flow Library scorecard checks that can run offline (see ../shared/spec/node-red.md §2), done by our own
// code so that the silent skips of node-red-dev (N02 passing when an HTML file is missing) cannot hide a problem.
// Runs against the built package (npm test builds first).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as acorn from 'acorn';
import semver from 'semver';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// Recorded from the npm registry (node-red dist-tags and the engines of `latest`); refresh when node-red moves.
const NODE_RED_LATEST = '5.0.7';
const NODE_RED_LATEST_ENGINES_NODE = '>=22.9.0';

interface Definition {
  type: string;
  category?: string;
  defaults: string[];
  credentials: string[];
}

/** Reads every literal `RED.nodes.registerType('<type>', {...})` in the `text/javascript` blocks of an editor HTML file. */
function definitionsIn(html: string): Definition[] {
  const defs: Definition[] = [];
  const blocks = [...html.matchAll(/<script\s+type="text\/javascript"\s*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  for (const code of blocks) {
    const ast = acorn.parse(code, { ecmaVersion: 'latest' }) as unknown as acorn.Node;
    walk(ast, (n) => {
      const call = n as unknown as { type: string; callee?: { type: string; property?: { name?: string } }; arguments?: Array<Record<string, unknown>> };
      if (call.type !== 'CallExpression' || call.callee?.type !== 'MemberExpression' || call.callee.property?.name !== 'registerType') return;
      const [typeArg, defArg] = call.arguments ?? [];
      assert.equal(typeArg?.type, 'Literal', 'registerType must be called with a literal type name');
      assert.equal(defArg?.type, 'ObjectExpression', 'registerType must be called with an inline object literal');
      const props = defArg.properties as Array<{ key: { name?: string; value?: string }; value: Record<string, unknown> }>;
      const get = (name: string) => props.find((p) => (p.key.name ?? p.key.value) === name)?.value;
      const keysOf = (v: Record<string, unknown> | undefined) =>
        v && v.type === 'ObjectExpression'
          ? (v.properties as Array<{ key: { name?: string; value?: string } }>).map((p) => String(p.key.name ?? p.key.value))
          : [];
      const category = get('category');
      if (category) assert.equal(category.type, 'Literal', `${String(typeArg.value)}: category must be a literal`);
      defs.push({
        type: String(typeArg.value),
        category: category ? String(category.value) : undefined,
        defaults: keysOf(get('defaults')),
        credentials: keysOf(get('credentials')),
      });
    });
  }
  return defs;
}

function walk(node: unknown, visit: (n: unknown) => void): void {
  if (!node || typeof node !== 'object') return;
  visit(node);
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) value.forEach((v) => walk(v, visit));
    else if (value && typeof value === 'object' && 'type' in value) walk(value, visit);
  }
}

function exampleFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? exampleFiles(path.join(dir, e.name)) : e.name.endsWith('.json') ? [path.join(dir, e.name)] : [],
  );
}

describe('package: flow-library scorecard (offline checks)', () => {
  const nodeSets = Object.entries(pkg['node-red']?.nodes ?? {}) as Array<[string, string]>;
  const allDefs: Definition[] = [];
  for (const [, jsPath] of nodeSets) {
    const html = path.join(root, jsPath.replace(/\.c?js$/, '.html'));
    if (fs.existsSync(html)) allDefs.push(...definitionsIn(fs.readFileSync(html, 'utf8')));
  }

  it('P01 has a license, and a LICENSE file ships', () => {
    assert.ok(pkg.license, 'package.json needs "license"');
    assert.ok(fs.existsSync(path.join(root, 'LICENSE')), 'LICENSE file missing');
  });

  it('P03 names its repository and bug tracker', () => {
    assert.ok(pkg.repository?.url, 'package.json needs repository.url');
    assert.ok(pkg.bugs?.url, 'package.json needs bugs.url');
  });

  it('P04 name follows the naming rule for unscoped node-red packages', () => {
    const name: string = pkg.name;
    assert.ok(name.startsWith('@') || !/^(node-red|nodered)(?!-contrib-)/.test(name), `${name} breaks the naming rule`);
  });

  it('P05 keywords include node-red', () => {
    assert.ok(Array.isArray(pkg.keywords) && pkg.keywords.includes('node-red'));
  });

  it('P06 node-red.version admits the current node-red release', () => {
    assert.ok(semver.satisfies(NODE_RED_LATEST, pkg['node-red'].version), `${pkg['node-red'].version} excludes ${NODE_RED_LATEST}`);
    // and the dev runtime we test with
    const dev = JSON.parse(fs.readFileSync(require.resolve('node-red/package.json'), 'utf8')).version;
    assert.ok(semver.satisfies(dev, pkg['node-red'].version), `${pkg['node-red'].version} excludes the tested ${dev}`);
  });

  it('P07 engines.node is satisfied by the Node.js that the current node-red needs', () => {
    const min = semver.minVersion(NODE_RED_LATEST_ENGINES_NODE)!.version;
    assert.ok(semver.satisfies(min, pkg.engines.node), `engines.node ${pkg.engines.node} excludes ${min}`);
    assert.ok(semver.satisfies(process.version, pkg.engines.node), `engines.node excludes this machine's ${process.version}`);
  });

  it('every node set has its compiled JS and its editor HTML side by side, with help', () => {
    assert.ok(nodeSets.length > 0, 'package.json lists no nodes');
    for (const [set, jsPath] of nodeSets) {
      const js = path.join(root, jsPath);
      const html = js.replace(/\.c?js$/, '.html');
      assert.ok(fs.existsSync(js), `${set}: ${jsPath} missing (did the build run?)`);
      assert.ok(fs.existsSync(html), `${set}: ${path.relative(root, html)} missing`);
      const text = fs.readFileSync(html, 'utf8');
      const defs = definitionsIn(text);
      assert.ok(defs.length > 0, `${set}: no literal registerType in a text/javascript block`);
      for (const d of defs) {
        assert.ok(text.includes(`data-template-name="${d.type}"`), `${d.type}: no edit template`);
        for (const lang of ['en-US', 'zh-CN']) {
          const help = path.join(path.dirname(js), 'locales', lang, `${path.basename(js, '.js')}.html`);
          const inline = lang === 'en-US' && text.includes(`data-help-name="${d.type}"`);
          assert.ok(inline || fs.existsSync(help), `${d.type}: no ${lang} help`);
          const catalog = path.join(path.dirname(js), 'locales', lang, `${path.basename(js, '.js')}.json`);
          assert.ok(fs.existsSync(catalog), `${d.type}: no ${lang} message catalog`);
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the built file exactly as Node-RED does
        const mod = require(js);
        const fn = mod.__esModule ? mod.default : mod;
        assert.equal(typeof fn, 'function', `${set}: module must export the Node-RED init function`);
      }
    }
  });

  it('N01 node types are unique and vendor-prefixed', () => {
    const types = allDefs.map((d) => d.type);
    assert.equal(new Set(types).size, types.length, `duplicate types: ${types}`);
    for (const t of types) assert.match(t, /^aliyun-/, `${t} should carry the aliyun- prefix`);
  });

  it('N02 every non-config node appears in an example flow', () => {
    const used = new Set<string>();
    for (const f of exampleFiles(path.join(root, 'examples'))) {
      const flow = JSON.parse(fs.readFileSync(f, 'utf8'));
      assert.ok(Array.isArray(flow), `${path.relative(root, f)} is not a flow array`);
      for (const n of flow) used.add(n.type);
    }
    for (const d of allDefs) {
      if (d.category === 'config') continue;
      assert.ok(used.has(d.type), `${d.type} has no example in examples/`);
    }
  });

  it('D01 has 6 dependencies or fewer, and node-red is not one of them', () => {
    const deps = Object.keys(pkg.dependencies ?? {});
    assert.ok(deps.length <= 6, `${deps.length} dependencies: ${deps.join(', ')}`);
    assert.ok(!deps.includes('node-red'));
  });

  it('ships CommonJS and no ESM-only marker', () => {
    assert.notEqual(pkg.type, 'module');
  });
});
