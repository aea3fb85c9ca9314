// Recursive-descent parser: SQL text → Statement AST. Refuses what the dialect does not have, with positions.
import type { BinOp, Expr, FromClause, PathSegment, Pos, SelectItem, Statement } from './ast';
import { Lexer, type Token } from './lexer';
import { clip, count, MAX_RULE_LENGTH } from './limits';
import { SqlError } from './types';

export const MAX_SELECT_ITEMS = 50;
/**
 * Deepest expression accepted: parentheses, NOT / unary minus and chains of operators (`a AND b AND c` is two levels)
 * all count. Far beyond any real rule; it keeps parsing, compiling and evaluating within the JavaScript stack, so
 * an absurd statement is refused with a position instead of overflowing the stack.
 */
export const MAX_EXPRESSION_DEPTH = 256;

/** Words that never name a field (write "in double quotes" to address a field with such a name). */
const RESERVED = new Set([
  'SELECT', 'FROM', 'WHERE', 'AS', 'AND', 'OR', 'NOT', 'LIKE', 'IN', 'IS', 'NULL', 'CASE', 'WHEN', 'THEN', 'ELSE',
  'END', 'TRUE', 'FALSE', 'BETWEEN', 'GROUP', 'ORDER', 'LIMIT', 'HAVING', 'JOIN', 'UNION', 'DISTINCT', 'EXISTS',
]);

/** Clauses of other SQL dialects that the rule SQL does not have. */
const UNSUPPORTED_CLAUSES: Record<string, string> = {
  GROUP: 'GROUP BY is not supported by the rule SQL',
  ORDER: 'ORDER BY is not supported by the rule SQL',
  LIMIT: 'LIMIT is not supported by the rule SQL',
  HAVING: 'HAVING is not supported by the rule SQL',
  JOIN: 'JOIN is not supported by the rule SQL',
  UNION: 'UNION is not supported by the rule SQL',
  DISTINCT: 'DISTINCT is not supported by the rule SQL',
  EXISTS: 'EXISTS (sub-queries) is not supported by the rule SQL',
};
const JOIN_PREFIXES = new Set(['INNER', 'LEFT', 'RIGHT', 'FULL', 'CROSS', 'OUTER', 'NATURAL']);

export interface ParseOptions {
  strict?: boolean;
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof': return 'end of statement';
    case 'string': return `string '${clip(t.value)}'`;
    case 'qident': return `"${clip(t.value)}"`;
    case 'number': return `number ${clip(t.value)}`;
    default: return `'${clip(t.value)}'`;
  }
}

function tokPos(t: Token): Pos {
  return { line: t.line, column: t.column, start: t.start, end: t.end };
}

function span(a: Pos, b: Pos): Pos {
  return { line: a.line, column: a.column, start: a.start, end: b.end };
}

class Parser {
  private readonly lx: Lexer;
  private tok: Token;
  private ahead: Token | undefined;
  private caseDepth = 0;
  /** Current recursion depth of expression parsing (guards the stack against deeply nested parentheses). */
  private depth = 0;

  constructor(readonly sql: string, private readonly opts: ParseOptions) {
    this.lx = new Lexer(sql);
    this.tok = this.lx.next();
  }

  // ---- token helpers ----------------------------------------------------------------------------------------

  private advance(): Token {
    const t = this.tok;
    if (this.ahead) { this.tok = this.ahead; this.ahead = undefined; } else this.tok = this.lx.next();
    return t;
  }

  private peek(): Token {
    if (!this.ahead) this.ahead = this.lx.next();
    return this.ahead;
  }

  private isKw(word: string, t: Token = this.tok): boolean {
    return t.kind === 'ident' && t.upper === word;
  }

  private isOp(op: string, t: Token = this.tok): boolean {
    return t.kind === 'op' && t.value === op;
  }

  private fail(problem: string, t: Token | Pos = this.tok, hint?: string): never {
    throw new SqlError(problem, t.line, t.column, hint);
  }

