import type { IncomingMessage, ServerResponse } from 'node:http';

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether an authority (`host[:port]`) or an origin (`http://host[:port]`) names this machine's loopback. */
function isLoopback(authority: string): boolean {
  const match = /^(\[::1\]|[^:/[\]]+)(?::\d{1,5})?$/.exec(authority);
  return match !== null && LOOPBACK_NAMES.has(match[1].toLowerCase());
}

/**
 * Refuses (403, and returns true) a request that a web page could have sent: a Host that
 * is not loopback (DNS rebinding: a name the attacker controls that resolves to
 * 127.0.0.1), or an Origin of another site (a cross-site form or fetch; browsers send
 * Origin with every such POST). The local servers listen on loopback only, so every
 * legitimate client names loopback, and a command-line client sends no Origin.
 */
export function refuseForeign(req: IncomingMessage, res: ServerResponse): boolean {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  let why: string | undefined;
  if (!isLoopback(host)) why = `Host ${JSON.stringify(host)} is not loopback`;
  else if (origin !== undefined && !/^https?:\/\//.test(origin))
    why = `Origin ${JSON.stringify(origin)} is another site`;
  else if (origin !== undefined && !isLoopback(origin.replace(/^https?:\/\//, '')))
    why = `Origin ${JSON.stringify(origin)} is another site`;
  if (why === undefined) return false;
  res
    .writeHead(403, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: `${why}: this server answers only requests made on this machine's loopback` }));
  return true;
}
