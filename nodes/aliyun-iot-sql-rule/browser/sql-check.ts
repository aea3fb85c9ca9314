// Entry of the editor's copy of the rule engine (built by scripts/build.js into resources/, loaded by the SQL rule
// dialog). The editor only compiles: the verdict is the one the deployed node reaches when it starts, with no server
// round trip. Runs in the browser with ./buffer-shim.ts for Buffer and ./crypto-shim.ts for node:crypto.
import { compileRule, DEFAULT_TIMEZONE, SqlError } from '../../../lib/sql';

export interface CheckOptions {
  dataType?: string;
  timezone?: string;
  strict?: boolean;
}

export type Verdict =
  | { ok: true }
  | { ok: false; message: string; line?: number; column?: number; problem?: string; hint?: string };

/**
 * Compile `sql` with the options of the dialog, normalised as the node does at start (empty timezone → the default).
 * A timezone the browser does not know is left to the timezone field's own check.
 */
export function check(sql: string, options: CheckOptions = {}): Verdict {
  const timezone = (options.timezone ?? '').trim() || DEFAULT_TIMEZONE;
  try {
    compileRule(sql, {
      dataType: options.dataType === 'BINARY' ? 'BINARY' : 'JSON',
      timezone,
      strict: options.strict === true,
    });
    return { ok: true };
  } catch (err) {
    if (err instanceof SqlError) {
      const v: Verdict = { ok: false, message: err.message, line: err.line, column: err.column, problem: err.problem };
      if (err.hint) v.hint = err.hint;
      return v;
    }
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
