// Rule SQL engine of Alibaba Cloud IoT Platform's data forwarding ("previous version"), public as
// `node-red-contrib-aliyun-iot-mns/sql`. Spec: ../shared/spec/iot-sql.md (§8 lists every decision taken).
export { compileRule, DEFAULT_TIMEZONE } from './compiler';
export { FUNCTIONS } from './functions';
export { MAX_RULE_LENGTH, MAX_TEXT_LENGTH, MAX_TEXT_PER_EVALUATION, MAX_DATE_PATTERN_LENGTH, MAX_MD2_INPUT } from './limits';
export { MAX_EXPRESSION_DEPTH, MAX_SELECT_ITEMS } from './parser';
export { parseTopic, type TopicClass, type TopicInfo } from './topic';
export { parseTslPayload, isRawAlink, parseAlinkPostTopic, type TslContext, type AlinkPostTopic } from './tsl';
export { compileDatePattern, type DateFormatter } from './dateformat';
export { parseSql } from './parser';
export type { Statement, Expr, SelectItem, FromClause, Pos } from './ast';
export {
  SqlError,
  type CompileOptions,
  type CompiledRule,
  type RuleDataType,
  type RuleMessage,
  type RuleOutcome,
  type RuleResult,
  type RuleTslInfo,
} from './types';
