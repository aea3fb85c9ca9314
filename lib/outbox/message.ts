// What the outbox keeps of a message: the publish job and enough of the Node-RED message to send the same output
// (or error record) after a restart. JSON with Buffers kept as Base64; what JSON cannot hold (functions, sockets,
// cycles) is left out rather than refusing the message.

export interface StoredMessage<J> {
  job: J;
  msg: Record<string, unknown>;
}

const BUF = '__outboxBuffer';

function jsonSafe(msg: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(msg, function (this: unknown, key: string, value: unknown) {
    // Buffer.toJSON runs before the replacer sees the value: recognise its shape.
    if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return { [BUF]: Buffer.from((value as { data: number[] }).data).toString('base64') };
    }
    if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return undefined;
    if (value && typeof value === 'object') {
      if (seen.has(value)) return undefined;
      seen.add(value);
    }
    return value;
  });
}

export function encodeMessage<J>(job: J, msg: Record<string, unknown>): Buffer {
  const { req, res, ...rest } = msg; // HTTP request/response objects of http in: never storable, never useful later
  void req;
  void res;
  let stored: string;
  try {
    stored = jsonSafe(rest);
  } catch {
    stored = jsonSafe({ _msgid: msg._msgid, topic: msg.topic });
  }
  return Buffer.from(`{"job":${JSON.stringify(job)},"msg":${stored}}`);
}

export function decodeMessage<J>(data: Buffer): StoredMessage<J> {
  return JSON.parse(data.toString('utf8'), (_key, value: unknown) => {
    if (value && typeof value === 'object' && typeof (value as Record<string, unknown>)[BUF] === 'string') {
      return Buffer.from((value as Record<string, string>)[BUF], 'base64');
    }
    return value;
  }) as StoredMessage<J>;
}
