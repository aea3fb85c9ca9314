// Static checks of the editor side of the three IoT nodes, which the test helper never loads: a literal registerType,
// a template input for every default, i18n keys present in both catalogs (with the same key sets), help in both
// languages, icons, and credentials declared the same in HTML and runtime.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as acorn from 'acorn';

const root = path.resolve(__dirname, '../..');
type AnyNode = acorn.Node & Record<string, unknown>;

function walk(n: unknown, visit: (n: AnyNode) => void): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) {
    n.forEach((c) => walk(c, visit));
    return;
  }
  const node = n as AnyNode;
  if (typeof node.type === 'string') visit(node);
  for (const [k, v] of Object.entries(node)) if (k !== 'type' && v && typeof v === 'object') walk(v, visit);
}

function prop(def: AnyNode, name: string): AnyNode | undefined {
  return (def.properties as AnyNode[]).find((p) => (p.key as AnyNode).name === name)?.value as AnyNode | undefined;
}

function lookup(catalog: unknown, key: string): unknown {
  let v: unknown = catalog;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

function leafKeys(o: unknown, prefix = ''): string[] {
  if (!o || typeof o !== 'object') return [prefix];
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k));
}

const NODES = [
  { type: 'aliyun-iot-broker', config: true, paletteLabel: undefined, inputs: undefined, outputs: undefined, sections: { 'en-US': ['Details', 'References'], 'zh-CN': ['详情', '参考'] } },
  { type: 'aliyun-iot-device-in', config: false, paletteLabel: 'IoT device in', inputs: 0, outputs: 1, sections: { 'en-US': ['Outputs', 'Details'], 'zh-CN': ['输出', '详情'] } },
  { type: 'aliyun-iot-amqp-in', config: false, paletteLabel: 'IoT server subscription', inputs: 0, outputs: 1, sections: { 'en-US': ['Outputs', 'Details', 'References'], 'zh-CN': ['输出', '详情', '参考'] } },
  { type: 'aliyun-iot-device-out', config: false, paletteLabel: 'IoT device out', inputs: 1, outputs: 1, sections: { 'en-US': ['Inputs', 'Outputs', 'Details', 'References'], 'zh-CN': ['输入', '输出', '详情', '参考'] } },
];

for (const spec of NODES) {
  const TYPE = spec.type;
  const dir = path.join(root, 'nodes', TYPE);
  const html = fs.readFileSync(path.join(dir, `${TYPE}.html`), 'utf8');
  const runtime = fs.readFileSync(path.join(dir, `${TYPE}.ts`), 'utf8');
  const catalogs: Record<string, unknown> = {
    'en-US': JSON.parse(fs.readFileSync(path.join(dir, 'locales/en-US', `${TYPE}.json`), 'utf8')),
    'zh-CN': JSON.parse(fs.readFileSync(path.join(dir, 'locales/zh-CN', `${TYPE}.json`), 'utf8')),
  };
  const js = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  const template = (new RegExp(`<script type="text/html" data-template-name="${TYPE}">([\\s\\S]*?)</script>`).exec(html) ?? [])[1] ?? '';

  const registerType = (): AnyNode => {
    const found: AnyNode[] = [];
    for (const src of js) {
      walk(acorn.parse(src, { ecmaVersion: 2020 }), (n) => {
        const callee = n.callee as AnyNode | undefined;
        const args = n.arguments as AnyNode[] | undefined;
        if (n.type === 'CallExpression' && callee?.type === 'MemberExpression' && (callee.property as AnyNode).name === 'registerType') {
          assert.equal(args?.[0]?.value, TYPE);
          found.push(args?.[1] as AnyNode);
        }
      });
    }
    assert.equal(found.length, 1, 'exactly one registerType call');
    return found[0];
  };

  describe(`${TYPE} editor HTML (static)`, function () {
    it('has a literal registerType with the fields the editor and the scorecard read', function () {
      const def = registerType();
      assert.equal(prop(def, 'category')?.value, spec.config ? 'config' : 'Alibaba Cloud');
      assert.equal(prop(def, 'defaults')?.type, 'ObjectExpression');
      if (!spec.config) {
        assert.equal(prop(def, 'paletteLabel')?.value, spec.paletteLabel);
        assert.equal(prop(def, 'icon')?.value, `${TYPE}.svg`);
        assert.equal(prop(def, 'inputs')?.value, spec.inputs);
        assert.equal(prop(def, 'outputs')?.value, spec.outputs);
        assert.ok(fs.existsSync(path.join(root, 'icons', `${TYPE}.svg`)), 'icon file exists');
        assert.match(fs.readFileSync(path.join(root, 'icons', `${TYPE}.svg`), 'utf8'), /viewBox="0 0 40 60"/);
      }
      assert.match(runtime, new RegExp(`const TYPE = '${TYPE}'`));
    });

    it('has a template input for every default, and declares the same credentials as the runtime', function () {
      const def = registerType();
      const prefix = spec.config ? 'node-config-input-' : 'node-input-';
      const keys = ((prop(def, 'defaults') as AnyNode).properties as AnyNode[]).map((p) => String((p.key as AnyNode).name));
      assert.ok(!keys.includes('credentials'), '"credentials" is reserved by Node-RED');
      for (const key of keys) assert.ok(template.includes(`id="${prefix}${key}"`), `default '${key}' has an input`);
      const creds = prop(def, 'credentials');
      if (creds) {
        const names = (creds.properties as AnyNode[]).map((p) => String((p.key as AnyNode).name));
        for (const name of names) {
          assert.ok(template.includes(`id="${prefix}${name}"`), `credential '${name}' has an input`);
          assert.match(runtime, new RegExp(`${name}: \\{ type: '(password|text)' \\}`), `runtime declares credential ${name}`);
        }
      }
    });

    it('uses only i18n keys that exist in both catalogs, which have the same keys', function () {
      const keys = new Set<string>();
      for (const m of html.matchAll(/data-i18n="([^"]+)"/g)) for (const part of m[1].split(';')) keys.add(part.replace(/^\[[^\]]+\]/, ''));
      for (const m of html.matchAll(/\b_\('([^']+)'\s*[,)]/g)) keys.add(m[1]);
      for (const m of runtime.matchAll(/\bt\('([^']+)'/g)) keys.add(`${TYPE}.${m[1]}`);
      assert.ok(keys.size > 8, `found ${keys.size} keys`);
      for (const [lang, catalog] of Object.entries(catalogs)) {
        for (const key of keys) assert.equal(typeof lookup(catalog, key), 'string', `${lang} lacks '${key}'`);
      }
      assert.deepEqual(leafKeys(catalogs['zh-CN']).sort(), leafKeys(catalogs['en-US']).sort());
    });

    it('has help in both languages with the Node-RED sections', function () {
      for (const [lang, sections] of Object.entries(spec.sections)) {
        const help = fs.readFileSync(path.join(dir, 'locales', lang, `${TYPE}.html`), 'utf8');
        assert.match(help.trim(), new RegExp(`^<script type="text/html" data-help-name="${TYPE}">\\s*<p>`), `${lang}: summary paragraph first`);
        for (const h of sections) assert.ok(help.includes(`<h3>${h}</h3>`), `${lang}: section ${h}`);
      }
    });
  });
}
