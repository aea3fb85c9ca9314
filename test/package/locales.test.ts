// The two languages the package ships in must say the same things: every message catalog key exists in both en-US and
// zh-CN, no Chinese text is empty, every `__placeholder__` the runtime fills in survives translation, each help file
// has the same sections, and the Chinese README mirrors the English one (same sections, same code).
// Reads the source tree (nodes/, README*.md), so it needs no build.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  'node-red': { nodes: Record<string, string> };
};
const types = Object.keys(pkg['node-red'].nodes);

/** Flattens a catalog into `dotted.path → leaf value`. */
function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

/** The i18next interpolations in a text, e.g. `__count__`. */
function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(/__([A-Za-z0-9][\w.]*?)__/g)].map((m) => m[0]))].sort();
}

function readJson(file: string): unknown {
  assert.ok(fs.existsSync(file), `missing message catalog ${path.relative(root, file)}`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    assert.fail(`${path.relative(root, file)} is not valid JSON: ${(err as Error).message}`);
  }
}

function readHelp(file: string, type: string): string[] {
  assert.ok(fs.existsSync(file), `missing help file ${path.relative(root, file)}`);
  const html = fs.readFileSync(file, 'utf8');
  assert.match(
    html,
    new RegExp(`<script\\s+type="text/html"\\s+data-help-name="${type}"\\s*>`),
    `${path.relative(root, file)} must hold <script type="text/html" data-help-name="${type}">`,
  );
  return [...html.matchAll(/<h3[^>]*>([\s\S]*?)<\/h3>/g)].map((m) => m[1].replace(/<[^>]+>/g, '').trim());
}

// en-US help heading → the Chinese headings that translate it.
const HEADINGS: Record<string, string[]> = {
  Inputs: ['输入'],
  Outputs: ['输出'],
  Details: ['详情', '详细', '详细说明', '说明'],
  References: ['参考', '参考资料'],
  Properties: ['属性'],
};

describe('locales: en-US and zh-CN say the same things', function () {
  it('package.json lists the nodes', function () {
    assert.ok(types.length >= 7, `expected the 7 node types in package.json node-red.nodes, got ${types.join(', ')}`);
  });

  for (const type of types) {
    describe(type, function () {
      const dir = path.join(root, 'nodes', type, 'locales');
      const catalog = (lang: string) => flatten(readJson(path.join(dir, lang, `${type}.json`)));

      it('both catalogs have exactly the same keys', function () {
        const en = catalog('en-US');
        const zh = catalog('zh-CN');
        assert.ok(en.size > 0, `${type}: en-US catalog is empty`);
        const onlyEn = [...en.keys()].filter((k) => !zh.has(k));
        const onlyZh = [...zh.keys()].filter((k) => !en.has(k));
        assert.deepEqual(
          { onlyInEnUS: onlyEn, onlyInZhCN: onlyZh },
          { onlyInEnUS: [], onlyInZhCN: [] },
          `${type}: the catalogs disagree — add the missing keys to the other language`,
        );
      });

      it('no zh-CN text is empty', function () {
        const empty = [...catalog('zh-CN')].filter(([, v]) => typeof v !== 'string' || v.trim() === '').map(([k]) => k);
        assert.deepEqual(empty, [], `${type}: zh-CN values that are empty or not text`);
      });

      it('every __placeholder__ of en-US appears in zh-CN', function () {
        const zh = catalog('zh-CN');
        const lost: string[] = [];
        for (const [key, value] of catalog('en-US')) {
          if (typeof value !== 'string' || !zh.has(key)) continue;
          const zhText = String(zh.get(key));
          for (const p of placeholders(value)) if (!zhText.includes(p)) lost.push(`${key}: ${p}`);
        }
        assert.deepEqual(lost, [], `${type}: zh-CN texts that drop a placeholder the runtime fills in`);
      });

      it('both help files have the same <h3> sections, in the same order', function () {
        const en = readHelp(path.join(dir, 'en-US', `${type}.html`), type);
        const zh = readHelp(path.join(dir, 'zh-CN', `${type}.html`), type);
        assert.ok(en.length > 0, `${type}: en-US help has no <h3> sections`);
        assert.equal(zh.length, en.length, `${type}: en-US help has sections [${en}] but zh-CN has [${zh}]`);
        en.forEach((heading, i) => {
          const accepted = HEADINGS[heading];
          assert.ok(accepted, `${type}: en-US help section "${heading}" is not one of ${Object.keys(HEADINGS).join('/')}`);
          assert.ok(
            accepted.includes(zh[i]),
            `${type}: help section ${i + 1} is "${heading}" in en-US but "${zh[i]}" in zh-CN (expected ${accepted.join(' or ')})`,
          );
        });
      });
    });
  }
});

describe('README.zh-CN.md mirrors README.md', function () {
  const read = (name: string) => {
    const file = path.join(root, name);
    assert.ok(fs.existsSync(file), `missing ${name}`);
    return fs.readFileSync(file, 'utf8');
  };
  const sections = (md: string) => md.split('\n').filter((l) => l.startsWith('## '));
  /** The text of each fenced code block, with its info string. */
  const codeBlocks = (md: string) =>
    [...md.matchAll(/^```([^\n]*)\n([\s\S]*?)^```\s*$/gm)].map((m) => `${m[1].trim()}\n${m[2]}`);

  it('links each to the other', function () {
    assert.match(read('README.md'), /\]\(README\.zh-CN\.md\)/, 'README.md must link to README.zh-CN.md');
    assert.match(read('README.zh-CN.md').split('\n')[0], /\[English\]\(README\.md\)/, 'README.zh-CN.md must start with [English](README.md)');
  });

  it('has the same number of ## sections', function () {
    const en = sections(read('README.md'));
    const zh = sections(read('README.zh-CN.md'));
    assert.equal(zh.length, en.length, `README.md has ${en.length} sections (${en.join(' | ')}), README.zh-CN.md has ${zh.length} (${zh.join(' | ')})`);
  });

  it('has the same fenced code blocks', function () {
    const en = codeBlocks(read('README.md'));
    assert.ok(en.length > 0, 'README.md has no code blocks');
    assert.deepEqual(codeBlocks(read('README.zh-CN.md')), en);
  });

  it('shows the same images', function () {
    const images = (md: string) => [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    assert.deepEqual(images(read('README.zh-CN.md')), images(read('README.md')));
  });
});
