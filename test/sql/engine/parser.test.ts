import assert from 'node:assert/strict';
import { Lexer } from '../../../lib/sql/lexer';
import { compileRule, parseSql } from '../../../lib/sql';
import { refused } from './helpers';

describe('sql engine: lexer', () => {
  function all(src: string) {
    const lx = new Lexer(src);
    const toks = [];
    for (;;) {
      const t = lx.next();
      toks.push(t);
      if (t.kind === 'eof') return toks;
    }
  }

  it('gives every token its 1-based line and column', () => {
    const toks = all('SELECT a,\n  "b[0]" AS x\nFROM');
    assert.deepEqual(toks.map((t) => [t.kind, t.value, t.line, t.column]), [
      ['ident', 'SELECT', 1, 1], ['ident', 'a', 1, 8], ['op', ',', 1, 9],
      ['qident', 'b[0]', 2, 3], ['ident', 'AS', 2, 10], ['ident', 'x', 2, 13],
      ['ident', 'FROM', 3, 1], ['eof', '', 3, 5],
    ]);
  });

  it("reads 'strings' with \\' and '' escapes, and \"double quotes\" as field paths", () => {
    const toks = all(`'a\\'b' 'c''d' "e\\"f" 'x\\y'`);
    assert.deepEqual(toks.slice(0, 4).map((t) => [t.kind, t.value]), [
      ['string', "a'b"], ['string', "c'd"], ['qident', 'e"f'], ['string', 'x\\y'],
    ]);
  });

  it('reads integers, decimals and exponents', () => {
    const toks = all('12 2.745 -2.411E247 1e3 .5');
    assert.deepEqual(toks.filter((t) => t.kind === 'number').map((t) => t.num), [12, 2.745, 2.411e247, 1000, 0.5]);
  });

  it('keeps positions right after a multi-line string', () => {
    const toks = all("'a\nb' x");
    assert.equal(toks[0].line, 1);
    assert.deepEqual([toks[1].line, toks[1].column], [2, 4]);
  });

  it('refuses an unterminated string with its start position', () => {
    refused("SELECT 'abc FROM x", /Unterminated string constant/, 1, 8);
  });

  it('refuses unknown characters', () => {
    refused('SELECT a ? b FROM "/x/y/user/z"', /Unexpected character '\?'/, 1, 10);
  });

  it('treats pasted non-breaking and other Unicode spaces as spaces', () => {
    const r = compileRule('SELECT\u00a0a,\u3000b\u2003FROM\u00a0"/x/+/user/z"\u202fWHERE a\u00a0>\u00a01')
      .evaluate({ topic: '/x/d/user/z', payload: { a: 2, b: 3 } });
    assert.deepEqual(r.output, { a: 2, b: 3 });
  });

  it('refuses full-width and curly punctuation with the ASCII character to use, instead of reading it as a name', () => {
    const e = refused('SELECT a，b FROM "/x/+/user/z"', /^Unexpected character '，' at 1:9 — did you mean the ASCII character ,\?$/, 1, 9);
    assert.equal(e.hint, 'did you mean the ASCII character ,?');
    refused("SELECT a FROM \"/x/+/user/z\" WHERE b = ‘x’", /Unexpected character '‘'.*ASCII character '/, 1, 39);
    refused('SELECT abs（a） AS v FROM "/x/+/user/z"', /Unexpected character '（'.*ASCII character \(/, 1, 11);
    // Other non-ASCII letters still make names, e.g. a Chinese JSON key.
    assert.deepEqual(compileRule('SELECT 温度 FROM "/x/+/user/z"').evaluate({ topic: '/x/d/user/z', payload: { 温度: 21 } }).output, { 温度: 21 });
  });
});

describe('sql engine: parser', () => {
  it('builds an AST with positions', () => {
    const st = parseSql('select temperature as t, abs(x) FROM "/pk/+/user/a" where t > 30');
    assert.equal(st.select.length, 2);
    const first = st.select[0];
    assert.equal(first.k, 'expr');
    if (first.k === 'expr') {
      assert.equal(first.alias, 't');
      assert.deepEqual(first.expr, {
        k: 'path', segments: ['temperature'], wrap: false, quoted: false, pos: { line: 1, column: 8, start: 7, end: 18 },
      });
    }
    assert.equal(st.from.filter, '/pk/+/user/a');
    assert.equal(st.from.quote, '"');
    assert.equal(st.where?.k, 'bin');
  });

  it('is case-insensitive for keywords', () => {
    const st = parseSql('SeLeCt a FrOm /pk/+/user/a WhErE a In (1, 2) aNd b NoT LiKe \'%x\'');
    assert.equal(st.where?.k, 'bin');
  });

  it('accepts an alias without AS', () => {
    const st = parseSql('SELECT abs(temperature) tmr FROM "/pk/+/user/a"');
    assert.equal(st.select[0].k === 'expr' && st.select[0].alias, 'tmr');
  });

  it('reads unquoted, double-quoted and single-quoted FROM topics', () => {
    assert.equal(parseSql('SELECT a FROM /ProductA/+/update').from.filter, '/ProductA/+/update');
    assert.equal(parseSql('SELECT a FROM "/pk/+/user/#"').from.filter, '/pk/+/user/#');
    assert.equal(parseSql("SELECT a FROM '/pk/+/user/x' WHERE a = 1").from.quote, "'");
  });

  it('parses quoted paths: "a[0]", "$.a[0]", ".a[1].v"', () => {
    const st = parseSql('SELECT "a[0]", "$.a[0]", ".a[1].v", a.b[2].c, $.x FROM "/pk/+/user/a"');
    const paths = st.select.map((i) => (i.k === 'expr' && i.expr.k === 'path' ? [i.expr.segments, i.expr.wrap] : null));
    assert.deepEqual(paths, [
      [['a', 0], false], [['a', 0], false], [['a', 1, 'v'], true], [['a', 'b', 2, 'c'], false], [['x'], false],
    ]);
  });

  it('folds a negative number literal', () => {
    const st = parseSql('SELECT -50 AS n FROM "/pk/+/user/a"');
    const i = st.select[0];
    assert.ok(i.k === 'expr' && i.expr.k === 'lit' && i.expr.value === -50);
  });

  it('says what was expected and where', () => {
    refused('SELECT a', /Expected ',' or FROM after the SELECT list but found end of statement/, 1, 9);
    refused('UPDATE x', /Expected SELECT but found 'UPDATE'/, 1, 1);
    refused('SELECT a FROM "/pk/+/user/a" WHERE', /Expected a condition after WHERE/);
    refused('SELECT a FROM "/pk/+/user/a" WHERE a >', /Expected an expression but found end of statement/, 1, 39);
    refused('SELECT abs(a FROM "/pk/+/user/a"', /Expected '\)' to close the arguments of abs\(\)/, 1, 14);
    refused('SELECT a FROM "/pk/+/user/a" WHERE (a = 1', /Expected '\)' to close the parenthesis/);
    refused('SELECT a FROM "/pk/+/user/a" extra', /Expected WHERE or end of statement but found 'extra'/, 1, 30);
    refused('SELECT a,\n  b +\n FROM "/pk/+/user/a"', /Expected an expression but found keyword FROM/, 3, 2);
  });

  it('refuses a bad quoted path with a position inside it', () => {
    refused('SELECT "a[x]" FROM "/pk/+/user/a"', /Invalid array index 'x'/, 1, 11);
    refused('SELECT "a..b" FROM "/pk/+/user/a"', /Empty field name/, 1, 11);
  });
});