  private expectOp(op: string, what: string): Token {
    if (!this.isOp(op)) this.fail(`Expected '${op}' ${what} but found ${describe(this.tok)}`);
    return this.advance();
  }

  private extension(what: string, t: Token | Pos): void {
    if (this.opts.strict) {
      this.fail(`${what} is an extension that strict mode refuses`, t, 'turn strict mode off to use it');
    }
  }

  private refuseUnsupported(t: Token): void {
    if (t.kind !== 'ident') return;
    const msg = UNSUPPORTED_CLAUSES[t.upper];
    if (msg) this.fail(msg, t);
    if (t.upper === 'SELECT') this.fail('Sub-queries are not supported by the rule SQL', t, 'IN takes a list of constants');
    if (JOIN_PREFIXES.has(t.upper) && this.isKw('JOIN', this.peek())) this.fail(UNSUPPORTED_CLAUSES.JOIN, t);
  }

  // ---- statement --------------------------------------------------------------------------------------------

  parseStatement(): Statement {
    if (!this.isKw('SELECT')) {
      this.fail(`Expected SELECT but found ${describe(this.tok)}`);
    }
    this.advance();
    const select = this.parseSelectList();
    if (!this.isKw('FROM')) {
      this.refuseUnsupported(this.tok);
      this.fail(`Expected ',' or FROM after the SELECT list but found ${describe(this.tok)}`);
    }
    const from = this.parseFrom();
    let where: Expr | undefined;
    if (this.isKw('WHERE')) {
      this.advance();
      if (this.tok.kind === 'eof') this.fail('Expected a condition after WHERE');
      where = this.parseExpr();
    }
    if (this.isOp(';')) this.advance();
    if (this.tok.kind !== 'eof') {
      this.refuseUnsupported(this.tok);
      if (this.isKw('WHERE')) this.fail('Only one WHERE clause is allowed');
      this.fail(`Expected ${where ? 'an operator or ' : 'WHERE or '}end of statement but found ${describe(this.tok)}`);
    }
    for (const item of select) if (item.k === 'expr') this.checkHeight(item.expr);
    if (where) this.checkHeight(where);
    return { select, from, where };
  }

  /**
   * Operator chains are parsed in loops, so their height is not bounded by the recursion guard; the compiler and
   * the compiled closures recurse over it. Measured without recursion.
   */
  private checkHeight(root: Expr): void {
    const stack: Array<[Expr, number]> = [[root, 1]];
    for (let top = stack.pop(); top; top = stack.pop()) {
      const [e, d] = top;
      if (d > MAX_EXPRESSION_DEPTH) this.tooDeep(e.k === 'bin' ? e.opPos : e.pos);
      for (const c of children(e)) stack.push([c, d + 1]);
    }
  }

  private parseSelectList(): SelectItem[] {
    const items: SelectItem[] = [];
    for (;;) {
      const start = this.tok;
      if (items.length === MAX_SELECT_ITEMS) {
        this.fail(`Too many SELECT items: at most ${MAX_SELECT_ITEMS} are allowed`, start,
          'use thingPropertyFlatMap() to forward many properties');
      }
      if (start.kind === 'eof' || this.isKw('FROM')) {
        this.fail(`Expected a SELECT item but found ${describe(start)}`);
      }
      if (this.isOp('*')) {
        this.advance();
        items.push({ k: 'star', pos: tokPos(start) });
      } else {
        this.refuseUnsupported(start);
        const expr = this.parseExpr();
        let alias: string | undefined;
        let aliasPos: Pos | undefined;
        if (this.isKw('AS')) {
          this.advance();
          const t = this.tok;
          if (t.kind !== 'ident' && t.kind !== 'qident') this.fail(`Expected an alias after AS but found ${describe(t)}`);
          this.advance();
          alias = t.value;
          aliasPos = tokPos(t);
        } else if (this.tok.kind === 'ident' && !RESERVED.has(this.tok.upper)) {
          const t = this.advance();
          alias = t.value;
          aliasPos = tokPos(t);
        }
        items.push({ k: 'expr', expr, alias, aliasPos, pos: span(tokPos(start), expr.pos) });
      }
      if (!this.isOp(',')) break;
      this.advance();
    }
    return items;
  }

