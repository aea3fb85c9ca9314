// Static checks of the editor side, which the test helper never loads: the definition the Flow Library scorecard
// parses, the template inputs for every default, the i18n keys in both catalogs, the help, the icon.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as acorn from 'acorn';
import {
  MAX_DATE_PATTERN_LENGTH, MAX_EXPRESSION_DEPTH, MAX_MD2_INPUT, MAX_RULE_LENGTH, MAX_TEXT_LENGTH, MAX_TEXT_PER_EVALUATION,
} from '../../../lib/sql';

const root = path.resolve(__dirname, '../../..');
const dir = path.join(root, 'nodes/aliyun-iot-sql-rule');
const TYPE = 'aliyun-iot-sql-rule';
const html = fs.readFileSync(path.join(dir, `${TYPE}.html`), 'utf8');
const runtime = fs.readFileSync(path.join(dir, `${TYPE}.ts`), 'utf8');
const catalogs: Record<string, unknown> = {
  'en-US': JSON.parse(fs.readFileSync(path.join(dir, 'locales/en-US', `${TYPE}.json`), 'utf8')),
  'zh-CN': JSON.parse(fs.readFileSync(path.join(dir, 'locales/zh-CN', `${TYPE}.json`), 'utf8')),
};

type AnyNode = acorn.Node & Record<string, unknown>;

function scriptBlocks(type: string): string[] {
  const re = new RegExp(`<script type="${type.replace('/', '\\/')}"([^>]*)>([\\s\\S]*?)<\\/script>`, 'g');
  return [...html.matchAll(re)].map((m) => m[2]);
}

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

function findRegisterType(): { type: string; def: AnyNode } {
  const found: Array<{ type: string; def: AnyNode }> = [];
  for (const src of scriptBlocks('text/javascript')) {
    const ast = acorn.parse(src, { ecmaVersion: 2020 });
    walk(ast, (n) => {
      if (n.type !== 'CallExpression') return;
      const callee = n.callee as AnyNode;
      const args = n.arguments as AnyNode[];
      if (callee.type === 'MemberExpression' && (callee.property as AnyNode).name === 'registerType' && args[0]?.type === 'Literal') {
        found.push({ type: String(args[0].value), def: args[1] });
      }
    });
  }
  assert.equal(found.length, 1, 'exactly one registerType call in a text/javascript block');
  return found[0];
}

