// Admin endpoints of our nodes (the editor's Test buttons) take JSON only. A web page on another site can make a
// browser POST a form (application/x-www-form-urlencoded, multipart/form-data) or text/plain to the Node-RED admin
// without asking first; it cannot send application/json cross-site without a CORS preflight, which Node-RED's admin
// does not grant. Refusing every other Content-Type (and a missing one) with 415 shuts that door.
// No express or node-red import: the middleware is typed by the little it uses.

export interface JsonOnlyRequest {
  headers: Record<string, string | string[] | undefined>;
}
export interface JsonOnlyResponse {
  status(code: number): { json(body: unknown): unknown };
}

/** `application/json`, optionally with a `charset` parameter (any case, any spacing). */
export function isJsonContentType(value: string | string[] | undefined): boolean {
  if (typeof value !== 'string') return false;
  const [type, ...params] = value.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  return params.every((p) => p.trim() === '' || /^\s*charset\s*=\s*("?)[A-Za-z0-9._-]{1,40}\1\s*$/i.test(p));
}

export const JSON_ONLY_MESSAGE = 'this endpoint accepts only JSON: send the body with the header "Content-Type: application/json"';

/**
 * Express-style middleware: passes JSON requests on, answers anything else with 415 and a JSON body that says what
 * to send. The body carries the message both as `message` and as `error.message`, the two shapes our editors read.
 */
export function jsonOnly(req: JsonOnlyRequest, res: JsonOnlyResponse, next: () => void): void {
  if (isJsonContentType(req.headers['content-type'])) {
    next();
    return;
  }
  res.status(415).json({ ok: false, code: 'UnsupportedMediaType', message: JSON_ONLY_MESSAGE, error: { message: JSON_ONLY_MESSAGE } });
}
