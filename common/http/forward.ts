import { Agent, type IncomingHttpHeaders, request } from 'node:http';

export interface ForwardRequest {
  /** `host:port` */
  readonly address: string;
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /** Gives up (and answers a 'timeout' failure) after this long, connection included. @default 30000 */
  readonly timeoutMs?: number;
  /**
   * Gives up on a connection not made within this long ('not-delivered': the caller may
   * try another node). A host that lost its power answers no SYN, and the kernel would
   * retry for two minutes. @default 2000, or timeoutMs if shorter
   */
  readonly connectTimeoutMs?: number;
}

export interface ForwardResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Why a forward failed. `not-delivered` means the connection was never made, so the
 * peer cannot have run anything and the caller may try another; after `timeout` or
 * `broken` the peer may have run it, and retrying could run it twice.
 */
export class ForwardError extends Error {
  constructor(
    readonly kind: 'not-delivered' | 'timeout' | 'broken',
    readonly address: string,
    cause: Error,
  ) {
    super(`${kind} forwarding to ${address}: ${cause.message}`, { cause });
    this.name = 'ForwardError';
  }
}

/** One keep-alive agent per process, as a Lambda container or a node reuses its connections. */
const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 60_000 });

const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND']);

/** Sends one HTTP request to a node and reads the whole answer. */
export function forward(req: ForwardRequest): Promise<ForwardResponse> {
  const [host, port] = splitAddress(req.address);
  return new Promise((resolve, reject) => {
    const timeoutMs = req.timeoutMs ?? 30_000;
    const connectTimeoutMs = Math.min(req.connectTimeoutMs ?? 2000, timeoutMs);
    let connected = false;
    let connectTimer: NodeJS.Timeout | undefined;
    const settle = (error?: ForwardError, response?: ForwardResponse) => {
      clearTimeout(connectTimer);
      clearTimeout(deadline);
      if (error) reject(error);
      else resolve(response!);
    };
    const outgoing = request(
      { host, port, path: req.path, method: req.method ?? 'POST', headers: req.headers, agent },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          settle(undefined, {
            status: incoming.statusCode ?? 502,
            headers: incoming.headers,
            body: Buffer.concat(chunks),
          }),
        );
        incoming.on('error', (error) => settle(new ForwardError('broken', req.address, error)));
      },
    );
    // Whichever comes first ends the request; the promise keeps the first outcome.
    const giveUp = (why: string) => {
      settle(new ForwardError(connected ? 'timeout' : 'not-delivered', req.address, new Error(why)));
      outgoing.destroy();
    };
    const deadline = setTimeout(() => giveUp(`timed out after ${timeoutMs} ms`), timeoutMs);
    outgoing.on('socket', (socket) => {
      const onConnect = () => {
        connected = true;
        clearTimeout(connectTimer);
      };
      if (!socket.connecting) return onConnect(); // a kept-alive socket
      // From when the connection is attempted: time queued for one of the agent's sockets counts only against the deadline.
      connectTimer = setTimeout(() => giveUp(`no connection within ${connectTimeoutMs} ms`), connectTimeoutMs);
      socket.once('connect', onConnect);
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      settle(
        new ForwardError(
          !connected && NOT_DELIVERED.has(error.code ?? '') ? 'not-delivered' : 'broken',
          req.address,
          error,
        ),
      );
    });
    outgoing.end(req.body);
  });
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) throw new RangeError(`a node address must be host:port, got "${address}"`);
  return [address.slice(0, at), port];
}
