// The `aliyun-iot-sql-rule` node: runs one Alibaba Cloud IoT rule SQL statement on each message, with the same
// engine the editor's Test panel uses (admin endpoint `POST aliyun-iot-sql-rule/test`).
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import { compileRule } from '../../lib/sql';
import { jsonOnly } from '../../lib/admin-request';
import type { CompiledRule, RuleOutcome } from '../../lib/sql/types';
import {
  createStatusThrottle,
  isBinaryOutput,
  normaliseConfig,
  parseTestRequest,
  sqlErrorPosition,
  statusClock,
  toRuleMessage,
  type Counts,
  type NormalisedConfig,
  type SqlRuleConfig,
} from './rule-io';

const TYPE = 'aliyun-iot-sql-rule';
/** The status is redrawn at most this often; the last change is always drawn once the interval has passed. */
const STATUS_INTERVAL_MS = 250;
/** The largest request body the test endpoint reads itself (when no body parser ran before it). */
const MAX_BODY_BYTES = 1024 * 1024;

type SqlRuleDef = NodeDef & SqlRuleConfig;

interface RuleMsg extends NodeMessageInFlow {
  rule?: { name: string; outcome: RuleOutcome; reason?: string };
  iot?: unknown;
}

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);

  function SqlRuleNode(this: Node, def: SqlRuleDef): void {
    RED.nodes.createNode(this, def);
    const counts: Counts = { matched: 0, filtered: 0, noMatch: 0, dropped: 0 };
    let cfg: NormalisedConfig | undefined;
    let rule: CompiledRule | undefined;
    /** Set when the node refused to start; every input then ends with this error. */
    let startError: Error | undefined;

    try {
      cfg = normaliseConfig(def);
    } catch (err) {
      startError = new Error(t('errors.invalid-config', { message: (err as Error).message }));
      this.status({ fill: 'red', shape: 'ring', text: t('status.invalid-config') });
      this.error(startError.message);
    }
    if (cfg) {
      try {
        rule = compileRule(cfg.sql, { dataType: cfg.dataType, timezone: cfg.timezone, strict: cfg.strict });
        this.status({ fill: 'green', shape: 'ring', text: t('status.ready') });
      } catch (err) {
        const pos = sqlErrorPosition(err);
        const message = err instanceof Error ? err.message : String(err);
        startError = new Error(t('errors.invalid-sql', { message }));
        this.status({
          fill: 'red',
          shape: 'ring',
          text: pos ? t('status.sql-error-at', { line: pos.line, column: pos.column }) : t('status.sql-error'),
        });
        this.error(startError.message);
      }
    }
    const ruleName = cfg?.name || def.name || this.id;

    // Status throttle: draw at once if the last drawing is older than the interval, otherwise once, later.
    const throttle = createStatusThrottle(() => {
      const subs = { matched: counts.matched, filtered: counts.filtered, dropped: counts.dropped, other: counts.noMatch };
      const text = counts.noMatch > 0 ? t('status.counts-other', subs) : t('status.counts', subs);
      this.status({ fill: counts.dropped > 0 ? 'yellow' : 'green', shape: 'dot', text });
    }, STATUS_INTERVAL_MS, statusClock.current);
    const countChanged = (): void => throttle.changed();

    this.on('input', (msg: RuleMsg, send, done) => {
      if (startError || !rule || !cfg) {
        done(startError ?? new Error(t('errors.not-started')));
        return;
      }
      const built = toRuleMessage(msg, cfg);
      if ('error' in built) {
        counts.dropped++;
        countChanged();
        done(new Error(t('errors.missing-topic')));
        return;
      }
      const result = rule.evaluate(built.message);
      switch (result.outcome) {
        case 'output': {
          counts.matched++;
          countChanged();
          msg.payload = result.output;
          msg.rule = { name: ruleName, outcome: 'output' };
          if (cfg.nonMatching === 'output') send([msg, null]);
          else send(msg);
          done();
          return;
        }
        case 'filtered':
        case 'no-match': {
          if (result.outcome === 'filtered') counts.filtered++;
          else counts.noMatch++;
          countChanged();
          if (cfg.nonMatching === 'output') {
            msg.rule = { name: ruleName, outcome: result.outcome };
            if (result.reason) msg.rule.reason = result.reason;
            send([null, msg]);
          }
          done();
          return;
        }
        case 'dropped':
        default: {
          counts.dropped++;
          countChanged();
          msg.rule = { name: ruleName, outcome: 'dropped' };
          if (result.reason) msg.rule.reason = result.reason;
          done(new Error(t('errors.dropped', { reason: result.reason ?? t('errors.no-reason') })));
          return;
        }
      }
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      throttle.stop();
      done();
    });
  }

  RED.nodes.registerType(TYPE, SqlRuleNode);

  // JSON only (415 otherwise): a cross-site form POST must never reach the engine.
  RED.httpAdmin.post(`/${TYPE}/test`, RED.auth.needsPermission(`${TYPE}.write`), jsonOnly, (req: Request, res: Response) => {
    handleTest(req, res).catch((err: unknown) => {
      // Never throw out of an admin route: answer with what went wrong.
      if (!res.headersSent) {
        res.status(500).json({ ok: false, error: { message: err instanceof Error ? err.message : String(err) } });
      }
    });
  });

  async function handleTest(req: Request, res: Response): Promise<void> {
    let body: unknown = req.body;
    if (body === undefined) {
      const read = await readJsonBody(req);
      if ('status' in read) {
        res.status(read.status).json({ ok: false, error: { message: read.error } });
        return;
      }
      body = read.body;
    }
    const parsed = parseTestRequest(body);
    if ('error' in parsed) {
      res.status(parsed.status).json({ ok: false, error: { message: parsed.error } });
      return;
    }
    const { request } = parsed;
    let compiled: CompiledRule;
    try {
      compiled = compileRule(request.sql, { dataType: request.dataType, timezone: request.timezone, strict: request.strict });
    } catch (err) {
      const pos = sqlErrorPosition(err);
      const e = err as { message?: unknown; problem?: unknown; hint?: unknown };
      const error: Record<string, unknown> = { message: typeof e.message === 'string' ? e.message : String(err) };
      if (pos) {
        error.line = pos.line;
        error.column = pos.column;
      }
      if (typeof e.problem === 'string') error.problem = e.problem;
      if (typeof e.hint === 'string') error.hint = e.hint;
      res.json({ ok: false, error });
      return;
    }
    const result = compiled.evaluate(request.message);
    const answer: Record<string, unknown> = { ok: true, outcome: result.outcome };
    if (result.output !== undefined) {
      if (isBinaryOutput(result.output)) {
        const buf = Buffer.from(result.output);
        answer.output = { type: 'binary', length: buf.length, base64: buf.toString('base64'), hex: buf.toString('hex') };
      } else {
        answer.output = result.output;
      }
    }
    if (result.reason !== undefined) answer.reason = result.reason;
    res.json(answer);
  }
}

/** Read and parse a JSON body when no body parser ran (Node-RED's admin app normally has one). */
function readJsonBody(req: Request): Promise<{ body: unknown } | { status: 400 | 413; error: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (v: { body: unknown } | { status: 400 | 413; error: string }): void => {
      if (finished) return;
      finished = true;
      resolve(v);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        finish({ status: 413, error: `request body larger than ${MAX_BODY_BYTES} bytes` });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => finish({ status: 400, error: 'request body could not be read' }));
    req.on('end', () => {
      try {
        finish({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      } catch {
        finish({ status: 400, error: 'request body is not JSON' });
      }
    });
  });
}
