// Shared helpers for the SQL engine unit tests.
import assert from 'node:assert/strict';
import { compileRule, SqlError, type CompileOptions, type RuleMessage, type RuleResult } from '../../../lib/sql';

export const CUSTOM_TOPIC = '/a1B2c3D4e5F/dev01/user/update';
export const CUSTOM_FILTER = '"/a1B2c3D4e5F/+/user/update"';

/** Evaluate `SELECT <select> FROM <custom topic> [WHERE <where>]` against a payload object. */
export function run(sql: string, payload: unknown, options?: CompileOptions, extra: Partial<RuleMessage> = {}): RuleResult {
  return compileRule(sql, options).evaluate({ topic: CUSTOM_TOPIC, payload, ...extra });
}

/** The output object of a rule that must produce output. */
export function out(sql: string, payload: unknown, options?: CompileOptions, extra: Partial<RuleMessage> = {}): Record<string, unknown> {
  const r = run(sql, payload, options, extra);
  assert.equal(r.outcome, 'output', `expected output, got ${r.outcome}: ${r.reason ?? ''}`);
  return r.output as Record<string, unknown>;
}

/** One SELECT expression evaluated on a payload; returns the value of key `v` (undefined when omitted). */
export function value(expr: string, payload: unknown = {}, options?: CompileOptions, extra: Partial<RuleMessage> = {}): unknown {
  const o = out(`SELECT ${expr} AS v FROM ${CUSTOM_FILTER}`, payload, options, extra);
  return o.v;
}

/** Asserts that compiling `sql` is refused with a SqlError at line:column whose message matches `re`. */
export function refused(sql: string, re: RegExp, line?: number, column?: number, options?: CompileOptions): SqlError {
  let err: unknown;
  try {
    compileRule(sql, options);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SqlError, `expected SqlError for: ${sql}${err ? ` (got ${String(err)})` : ' (compiled fine)'}`);
  assert.match(err.message, re);
  if (line !== undefined) assert.equal(err.line, line, `line of: ${err.message}`);
  if (column !== undefined) assert.equal(err.column, column, `column of: ${err.message}`);
  return err;
}
