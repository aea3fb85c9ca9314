// One place that decides how an endpoint URL typed by a user may be shown, and refuses `user:password@` in endpoint
// fields that never use it. Every endpoint check (MNS, STS, IoT OpenAPI, MQTT broker, IoT instance endpoint) and every
// message that names an endpoint goes through here, so that a password pasted into a URL never reaches a log line, a
// node status, the debug sidebar, an error or an admin answer.
//
// Why textual and not `new URL()`: a password may hold `/`, `?`, `#`, `:` or `@`, and then the URL parser either
// fails (`http://u:p/x@host`: port "p") or files the password under the path or query (`http://u/x:p@host`). So
// anything between the scheme's `//` and the LAST `@` of the text is treated as user-info, whatever parses.

/** The longest endpoint text ever quoted back; the rest is cut (a pasted page is not an endpoint). */
const MAX_SHOWN = 200;

/** True when the text carries an `@`, i.e. possibly a `user:password@` part, wherever a URL parser would put it. */
export function hasUserInfo(text: string): boolean {
  return text.includes('@');
}

/**
 * The text with any user-info replaced by `***` (everything from after `//` — or from the start, without `//` — up
 * to the last `@`), control characters removed and cut to a readable length. Safe to put in any message.
 */
export function redactUrl(text: string): string {
  let out = String(text ?? '');
  const at = out.lastIndexOf('@');
  if (at >= 0) {
    const slashes = out.indexOf('//');
    const start = slashes >= 0 && slashes < at ? slashes + 2 : 0;
    out = `${out.slice(0, start)}***${out.slice(at)}`;
  }
  // eslint-disable-next-line no-control-regex
  out = out.replace(/[\u0000-\u001f\u007f]/g, '');
  return out.length > MAX_SHOWN ? `${out.slice(0, MAX_SHOWN)}…` : out;
}

/**
 * Throws `makeError(message)` when an endpoint field holds `user:password@`. `what` names the field in the user's
 * words ("the MNS endpoint"); `fix` says where credentials go instead. The message never quotes the text.
 */
export function refuseUserInfo<E extends Error>(text: string, what: string, fix: string, makeError: (message: string) => E): void {
  if (!hasUserInfo(text)) return;
  throw makeError(`${what} must not contain a user name or password ("user:password@" — the text has an "@"): remove that part; ${fix}`);
}