  private parseFrom(): FromClause {
    // `this.tok` is FROM and nothing after it has been read yet, so the topic can be read raw.
    if (this.ahead) throw new Error('internal: lookahead across FROM');
    const fromTok = this.tok;
    const c = this.lx.peekChar();
    let t: Token;
    let quote: FromClause['quote'] = '';
    if (c === '"' || c === "'") {
      t = this.lx.next();
      quote = c;
      if (c === "'") this.extension("A 'single-quoted' FROM topic", t);
    } else {
      if (c === '(') {
        const p = this.lx.next();
        this.fail('Sub-queries are not supported by the rule SQL', p);
      }
      const raw = this.lx.readRawTopic();
      if (!raw) this.fail('Expected a topic after FROM', fromTok);
      t = raw;
      if (/^(where|select)$/i.test(t.value)) this.fail(`Expected a topic after FROM but found '${t.value}'`, t);
    }
    if (t.value === '') this.fail('The FROM topic is empty', t);
    this.tok = this.lx.next();
    if (this.isOp(',')) this.fail('Only one topic is allowed in FROM', this.tok);
    return { filter: t.value, quote, pos: tokPos(t) };
  }

  // ---- expressions ------------------------------------------------------------------------------------------

  parseExpr(): Expr {
    this.enter();
    const e = this.parseOr();
    this.depth--;
    return e;
  }

  private enter(): void {
    if (++this.depth > MAX_EXPRESSION_DEPTH) this.tooDeep(tokPos(this.tok));
  }

