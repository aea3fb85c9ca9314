// Shared helpers for the rule SQL conformance suite. Every expectation in this folder comes from
// ../shared/spec/iot-sql.md (section numbers cited next to each case), never from the engine's code.
import assert from 'node:assert/strict';
import { compileRule, SqlError } from '../../../lib/sql';
import type { CompileOptions, RuleMessage, RuleResult } from '../../../lib/sql/types';

export { compileRule, SqlError };

/** A product key and device used by most cases: a custom topic of that device, and a filter matching it. */
export const PK = 'a1B2c3D4e5F';
export const DN = 'dev01';
export const TOPIC = `/${PK}/${DN}/user/update`;
export const FROM = `"/${PK}/+/user/update"`;
export const PROP_TOPIC = `/sys/${PK}/${DN}/thing/event/property/post`;
export const PROP_FROM = `"/sys/${PK}/+/thing/event/property/post"`;

/** Compile `sql` and evaluate one message on TOPIC (unless the message names another topic). */
export function run(
  sql: string,
  payload: unknown,
  message: Partial<RuleMessage> = {},
  options: CompileOptions = {},
): RuleResult {
  const rule = compileRule(sql, options);
  return rule.evaluate({ topic: TOPIC, payload, ...message });
}

/** Copy an output object's own keys into a plain object so deepStrictEqual compares content, not prototype. */
export function plain(output: unknown): Record<string, unknown> {
  assert.ok(output !== null && typeof output === 'object' && !Buffer.isBuffer(output), `output is an object: ${String(output)}`);
  return { ...(output as Record<string, unknown>) };
}

/** Evaluate and require outcome `output`; return the output as a plain object. */
export function out(sql: string, payload: unknown, message: Partial<RuleMessage> = {}, options: CompileOptions = {}) {
  const result = run(sql, payload, message, options);
  assert.equal(result.outcome, 'output', `expected output, got ${result.outcome} (${result.reason ?? 'no reason'})`);
  return plain(result.output);
}

/** Evaluate `SELECT <expr> AS v FROM ...` and return the value of `v` (undefined when the key is absent). */
export function value(expr: string, payload: unknown = {}, message: Partial<RuleMessage> = {}, options: CompileOptions = {}) {
  const o = out(`SELECT ${expr} AS v FROM ${FROM}`, payload, message, options);
  return o.v;
}

/** True when `SELECT ... AS v` leaves the key out entirely (the spec's "undefined → omitted key"). */
export function omitted(expr: string, payload: unknown = {}, message: Partial<RuleMessage> = {}, options: CompileOptions = {}) {
  const o = out(`SELECT ${expr} AS v FROM ${FROM}`, payload, message, options);
  return !Object.prototype.hasOwnProperty.call(o, 'v');
}

/** Outcome of `SELECT * FROM <FROM> WHERE <cond>` on a payload. */
export function where(cond: string, payload: unknown, options: CompileOptions = {}) {
  return run(`SELECT * FROM ${FROM} WHERE ${cond}`, payload, {}, options).outcome;
}

/** 1-based line and column of the n-th (0-based) occurrence of `token` in `sql`. */
export function positionOf(sql: string, token: string, occurrence = 0): { line: number; column: number } {
  let index = -1;
  for (let i = 0; i <= occurrence; i++) {
    index = sql.indexOf(token, index + 1);
    assert.ok(index >= 0, `test bug: '${token}' (occurrence ${occurrence}) not in ${sql}`);
  }
  const before = sql.slice(0, index);
  const line = before.split('\n').length;
  const column = index - (before.lastIndexOf('\n') + 1) + 1;
  return { line, column };
}

/**
 * Require compileRule to refuse `sql` with a SqlError whose line/column are one of the given positions
 * (each given as a token of the SQL text and its occurrence) and whose message matches `problem`.
 */
export function refuses(
  sql: string,
  at: Array<[token: string, occurrence?: number]>,
  problem?: RegExp,
  options: CompileOptions = {},
): SqlError {
  let caught: unknown;
  try {
    compileRule(sql, options);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected compileRule to refuse: ${sql}`);
  assert.ok(caught instanceof SqlError, `refusal is a SqlError: ${String(caught)}`);
  const err = caught as SqlError;
  assert.equal(typeof err.line, 'number', `numeric line on: ${err.message}`);
  assert.equal(typeof err.column, 'number', `numeric column on: ${err.message}`);
  const allowed = at.map(([token, occurrence]) => positionOf(sql, token, occurrence ?? 0));
  assert.ok(
    allowed.some((p) => p.line === err.line && p.column === err.column),
    `position ${err.line}:${err.column} (${err.message}) is not at ${at.map(([t]) => `'${t}'`).join(' or ')} ` +
      `(${allowed.map((p) => `${p.line}:${p.column}`).join(' or ')}) in: ${sql}`,
  );
  assert.ok(err.message.includes(`${err.line}:${err.column}`), `message names the position: ${err.message}`);
  if (problem) assert.match(err.message, problem);
  return err;
}

/** Require compileRule to accept `sql`. */
export function accepts(sql: string, options: CompileOptions = {}): void {
  assert.doesNotThrow(() => compileRule(sql, options), `expected compileRule to accept: ${sql}`);
}
