// Issue 2: rules are compiled to closures, never by eval / new Function over user text, so SQL can never run code.
// Two checks: the engine's source contains no code-generating construct, and SQL that looks like JavaScript stays data.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { compileRule, SqlError } from '../../../lib/sql';
import { CUSTOM_FILTER, CUSTOM_TOPIC } from './helpers';

const dir = path.resolve(__dirname, '../../../lib/sql');

/** The source with comments and string/template literals blanked, so only code is searched. */
function codeOnly(src: string): string {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/'(?:\\.|[^'\\\n])*'/g, "''")
    .replace(/"(?:\\.|[^"\\\n])*"/g, '""');
}

describe('sql engine: no code execution over user text', () => {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));

  it('lib/sql uses no eval, Function constructor, vm, dynamic import or require', () => {
    assert.ok(files.length >= 8, `found ${files.join(', ')}`);
    const banned: Array<[RegExp, string]> = [
      [/\beval\s*\(/, 'eval('],
      [/\bnew\s+Function\b/, 'new Function'],
      [/(?<![\w.])Function\s*\(/, 'Function('],
      [/\.constructor\s*\(/, 'x.constructor('],
      [/\bimport\s*\(/, 'import('],
      [/\brequire\s*\(/, 'require('],
      [/\bsetTimeout\s*\(|\bsetInterval\s*\(/, 'timers (a string argument would be evaluated)'],
    ];
    for (const f of files) {
      const raw = fs.readFileSync(path.join(dir, f), 'utf8');
      const code = codeOnly(raw);
      for (const [re, what] of banned) assert.ok(!re.test(code), `lib/sql/${f} uses ${what}`);
      // Module names are in quotes, so this one looks at the raw text.
      assert.ok(!/from\s+'(node:)?vm'/.test(raw), `lib/sql/${f} imports the 'vm' module`);
    }
  });

  it('the source check itself finds a construct when one is there', () => {
    const code = codeOnly("const f = new Function('return 1'); // eval('x')\nconst s = 'eval(1)';");
    assert.ok(/\bnew\s+Function\b/.test(code));
    assert.ok(!/\beval\s*\(/.test(code), 'comments and strings are not code');
  });

  it('SQL that looks like JavaScript is refused or stays data', () => {
    const rule = compileRule(`SELECT 'process.exit(1)' AS a, concat('require(', '"fs")') AS b, constructor, __proto__ FROM ${CUSTOM_FILTER}`);
    const r = rule.evaluate({ topic: CUSTOM_TOPIC, payload: '{"x":1}' });
    assert.equal(r.outcome, 'output');
    assert.deepEqual({ ...r.output }, { a: 'process.exit(1)', b: 'require("fs")' });
    for (const sql of [
      `SELECT constructor.constructor('return process')() AS p FROM ${CUSTOM_FILTER}`,
      `SELECT a FROM ${CUSTOM_FILTER} WHERE a = 1; process.exit(1)`,
      `SELECT \`whoami\` AS a FROM ${CUSTOM_FILTER}`,
      `SELECT a => a AS f FROM ${CUSTOM_FILTER}`,
    ]) {
      assert.throws(() => compileRule(sql), (e: unknown) => e instanceof SqlError && e.line >= 1 && e.column >= 1, sql);
    }
  });
});
