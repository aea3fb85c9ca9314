// Public types of the rule SQL engine (`node-red-contrib-aliyun-iot-mns/sql`). See DESIGN.md and ../shared/spec/iot-sql.md.

/** Data type of a rule: JSON rules see parsed JSON, BINARY rules see raw bytes. */
export type RuleDataType = 'JSON' | 'BINARY';

export interface CompileOptions {
  /** JSON (default) or BINARY. */
  dataType?: RuleDataType;
  /** IANA timezone used by `timestamp(fmt)`; default `Asia/Shanghai` (GMT+8). */
  timezone?: string;
  /** Refuse every extension beyond Alibaba's documented dialect (`NOT`, `!=`, searched CASE, booleans, IS NULL). */
  strict?: boolean;
}

/** One message as the rule engine sees it. */
export interface RuleMessage {
  /** Device topic, e.g. `/sys/a1B2c3D4e5F/dev01/thing/event/property/post`. */
  topic: string;
  /** Raw bytes, text, or an already-parsed JSON value. */
  payload: Buffer | Uint8Array | string | unknown;
  productKey?: string;
  deviceName?: string;
  messageId?: string;
  /** Evaluation time (ms epoch or Date); defaults to the current time. */
  now?: number | Date;
  /** IANA timezone for this message, overriding the rule option. */
  timezone?: string;
  /** Device tags for `attribute(key)`. */
  tags?: Record<string, string>;
  /**
   * What the cloud knows from the device registry and the thing model, used only when a raw Alink property/event
   * post is converted to the parsed form (§8.3): `iotId` and `deviceType` appear in property and event posts,
   * `eventName` / `eventType` (info, alert, error) become `name` / `type` of an event post. Absent fields stay absent.
   */
  tsl?: RuleTslInfo;
}

/** Thing-model facts a message may carry for TSL parsing (see `RuleMessage.tsl`). */
export interface RuleTslInfo {
  iotId?: string;
  deviceType?: string;
  eventName?: string;
  eventType?: string;
}

export type RuleOutcome = 'output' | 'filtered' | 'no-match' | 'dropped';

export interface RuleResult {
  /** `output`: WHERE passed; `filtered`: WHERE was not true; `no-match`: FROM topic did not match; `dropped`: payload unusable. */
  outcome: RuleOutcome;
  /** The rule output: a plain object, or a Buffer for a binary `SELECT *`. Present when outcome is `output`. */
  output?: Record<string, unknown> | Buffer;
  /** Why a message was dropped or filtered, in words for a user. */
  reason?: string;
}

export interface CompiledRule {
  readonly sql: string;
  readonly dataType: RuleDataType;
  /** The FROM topic filter as written (unquoted). */
  readonly topicFilter: string;
  /** True when the topic matches the FROM filter. */
  matchesTopic(topic: string): boolean;
  /** Evaluate one message. Never throws for bad data. */
  evaluate(message: RuleMessage): RuleResult;
}

/**
 * Thrown by `compileRule` for SQL that must be refused. `line` and `column` are 1-based.
 * Message shape: `Unknown function 'devicename' at 1:8 — did you mean deviceName()?`
 */
export class SqlError extends Error {
  readonly line: number;
  readonly column: number;
  /** The problem without position or hint, e.g. "Unknown function 'devicename'". */
  readonly problem: string;
  /** An optional suggestion, e.g. "did you mean deviceName()?". */
  readonly hint?: string;
  constructor(problem: string, line: number, column: number, hint?: string) {
    super(`${problem} at ${line}:${column}${hint ? ` — ${hint}` : ''}`);
    this.name = 'SqlError';
    this.problem = problem;
    this.line = line;
    this.column = column;
    if (hint) this.hint = hint;
  }
}
