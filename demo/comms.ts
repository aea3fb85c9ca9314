// A client of Node-RED's editor websocket (/comms): what the editor's Debug sidebar and node statuses show.
// Used by `npm start` for its live summary and by the tests to see what the user would see, without a browser.
// Protocol (Node-RED 3/4, no adminAuth): send {"subscribe": "<topic>"}; receive arrays of {topic, data}; topics
// "debug" (data: {id, name, msg: encoded text, format, ...}) and "status/<node id>" (data: {text, fill, shape}).
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

export interface DebugMessage {
  /** Id of the debug node. */
  id: string;
  name?: string;
  /** The shown value, as the sidebar gets it (JSON text for objects). */
  msg: string;
  format?: string;
  topic?: string;
}

export interface NodeStatus {
  text?: string;
  fill?: string;
  shape?: string;
}

export interface Comms {
  /** 'debug' (DebugMessage), 'status' (node id, NodeStatus), 'close'. */
  readonly events: EventEmitter;
  /** Every debug message received so far. */
  readonly debug: DebugMessage[];
  /** Resolves with the first debug message (already received or to come) of this debug node that passes `test`. */
  waitForDebug(nodeId: string, test?: (m: DebugMessage) => boolean, timeoutMs?: number): Promise<DebugMessage>;
  close(): void;
}

/** Connects to http(s)://host:port/ of a Node-RED and subscribes to debug messages and node statuses. */
export function connectComms(editorUrl: string): Promise<Comms> {
  const url = new URL('comms', editorUrl.endsWith('/') ? editorUrl : `${editorUrl}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const debug: DebugMessage[] = [];
  ws.on('message', (data) => {
    let items: unknown;
    try {
      items = JSON.parse(String(data));
    } catch {
      return;
    }
    for (const item of Array.isArray(items) ? items : [items]) {
      const { topic, data: body } = (item ?? {}) as { topic?: string; data?: unknown };
      if (topic === 'debug' && body && typeof body === 'object') {
        const m = body as DebugMessage;
        debug.push(m);
        events.emit('debug', m);
      } else if (typeof topic === 'string' && topic.startsWith('status/')) {
        events.emit('status', topic.slice('status/'.length), (body ?? {}) as NodeStatus);
      }
    }
  });
  ws.on('close', () => events.emit('close'));
  // An 'error' after open ends in 'close'; before open it rejects below.
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.send(JSON.stringify({ subscribe: 'debug' }));
      ws.send(JSON.stringify({ subscribe: 'status/#' }));
      resolve({
        events,
        debug,
        waitForDebug(nodeId, test = () => true, timeoutMs = 30_000) {
          const seen = debug.find((m) => m.id === nodeId && test(m));
          if (seen) return Promise.resolve(seen);
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => {
              events.off('debug', on);
              fail(new Error(`no debug message from node ${nodeId} within ${timeoutMs} ms (got ${debug.length} from others)`));
            }, timeoutMs);
            const on = (m: DebugMessage) => {
              if (m.id === nodeId && test(m)) {
                clearTimeout(timer);
                events.off('debug', on);
                ok(m);
              }
            };
            events.on('debug', on);
          });
        },
        close: () => ws.close(),
      });
    });
  });
}

/** The value a debug message shows, parsed from its JSON text when it is one. */
export function debugValue(m: DebugMessage): unknown {
  try {
    return JSON.parse(m.msg) as unknown;
  } catch {
    return m.msg;
  }
}
