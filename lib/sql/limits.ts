// Bounds of the rule SQL engine, in one place (documented in README "Reliability" and the SQL rule node's help).
// They keep every allocation the engine makes, at compile time (constant folding runs functions on literals) and
// at run time, far below what V8 can hold, so that hostile SQL or payloads get a clear error instead of stopping the
// process. Real rules stay orders of magnitude below each of them.

/** Longest rule SQL accepted, in characters (Alibaba documents no limit; real rules are well under 10,000). */
export const MAX_RULE_LENGTH = 64 * 1024;

/**
 * Longest text any function builds or takes as its text input (concat, replace, lower, upper, payload(),
 * to_base64(*), to_hex(*), timestamp(fmt)), in characters: 4 MiB. to_base64(*) and to_hex(*) therefore take
 * payloads up to 3 MiB and 2 MiB.
 */
export const MAX_TEXT_LENGTH = 4 * 1024 * 1024;

/**
 * Total text the functions may build while one message is evaluated (or while one rule's constants are folded),
 * in characters: 32 MiB. Bounds rules that build many large values (e.g. 50 SELECT items of concat()).
 */
export const MAX_TEXT_PER_EVALUATION = 32 * 1024 * 1024;

/**
 * Largest input crypto(x, 'MD2') digests, in bytes. MD2 (written here in JavaScript, OpenSSL 3 has none) is some
 * fifty times slower than MD5, so its input also counts MD2_WEIGHT times against the per-message budget.
 */
export const MAX_MD2_INPUT = 256 * 1024;
export const MD2_WEIGHT = 64;

/** Longest date pattern timestamp(fmt) / timestamp_utc(fmt) takes, in characters. */
export const MAX_DATE_PATTERN_LENGTH = 1024;

/** Thrown by a function whose result would break a bound; becomes a SqlError (compile) or a dropped message (run). */
export class LimitError extends Error {
  /** The function that hit the bound, e.g. `replace`. */
  readonly fn: string;
  constructor(fn: string, message: string) {
    super(message);
    this.name = 'LimitError';
    this.fn = fn;
  }
}

/** `4194304` → `4,194,304` (the same in every locale). */
export function count(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * State of the current evaluation (or compile), shared by the functions: the text budget left, and whether any
 * per-evaluation cache holds something (see runtime.ts). One object, so the hot path of `evaluate` is two plain
 * property stores and no cross-module call.
 */
export const work = { budget: MAX_TEXT_PER_EVALUATION, dirty: false };

/** Start a new budget: before each evaluation and before compiling a rule. */
export function resetTextBudget(): void {
  work.budget = MAX_TEXT_PER_EVALUATION;
}

/**
 * Claim `length` characters for the result of `fn` BEFORE building it; throws LimitError when the result would be
 * longer than MAX_TEXT_LENGTH or the evaluation's budget would be exceeded.
 */
export function claimText(fn: string, length: number): void {
  if (length > MAX_TEXT_LENGTH) {
    throw new LimitError(fn, `${fn}() result would be ${count(length)} characters, more than the ${count(MAX_TEXT_LENGTH)} allowed`);
  }
  charge(`${fn}()`, length);
}

/** Count `units` characters of work against the budget of this evaluation (or compile). */
export function charge(who: string, units: number): void {
  work.budget -= units;
  if (work.budget < 0) {
    throw new LimitError(who.replace(/\(\)$/, ''),
      `${who}: this rule would work on more than ${count(MAX_TEXT_PER_EVALUATION)} characters of text for one message`);
  }
}

/**
 * Claim the JSON text of an object that `who` (e.g. `concat()`, `a comparison`) needs; the text exists already,
 * its making is what is bounded: the same budget as the functions' results, so repeated use stays bounded.
 */
export function claimJson(who: string, length: number, what = 'an object as text'): void {
  if (length > MAX_TEXT_LENGTH) {
    throw new LimitError(who, `${who} needs ${what} of ${count(length)} characters, more than the ${count(MAX_TEXT_LENGTH)} allowed`);
  }
  charge(who, length);
}

/** Refuse a text input longer than MAX_TEXT_LENGTH (checked before any work on it). */
export function checkInput(fn: string, length: number, what = 'text'): void {
  if (length > MAX_TEXT_LENGTH) {
    throw new LimitError(fn, `${fn}() ${what} is ${count(length)} characters, more than the ${count(MAX_TEXT_LENGTH)} allowed`);
  }
}

/** A value quoted in an error message, cut to a readable length. */
export function clip(s: string, max = 40): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${count(s.length)} characters)`;
}