  private tooDeep(at: Token | Pos): never {
    this.fail(`Expression nested too deeply: more than ${MAX_EXPRESSION_DEPTH} levels`, at,
      'split it, or use IN (...) instead of a long chain of OR');
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.isKw('OR')) {
      const op = this.advance();
      const right = this.parseAnd();
      left = { k: 'bin', op: 'OR', left, right, pos: span(left.pos, right.pos), opPos: tokPos(op) };
    }
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.isKw('AND')) {
      const op = this.advance();
      const right = this.parseNot();
      left = { k: 'bin', op: 'AND', left, right, pos: span(left.pos, right.pos), opPos: tokPos(op) };
    }
    return left;
  }

  private parseNot(): Expr {
    if (this.isKw('NOT')) {
      const t = this.advance();
      this.extension('Standalone NOT', t);
      this.enter();
      const arg = this.parseNot();
      this.depth--;
      return { k: 'not', arg, pos: span(tokPos(t), arg.pos) };
    }
    return this.parseComparison();
  }

  private parseComparison(): Expr {
    const left = this.parseAdditive();
    const t = this.tok;
    if (t.kind === 'op' && ['=', '<>', '!=', '<', '<=', '>', '>='].includes(t.value)) {
      this.advance();
      if (t.value === '!=') this.extension("'!='", t);
      const right = this.parseAdditive();
      return { k: 'bin', op: t.value as BinOp, left, right, pos: span(left.pos, right.pos), opPos: tokPos(t) };
    }
    if (this.isKw('NOT')) {
      const nx = this.peek();
      if (this.isKw('LIKE', nx)) {
        this.advance();
        return this.parseLike(left, true);
      }
      if (this.isKw('IN', nx)) this.fail('NOT IN is not supported by the rule SQL', t, 'write NOT (x IN (...))');
      if (this.isKw('BETWEEN', nx)) this.fail('BETWEEN is not supported by the rule SQL', t, 'write x >= a AND x <= b');
      this.fail(`Expected LIKE after NOT but found ${describe(nx)}`, nx);
    }
    if (this.isKw('LIKE')) return this.parseLike(left, false);
    if (this.isKw('IN')) return this.parseIn(left);
    if (this.isKw('BETWEEN')) this.fail('BETWEEN is not supported by the rule SQL', t, 'write x >= a AND x <= b');
    if (this.isKw('IS')) {
      this.advance();
      let not = false;
      if (this.isKw('NOT')) { this.advance(); not = true; }
      if (!this.isKw('NULL')) this.fail(`Expected NULL after IS${not ? ' NOT' : ''} but found ${describe(this.tok)}`);
      const nullTok = this.advance();
      this.extension(not ? 'IS NOT NULL' : 'IS NULL', t);
      return { k: 'isnull', not, arg: left, pos: span(left.pos, tokPos(nullTok)) };
    }
    return left;
  }

  private parseLike(arg: Expr, not: boolean): Expr {
    this.advance(); // LIKE
    const p = this.tok;
    if (p.kind !== 'string') {
      this.fail(`LIKE needs a 'single-quoted' pattern but found ${describe(p)}`, p);
    }
    this.advance();
    return { k: 'like', not, arg, pattern: p.value, pos: span(arg.pos, tokPos(p)) };
  }

  private parseIn(arg: Expr): Expr {
    this.advance(); // IN
    this.expectOp('(', 'after IN');
    if (this.isKw('SELECT')) this.fail('Sub-queries are not supported by the rule SQL', this.tok, 'IN takes a list of constants');
    const list: Expr[] = [];
    for (;;) {
      const e = this.parseUnary();
      if (e.k !== 'lit') this.fail('IN takes a list of constants only', e.pos);
      list.push(e);
      if (this.isOp(',')) { this.advance(); continue; }
      break;
    }
    const close = this.expectOp(')', 'to close the IN list');
    return { k: 'in', arg, list, pos: span(arg.pos, tokPos(close)) };
  }

  private parseAdditive(): Expr {
    let left = this.parseMultiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.advance();
      const right = this.parseMultiplicative();
      left = { k: 'bin', op: op.value as BinOp, left, right, pos: span(left.pos, right.pos), opPos: tokPos(op) };
    }
    return left;
  }

  private parseMultiplicative(): Expr {
    let left = this.parseUnary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = this.advance();
      const right = this.parseUnary();
      left = { k: 'bin', op: op.value as BinOp, left, right, pos: span(left.pos, right.pos), opPos: tokPos(op) };
    }
    return left;
  }

  private parseUnary(): Expr {
    if (this.isOp('-')) {
      const t = this.advance();
      this.enter();
      const arg = this.parseUnary();
      this.depth--;
      const pos = span(tokPos(t), arg.pos);
      if (arg.k === 'lit' && typeof arg.value === 'number') return { k: 'lit', value: -arg.value, pos };
      return { k: 'neg', arg, pos };
    }
    return this.parsePrimary(false);
  }

  private parsePrimary(allowStar: boolean): Expr {
    const t = this.tok;
    switch (t.kind) {
      case 'number':
        this.advance();
        return { k: 'lit', value: t.num, pos: tokPos(t) };
      case 'string':
        this.advance();
        return { k: 'lit', value: t.value, pos: tokPos(t) };
      case 'qident': {
        this.advance();
        const { segments, wrap } = parsePathText(t.value, t);
        return { k: 'path', segments, wrap, quoted: true, pos: tokPos(t) };
      }
      case 'op':
        if (t.value === '(') {
          this.advance();
          if (this.isKw('SELECT')) this.fail('Sub-queries are not supported by the rule SQL', this.tok);
          const e = this.parseExpr();
          this.expectOp(')', 'to close the parenthesis');
          return e;
        }
        if (t.value === '*') {
          if (allowStar) {
            this.advance();
            return { k: 'star', pos: tokPos(t) };
          }
          this.fail("'*' is only allowed as a SELECT item or as the argument of to_base64(*) / to_hex(*)", t);
        }
        this.fail(`Expected an expression but found ${describe(t)}`, t);
        break;
      case 'eof':
        this.fail('Expected an expression but found end of statement', t);
        break;
      case 'ident':
        return this.parseIdentExpr(t);
    }
    return this.fail(`Expected an expression but found ${describe(t)}`, t);
  }

  private parseIdentExpr(t: Token): Expr {
    switch (t.upper) {
      case 'TRUE':
      case 'FALSE':
        this.advance();
        this.extension('A boolean literal', t);
        return { k: 'lit', value: t.upper === 'TRUE', pos: tokPos(t) };
      case 'NULL':
        this.fail('NULL is not a value in the rule SQL', t, 'use IS NULL / IS NOT NULL');
        break;
      case 'CASE':
        return this.parseCase();
    }
    this.refuseUnsupported(t);
    if (RESERVED.has(t.upper)) {
      this.fail(`Expected an expression but found keyword ${t.value.toUpperCase()}`, t,
        `write "${t.value}" in double quotes to address a field with that name`);
    }
    this.advance();
    if (this.isOp('(')) return this.parseCall(t);
    return this.parsePathRest(t);
  }

  private parseCall(nameTok: Token): Expr {
    this.advance(); // (
    const args: Expr[] = [];
    if (!this.isOp(')')) {
      for (;;) {
        if (this.isKw('SELECT')) this.fail('Sub-queries are not supported by the rule SQL', this.tok);
        // A bare `*` argument (to_base64(*), to_hex(*)); anything else is a normal expression.
        const nx = this.isOp('*') ? this.peek() : undefined;
        if (nx && (this.isOp(')', nx) || this.isOp(',', nx))) args.push(this.parsePrimary(true));
        else args.push(this.parseExpr());
        if (this.isOp(',')) { this.advance(); continue; }
        break;
      }
    }
    const close = this.expectOp(')', `to close the arguments of ${nameTok.value}()`);
    return { k: 'call', name: nameTok.value, args, pos: span(tokPos(nameTok), tokPos(close)), namePos: tokPos(nameTok) };
  }

  /** Unquoted path: `a.b[1].c`, `$.a` (§8.2: unquoted index paths mean the same as quoted ones). */
  private parsePathRest(first: Token): Expr {
    const segments: PathSegment[] = [];
    if (first.value !== '$') segments.push(first.value);
    let end = tokPos(first);
    for (;;) {
      if (this.isOp('.')) {
        this.advance();
        const n = this.tok;
        if (n.kind !== 'ident' && n.kind !== 'qident') this.fail(`Expected a field name after '.' but found ${describe(n)}`);
        this.advance();
        segments.push(n.value);
        end = tokPos(n);
        continue;
      }
      if (this.isOp('[')) {
        this.advance();
        const n = this.tok;
        if (n.kind !== 'number' || !Number.isInteger(n.num) || n.num < 0 || /[.eE]/.test(n.value)) {
          this.fail(`Expected an array index (0, 1, 2, ...) but found ${describe(n)}`, n);
        }
        this.advance();
        segments.push(n.num);
        end = tokPos(this.expectOp(']', 'to close the array index'));
        continue;
      }
      break;
    }
    return { k: 'path', segments, wrap: false, quoted: false, pos: span(tokPos(first), end) };
  }

  private parseCase(): Expr {
    const caseTok = this.advance();
    if (this.caseDepth > 0) this.fail('Nested CASE is not supported by the rule SQL', caseTok);
    this.caseDepth++;
    let subject: Expr | undefined;
    if (!this.isKw('WHEN')) subject = this.parseExpr();
    else this.extension('Searched CASE (CASE WHEN condition)', caseTok);
    const whens: { when: Expr; then: Expr }[] = [];
    while (this.isKw('WHEN')) {
      this.advance();
      const when = this.parseExpr();
      if (!this.isKw('THEN')) this.fail(`Expected THEN but found ${describe(this.tok)}`);
      this.advance();
      const then = this.parseExpr();
      whens.push({ when, then });
    }
    if (whens.length === 0) this.fail(`Expected WHEN but found ${describe(this.tok)}`);
    let elseExpr: Expr | undefined;
    if (this.isKw('ELSE')) {
      this.advance();
      elseExpr = this.parseExpr();
    }
    if (!this.isKw('END')) this.fail(`Expected ${elseExpr ? '' : 'WHEN, ELSE or '}END but found ${describe(this.tok)}`);
    const endTok = this.advance();
    this.caseDepth--;
    return { k: 'case', subject, whens, else: elseExpr, pos: span(tokPos(caseTok), tokPos(endTok)) };
  }
}