function prop(def: AnyNode, name: string): AnyNode | undefined {
  return (def.properties as AnyNode[]).find((p) => (p.key as AnyNode).name === name || (p.key as AnyNode).value === name)
    ?.value as AnyNode | undefined;
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

describe('aliyun-iot-sql-rule editor HTML (static)', function () {
  it('has a literal registerType with the scorecard fields', function () {
    const { type, def } = findRegisterType();
    assert.equal(type, TYPE);
    assert.equal(def.type, 'ObjectExpression');
    for (const [name, expected] of [['category', 'Alibaba Cloud'], ['icon', `${TYPE}.svg`], ['inputs', 1], ['outputs', 1]] as const) {
      const v = prop(def, name);
      assert.equal(v?.type, 'Literal', `${name} must be a literal`);
      assert.equal(v?.value, expected, name);
    }
    // The palette label is translated: a function returning this._('<type>.paletteLabel'), present in both catalogs.
    const palette = prop(def, 'paletteLabel');
    assert.equal(palette?.type, 'FunctionExpression', 'paletteLabel is a function so it can be translated');
    const calls: string[] = [];
    walk(palette, (n) => {
      const callee = n.callee as AnyNode | undefined;
      const args = n.arguments as AnyNode[] | undefined;
      if (n.type === 'CallExpression' && callee?.type === 'MemberExpression' && (callee.object as AnyNode).type === 'ThisExpression'
        && (callee.property as AnyNode).name === '_' && args?.[0]?.type === 'Literal') calls.push(String(args[0].value));
    });
    assert.deepEqual(calls, [`${TYPE}.paletteLabel`]);
    assert.equal(lookup(catalogs['en-US'], `${TYPE}.paletteLabel`), 'SQL rule');
    assert.equal(lookup(catalogs['zh-CN'], `${TYPE}.paletteLabel`), 'SQL 规则');
    assert.equal(prop(def, 'color')?.type, 'Literal');
    assert.equal(prop(def, 'defaults')?.type, 'ObjectExpression', 'defaults must be inline');
    assert.ok(prop(def, 'outputLabels'), 'outputLabels is defined');
    // The node's JS registers the same type.
    assert.match(runtime, /const TYPE = 'aliyun-iot-sql-rule'/);
    assert.match(runtime, /RED\.nodes\.registerType\(TYPE, /);
  });

  it('has an input in the template, or code in oneditsave, for every default', function () {
    const { def } = findRegisterType();
    const keys = ((prop(def, 'defaults') as AnyNode).properties as AnyNode[]).map((p) => String((p.key as AnyNode).name));
    assert.deepEqual(keys.sort(), ['dataType', 'name', 'nonMatching', 'outputs', 'sql', 'strict', 'tags', 'timezone']);
    const template = scriptBlocks('text/html').find((_b) => true) ?? '';
    assert.match(html, new RegExp(`data-template-name="${TYPE}"`));
    for (const key of keys) {
      const hasInput = template.includes(`id="node-input-${key}"`);
      const setInCode = new RegExp(`this\\.${key} = `).test(html);
      assert.ok(hasInput || setInCode, `default '${key}' has neither a node-input-${key} element nor editor code`);
    }
  });

  it('uses only i18n keys that exist in the en-US and zh-CN catalogs', function () {
    const keys = new Set<string>();
    for (const m of html.matchAll(/data-i18n="([^"]+)"/g)) {
      for (const part of m[1].split(';')) keys.add(part.replace(/^\[[^\]]+\]/, ''));
    }
    for (const m of html.matchAll(/\b_\('([^']+)'\s*[,)]/g)) keys.add(m[1]);
    for (const m of html.matchAll(/\bT\('([^']+)'\s*([,)+])/g)) {
      if (m[2] === '+') {
        for (const outcome of ['output', 'filtered', 'no-match', 'dropped']) keys.add(`${TYPE}.${m[1]}${outcome}`);
      } else keys.add(`${TYPE}.${m[1]}`);
    }
    for (const m of runtime.matchAll(/\bt\('([^']+)'/g)) keys.add(`${TYPE}.${m[1]}`);
    assert.ok(keys.size > 40, `found ${keys.size} keys`);
    for (const [lang, catalog] of Object.entries(catalogs)) {
      for (const key of keys) assert.equal(typeof lookup(catalog, key), 'string', `${lang} lacks '${key}'`);
    }
    assert.deepEqual(leafKeys(catalogs['zh-CN']).sort(), leafKeys(catalogs['en-US']).sort(), 'both catalogs have the same keys');
  });

  it('has help in both languages with the Node-RED sections and the whole function list', function () {
    const functions = ['abs', 'asin', 'attribute', 'concat', 'cos', 'cosh', 'crypto', 'deviceName', 'endswith', 'exp', 'floor',
      'log', 'lower', 'mod', 'nanvl', 'newuuid', 'payload', 'power', 'rand', 'replace', 'sin', 'sinh', 'tan', 'tanh',
      'thingPropertyFlatMap', 'timestamp', 'timestamp_utc', 'topic', 'upper', 'to_base64', 'messageId', 'substring', 'to_hex'];
    assert.equal(functions.length, 33);
    const sections: Record<string, string[]> = { 'en-US': ['Inputs', 'Outputs', 'Details', 'References'], 'zh-CN': ['输入', '输出', '详情', '参考'] };
    for (const lang of Object.keys(sections)) {
      const help = fs.readFileSync(path.join(dir, 'locales', lang, `${TYPE}.html`), 'utf8');
      assert.match(help, new RegExp(`<script type="text/html" data-help-name="${TYPE}">`));
      assert.match(help.trim(), /^<script[^>]*>\s*<p>/, `${lang}: help starts with its summary paragraph`);
      for (const h of sections[lang]) assert.ok(help.includes(`<h3>${h}</h3>`), `${lang}: section ${h}`);
      assert.ok(help.includes('<ol class="node-ports">'), `${lang}: two outputs are described as node-ports`);
      for (const f of functions) assert.ok(help.includes(`<code>${f}(`), `${lang}: function ${f} is described`);
      assert.ok(help.includes('https://help.aliyun.com/document_detail/30554.html'), `${lang}: references Alibaba docs`);
      const examples = lang === 'en-US' ? '<h4>Examples</h4>' : '<h4>示例</h4>';
      assert.ok(help.includes(examples), `${lang}: has an examples section`);
      assert.ok((help.split(examples)[1] ?? '').match(/<pre>SELECT [\s\S]*?FROM "\/[^"]+"/), `${lang}: examples hold rule SQL`);
      // Details say what TSL parsing can and cannot fill in without the cloud's registry and thing model.
      for (const term of ['msg.iot.tsl', 'eventType', 'msg.iot.receivedAt', 'checkFailedData']) {
        assert.ok(help.includes(term), `${lang}: thing model parsing explains ${term}`);
      }
    }
  });

  it('states the SQL engine bounds of lib/sql/limits.ts in the help and both READMEs (issue 9)', function () {
    const grouped = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    const numbers = [MAX_RULE_LENGTH, MAX_TEXT_LENGTH, MAX_TEXT_PER_EVALUATION, MAX_DATE_PATTERN_LENGTH, MAX_EXPRESSION_DEPTH,
      MAX_MD2_INPUT].map(grouped);
    const docs: Record<string, string> = {
      'help en-US': fs.readFileSync(path.join(dir, 'locales/en-US', `${TYPE}.html`), 'utf8'),
      'help zh-CN': fs.readFileSync(path.join(dir, 'locales/zh-CN', `${TYPE}.html`), 'utf8'),
      'README.md': fs.readFileSync(path.join(root, 'README.md'), 'utf8'),
      'README.zh-CN.md': fs.readFileSync(path.join(root, 'README.zh-CN.md'), 'utf8'),
    };
    for (const [name, text] of Object.entries(docs)) {
      for (const n of numbers) assert.ok(text.includes(n), `${name} states the bound ${n}`);
    }
  });

  it('ships a white 2:3 SVG icon of at least 40x60', function () {
    const svg = fs.readFileSync(path.join(root, 'icons', `${TYPE}.svg`), 'utf8');
    const vb = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(svg);
    assert.ok(vb, 'viewBox present');
    const [w, h] = [Number(vb[1]), Number(vb[2])];
    assert.ok(w >= 40 && h >= 60 && Math.abs(w / h - 2 / 3) < 1e-6, `viewBox ${w}x${h}`);
    const fills = [...svg.matchAll(/fill="([^"]+)"/g)].map((m) => m[1].toLowerCase());
    assert.ok(fills.length > 0 && fills.every((f) => f === '#fff' || f === '#ffffff' || f === 'white'), `fills: ${fills.join(',')}`);
  });

  it('is listed in package.json where the build puts it', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
    assert.equal(pkg['node-red'].nodes[TYPE], `dist/nodes/${TYPE}/${TYPE}.js`);
  });
});
