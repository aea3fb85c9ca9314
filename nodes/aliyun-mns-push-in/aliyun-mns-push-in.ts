// The `aliyun-mns-push-in` node: an HTTP endpoint on Node-RED's node HTTP server (like core `http in`) for MNS topic
// subscriptions of type HTTP (spec §3.4). Every push is verified by lib/mns's PushVerifier (certificate from
// Alibaba's hosts only, signature, Date within 15 minutes): a forged, late or unsigned request gets 403, a body
// that is no notification or over the MNS limit gets 400, and neither enters the flow. A verified push is
// unwrapped and decoded as MNS queue in does and sent on; it is answered 204 only once the flow has finished with
// it (the shared completion tracker), and 500 / 503 when the flow failed or did not finish in time, so that MNS
// pushes it again. Beyond the concurrency limit a push gets 503 at once (MNS retries it).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { MAX_PUSH_BODY_BYTES, PushVerifier, decodeInner } from '../../lib/mns';
import { CompletionTracker, hasCompletionHooks } from '../shared/completion';
import { normalisePushIn, pushMnsInfo, trustedCertHostsFrom, type NormalisedPushIn, type PushInConfig } from './push-in-io';

const TYPE = 'aliyun-mns-push-in';
const STATUS_INTERVAL_MS = 250;
/** At most one log line per refusal reason in this period (forged requests must not flood the log). */
const REFUSAL_LOG_MS = 60_000;

type PushInDef = NodeDef & PushInConfig;
type Request = IncomingMessage & { originalUrl?: string; body?: unknown; _body?: boolean };
type Handler = (req: Request, res: ServerResponse) => void;
interface Layer {
  route?: { stack?: Array<{ handle?: unknown }> };
}
interface HttpNodeApp {
  post(path: string, handler: Handler): void;
  use?(fn: (req: Request, res: ServerResponse, next: (err?: unknown) => void) => void): void;
  path?(): string;
  parent?: HttpNodeApp;
  _router?: { stack: Array<Layer & { handle?: unknown }> };
}

// The raw body must be read before any body parser: with httpAdminRoot and httpNodeRoot both "/", the editor's admin
// app (mounted first) parses every JSON request. As core `http in` does for its raw-body routes, one middleware at
// the top of the root app keeps the raw bytes of POSTs to the paths of push in nodes.
const captureRoutes = new WeakMap<object, Set<string>>();

function rootApp(app: HttpNodeApp): HttpNodeApp {
  let a = app;
  while (a.parent) a = a.parent;
  return a;
}

function routeKey(path: string): string {
  return path.replace(/\/{2,}/g, '/').replace(/\/$/, '');
}

function captureBodies(app: HttpNodeApp): Set<string> | undefined {
  const root = rootApp(app);
  if (typeof root.use !== 'function' || !root._router) return undefined;
  let routes = captureRoutes.get(root);
  if (routes) return routes;
  const paths = new Set<string>();
  routes = paths;
  captureRoutes.set(root, paths);
  const capture = (req: Request, _res: ServerResponse, next: (err?: unknown) => void): void => {
    const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || req._body || !paths.has(routeKey(path))) return next();
    readBody(req, MAX_PUSH_BODY_BYTES).then(
      (body) => {
        req.body = body;
        req._body = true;
        (req as { skipRawBodyParser?: boolean }).skipRawBodyParser = true;
        next();
      },
      (err: Error) => next(err),
    );
  };
  root.use(capture);
  const stack = root._router.stack;
  const i = stack.findIndex((l) => l.handle === capture);
  if (i > 0) stack.unshift(stack.splice(i, 1)[0]);
  return routes;
}