/**
 * Parse the text of a double-quoted path: `a[0]`, `$.a[0]`, `.a[1].v` (leading `.` wraps the result in an array),
 * `items.Temperature.value`. `at` locates errors (the opening quote).
 */
export function parsePathText(text: string, at: { line: number; column: number }): { segments: PathSegment[]; wrap: boolean } {
  const fail = (problem: string, index: number): never => {
    throw new SqlError(problem, at.line, at.column + 1 + index, 'paths look like a.b[0].c');
  };
  let i = 0;
  let wrap = false;
  if (text.startsWith('$')) {
    i = 1;
    if (text.length === 1) return { segments: [], wrap: false };
    if (text[1] === '.') i = 2;
    else if (text[1] !== '[') fail(`Invalid path "${clip(text)}"`, 1);
  } else if (text.startsWith('.')) {
    wrap = true;
    i = 1;
  }
  const segments: PathSegment[] = [];
  if (text === '') fail('Empty field path ""', 0);
  let expectName = text[i] !== '[';
  while (i < text.length) {
    if (expectName) {
      let j = i;
      while (j < text.length && text[j] !== '.' && text[j] !== '[') j++;
      if (j === i) fail('Empty field name in path', i);
      segments.push(text.slice(i, j));
      i = j;
      expectName = false;
      continue;
    }
    const c = text[i];
    if (c === '.') {
      i++;
      if (i >= text.length) fail('Path ends with \'.\'', i - 1);
      expectName = text[i] !== '[';
      if (!expectName) fail("Expected a field name after '.'", i);
      continue;
    }
    if (c === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) fail("Missing ']' in path", i);
      const idx = text.slice(i + 1, close).trim();
      if (!/^\d+$/.test(idx)) fail(`Invalid array index '${clip(idx)}' in path (indexes are 0, 1, 2, ...)`, i + 1);
      segments.push(Number(idx));
      i = close + 1;
      continue;
    }
    fail(`Unexpected '${c}' in path`, i);
  }
  return { segments, wrap };
}

function children(e: Expr): Expr[] {
  switch (e.k) {
    case 'bin': return [e.left, e.right];
    case 'neg': case 'not': case 'like': case 'isnull': return [e.arg];
    case 'in': return [e.arg, ...e.list];
    case 'call': return e.args;
    case 'case': {
      const out: Expr[] = e.subject ? [e.subject] : [];
      for (const w of e.whens) out.push(w.when, w.then);
      if (e.else) out.push(e.else);
      return out;
    }
    default: return [];
  }
}

export function parseSql(sql: string, opts: ParseOptions = {}): Statement {
  if (typeof sql !== 'string') throw new SqlError('The SQL statement must be text', 1, 1);
  if (sql.length > MAX_RULE_LENGTH) {
    // Refused before any other work, at the first character beyond the bound.
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < MAX_RULE_LENGTH; i++) if (sql.charCodeAt(i) === 10) { line++; lineStart = i + 1; }
    throw new SqlError(`The rule is ${count(sql.length)} characters long, more than the ${count(MAX_RULE_LENGTH)} allowed`,
      line, MAX_RULE_LENGTH - lineStart + 1, 'shorten it: thingPropertyFlatMap() forwards many properties in a few words');
  }
  return new Parser(sql, opts).parseStatement();
}