/** The raw body: what a raw-body middleware kept, else read from the stream (at most `limit` + 1 bytes kept). */
function readBody(req: Request, limit: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  if (typeof req.body === 'string') return Promise.resolve(Buffer.from(req.body, 'utf8'));
  if (req._body) return Promise.reject(new Error('the request body was already parsed by a middleware, so its signature cannot be checked'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      if (size <= limit) chunks.push(c);
      size += c.length;
      // Far beyond the limit: stop reading (the answer is 400 either way).
      if (size > 4 * limit) req.pause();
      if (size > 4 * limit) resolve(Buffer.concat(chunks));
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export default function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${TYPE}.${key}`, subs);

  function PushInNode(this: Node, def: PushInDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- used in request and timer callbacks
    const node = this;
    const app = (RED as unknown as { httpNode?: HttpNodeApp }).httpNode;
    let cfg: NormalisedPushIn;
    let trusted: string[];
    try {
      cfg = normalisePushIn(def);
      trusted = trustedCertHostsFrom(RED.settings);
      if (!app || typeof app.post !== 'function') throw new Error(t('errors.no-http'));
      if (!hasCompletionHooks(RED)) throw new Error(t('errors.no-hooks'));
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalid-config') });
      node.error(t('errors.invalid-config', { message: (err as Error).message }));
      return;
    }
    const config = cfg;
    const verifier = new PushVerifier({ trustedCertHosts: trusted });
    const tracker = new CompletionTracker(RED);
    const open = new Set<ServerResponse>();
    let running = true;
    let inFlow = 0;
    const counts = { received: 0, answered: 0, refused: 0, failed: 0 };

    // ---- status, throttled
    let lastDrawn = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    const draw = (): void => {
      lastDrawn = Date.now();
      if (!running) return;
      const text = t('status.counts', { received: counts.received, answered: counts.answered, refused: counts.refused });
      node.status({ fill: 'green', shape: counts.failed > 0 ? 'ring' : 'dot', text: counts.failed > 0 ? `${text} · ${t('status.failed', { failed: counts.failed })}` : text });
    };
    const changed = (): void => {
      if (statusTimer || !running) return;
      const wait = lastDrawn + STATUS_INTERVAL_MS - Date.now();
      if (wait <= 0) draw();
      else {
        statusTimer = setTimeout(() => {
          statusTimer = undefined;
          draw();
        }, wait);
      }
    };

    const lastLogged = new Map<string, number>();
    const logRefusal = (status: number, reason: string): void => {
      const now = Date.now();
      if ((lastLogged.get(reason) ?? 0) + REFUSAL_LOG_MS > now) return;
      if (lastLogged.size > 100) lastLogged.clear();
      lastLogged.set(reason, now);
      node.warn(t('errors.refused', { status, reason }));
    };

    const answer = (res: ServerResponse, status: number, text?: string): void => {
      open.delete(res);
      if (res.headersSent || res.writableEnded) return;
      if (text === undefined) {
        res.statusCode = status;
        res.end();
      } else {
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(text);
      }
    };
    const refuse = (res: ServerResponse, status: number, reason: string): void => {
      counts.refused++;
      logRefusal(status, reason);
      answer(res, status, reason);
      changed();
    };

    const handle = async (req: Request, res: ServerResponse): Promise<void> => {
      if (!running) return answer(res, 503, 'closing');
      // Refuse an unsigned request before reading its body.
      if (!req.headers.authorization || !req.headers['x-mns-signing-cert-url'] || !req.headers.date) {
        return refuse(res, 403, 'unsigned: Authorization, x-mns-signing-cert-url and Date are required');
      }
      if (inFlow >= config.concurrency) {
        counts.failed++;
        answer(res, 503, `busy: ${config.concurrency} pushes are in the flow; MNS will push this one again`);
        changed();
        return;
      }
      inFlow++;
      let sentOn = false;
      try {
        open.add(res);
        let body: Buffer;
        try {
          body = await readBody(req, MAX_PUSH_BODY_BYTES);
        } catch (err) {
          return refuse(res, 400, (err as Error).message);
        }
        const verdict = await verifier.verify({ method: req.method ?? '', url: req.originalUrl ?? req.url ?? '/', headers: req.headers, body });
        if (!running) return answer(res, 503, 'closing');
        if (!verdict.ok) return refuse(res, verdict.status, verdict.reason);
        counts.received++;
        const u = verdict.unwrapped;
        const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
        const msg = { _msgid: RED.util.generateId(), topic: u.notification?.topicName ?? '', payload: undefined } as unknown as NodeMessageInFlow & {
          mns: Record<string, unknown>;
          iot?: unknown;
        };
        msg.mns = pushMnsInfo(path, req.headers, u.notification);
        let problem: string | undefined;
        try {
          const inner = decodeInner(u.message, config.payloadFormat);
          msg.payload = inner.payload;
          msg.mns.envelope = inner.iot ? 'legacy-iot' : u.envelope;
          if (inner.iot) msg.iot = inner.iot;
        } catch (err) {
          problem = (err as Error).message;
          msg.payload = u.message;
          msg.mns.envelope = u.envelope;
        }
        if (u.notification) msg.mns.notification = u.notification;
        if (problem) {
          // A genuine push this node cannot decode: reported with the message (Catch sees it), answered with an
          // error so MNS keeps it (and retries) instead of losing it.
          counts.failed++;
          node.error(t('errors.decode', { message: problem }), msg);
          answer(res, 500, `cannot decode the message: ${problem}`);
          changed();
          return;
        }
        const id = msg._msgid;
        sentOn = true;
        tracker.track(id, config.ackTimeoutMs, (how) => {
          inFlow--;
          if (how === 'ok') {
            counts.answered++;
            answer(res, 204);
          } else if (how === 'failed') {
            counts.failed++;
            answer(res, 500, 'a node in the flow ended the message with an error; MNS will push it again');
          } else {
            counts.failed++;
            node.warn(t('errors.ack-timeout', { messageId: String(msg.mns.messageId ?? ''), seconds: config.ackTimeoutMs / 1000 }));
            answer(res, 503, `not completed within ${config.ackTimeoutMs / 1000} s; MNS will push it again`);
          }
          changed();
        });
        changed();
        node.send(msg);
        tracker.sent(id);
      } finally {
        if (!sentOn) inFlow--;
      }
    };
    const handler: Handler = (req, res) => {
      handle(req, res).catch((err: Error) => {
        node.error(t('errors.internal', { message: err.message }));
        answer(res, 500, 'internal error');
      });
    };

    const fullPath = routeKey(`${typeof app?.path === 'function' ? app.path() : ''}${config.url}`.replace(/^\/+/, '/'));
    const captured = captureBodies(app as HttpNodeApp);
    captured?.add(fullPath);
    (app as HttpNodeApp).post(config.url, handler);
    draw();

    node.on('close', (_removed: boolean, done: () => void) => {
      running = false;
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
      // Take the route off (as core http in does), only the layer that holds this node's handler.
      captured?.delete(fullPath);
      const stack = (app as HttpNodeApp)._router?.stack;
      if (stack) {
        for (let i = stack.length - 1; i >= 0; i--) {
          if (stack[i].route?.stack?.some((l) => l.handle === handler)) stack.splice(i, 1);
        }
      }
      // Pushes still in the flow are not acknowledged: MNS pushes them again.
      tracker.close();
      for (const res of [...open]) answer(res, 503, 'the endpoint is closing; MNS will push this message again');
      done();
    });
  }

  RED.nodes.registerType(TYPE, PushInNode);
}
