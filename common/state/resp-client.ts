import { connect as connectTcp, type Socket } from 'node:net';

/** A reply: simple and bulk strings as strings, integers as numbers, nulls, arrays. */
export type RespValue = string | number | null | RespValue[];

/** An error reply from the server (`-NOSCRIPT ...`, `-ERR ...`): the command reached it and failed. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

export interface RespClientOptions {
  /** `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS (ElastiCache in transit encryption). */
  readonly url: string;
  /** How long to wait for a connection. @default 2000 */
  readonly connectTimeoutMs?: number;
  /**
   * How long the oldest unanswered command may wait for its reply. A server that froze or
   * a host that lost its power leaves the connection open and silent (no reset ever comes):
   * then the connection is dropped, every pending command fails, and it is re-opened.
   * @default 2000
   */
  readonly replyTimeoutMs?: number;
  /** Connection errors; the client keeps reconnecting a connection that once worked. */
  readonly onError?: (error: Error) => void;
  /** Each time the connection is ready, the first time and after every reconnect. */
  readonly onReady?: () => void;
}

interface Pending {
  readonly resolve: (value: RespValue) => void;
  readonly reject: (error: Error) => void;
}

const INCOMPLETE = Symbol('incomplete');

/**
 * A Redis client for the few commands the state store sends (EVALSHA, SCRIPT LOAD,
 * AUTH, SELECT, PING), in RESP2 over node:net or node:tls: commands are pipelined on one
 * connection and answered in order. While the connection is down a command fails at once
 * instead of queueing (the dispatcher then decides over what it last knew); a connection
 * that goes silent while commands wait is dropped; one that once worked is re-opened with
 * a growing pause. Written here rather than taken from node-redis, whose 425 KB
 * (minified) made up 90 % of the dispatcher's bundle and most of its cold start, for the
 * 200 lines this needs.
 */
export class RespClient {
  /** Commands sent so far: each is one round trip (they are pipelined, never batched into one). */
  sent = 0;
  private socket: Socket | undefined;
  private ready = false;
  private closed = false;
  private everReady = false;
  private retries = 0;
  private pending: Pending[] = [];
  private head = 0;
  private buffer: Buffer = Buffer.alloc(0);
  /** Arrays of the reply being read, innermost last: how many items each still needs. */
  private arrays: { remaining: number; items: RespValue[]; error?: RespError }[] = [];
  /** Armed while commands wait for replies. */
  private replyTimer: NodeJS.Timeout | undefined;
  /** When the server last sent a byte (or, if nothing was waiting, when a command was sent). */
  private heardAt = 0;
  /** Why the connection last failed, for the commands it takes with it. */
  private lastFailure: Error | undefined;
  private readonly target: { host: string; port: number; tls: boolean; auth: string[]; db: string | undefined };

  private constructor(private readonly options: RespClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
      throw new RangeError(`the state store URL must start with redis:// or rediss://, got ${url.protocol}`);
    const password = decodeURIComponent(url.password);
    const user = decodeURIComponent(url.username);
    this.target = {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 6379),
      tls: url.protocol === 'rediss:',
      auth: password ? (user ? [user, password] : [password]) : [],
      db: url.pathname.length > 1 ? url.pathname.slice(1) : undefined,
    };
  }

  /** Connects, authenticates and resolves once ready; a first connection that fails rejects. */
  static async connect(options: RespClientOptions): Promise<RespClient> {
    const client = new RespClient(options);
    await client.open();
    return client;
  }

  get isOpen(): boolean {
    return this.ready;
  }

  /** Sends one command; resolves with its reply, rejects with a RespError for an error reply. */
  send(args: readonly string[]): Promise<RespValue> {
    if (!this.ready) return Promise.reject(new Error('the state store connection is down'));
    return this.write(args);
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref(); // a host that is gone never acknowledges the end
    });
  }

  private write(args: readonly string[]): Promise<RespValue> {
    let frame = `*${args.length}\r\n`;
    for (const arg of args) frame += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    this.sent++;
    return new Promise((resolve, reject) => {
      if (this.head >= this.pending.length) this.heardAt = Date.now(); // nothing was waiting: the silence starts now
      this.pending.push({ resolve, reject });
      this.socket!.write(frame);
      this.replyTimer ??= setTimeout(() => this.checkSilence(), this.replyTimeoutMs);
    });
  }

  private get replyTimeoutMs(): number {
    return this.options.replyTimeoutMs ?? 2000;
  }

  /**
   * While commands wait, drops a connection that has sent no byte for the reply timeout.
   * Checked after the bytes already waiting on the socket are read (setImmediate runs
   * after I/O), so a busy event loop does not mistake a late read for a silent server.
   */
  private checkSilence(): void {
    setImmediate(() => {
      this.replyTimer = undefined;
      if (this.head >= this.pending.length) return;
      const silentMs = Date.now() - this.heardAt;
      if (silentMs >= this.replyTimeoutMs)
        this.socket?.destroy(new Error(`the state store did not answer within ${this.replyTimeoutMs} ms`));
      else this.replyTimer = setTimeout(() => this.checkSilence(), this.replyTimeoutMs - silentMs);
    });
  }

  private stopReplyTimer(): void {
    clearTimeout(this.replyTimer);
    this.replyTimer = undefined;
  }

  private async open(): Promise<void> {
    const { host, port, tls } = this.target;
    // node:tls is loaded only for a TLS URL, and only when connecting: not in a cold start's module init.
    const socket = tls
      ? (await import('node:tls')).connect({ host, port, servername: host })
      : connectTcp({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5000);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          socket.destroy(
            new Error(`no connection to ${host}:${port} within ${this.options.connectTimeoutMs ?? 2000} ms`),
          ),
        this.options.connectTimeoutMs ?? 2000,
      );
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        // Ready once the server has answered (AUTH, SELECT, or else a PING): a frozen server accepts connections too.
        const { auth, db } = this.target;
        const handshake = [...(auth.length > 0 ? [['AUTH', ...auth]] : []), ...(db ? [['SELECT', db]] : [])];
        Promise.all((handshake.length > 0 ? handshake : [['PING']]).map((command) => this.write(command))).then(
          () => {
            this.ready = this.everReady = true;
            this.retries = 0;
            this.options.onReady?.();
            resolve();
          },
          (error: Error) => socket.destroy(error),
        );
      });
      socket.on('data', (chunk: Buffer) => this.receive(chunk));
      socket.on('error', (error: Error) => {
        this.lastFailure = error;
        this.options.onError?.(error);
        if (!this.everReady) reject(error);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        this.stopReplyTimer();
        this.ready = false;
        this.buffer = Buffer.alloc(0);
        this.arrays = [];
        const lost = this.pending.slice(this.head);
        this.pending = [];
        this.head = 0;
        const why = this.lastFailure ? `: ${this.lastFailure.message}` : '';
        this.lastFailure = undefined;
        for (const p of lost) p.reject(new Error(`the state store connection was lost${why}`));
        if (!this.everReady) return reject(new Error(`no connection to ${host}:${port}${why}`));
        if (this.closed) return;
        const pause = Math.min(50 * 2 ** this.retries++, 2000);
        setTimeout(() => void (this.closed ? undefined : this.open().catch(() => undefined)), pause).unref();
      });
    });
  }

  /**
   * Reads every whole token in the buffer, building replies as they complete, and answers
   * the oldest pending commands with them. Arrays being read are kept between chunks, so a
   * large reply costs one pass over its bytes, not one per chunk.
   */
  private receive(chunk: Buffer): void {
    this.heardAt = Date.now();
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    for (;;) {
      let token: Token;
      try {
        token = readToken(this.buffer, offset);
      } catch (error) {
        this.socket?.destroy(error as Error); // not Redis on the other end: fail every pending command
        return;
      }
      if (token === INCOMPLETE) break;
      offset = token.next;
      if (token.arrayOf !== undefined) {
        this.arrays.push({ remaining: token.arrayOf, items: [] });
        continue;
      }
      let value: RespValue | RespError | undefined = token.value;
      while (value !== undefined && this.arrays.length > 0) {
        const array = this.arrays[this.arrays.length - 1];
        if (value instanceof RespError)
          array.error ??= value; // a script never returns one inside an array, but keep the stream in step
        else array.items.push(value);
        if (--array.remaining > 0) {
          value = undefined;
        } else {
          this.arrays.pop();
          value = array.error ?? array.items;
        }
      }
      if (value !== undefined) this.answer(value);
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }

  private answer(value: RespValue | RespError): void {
    const waiter = this.pending[this.head++];
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    if (value instanceof RespError) waiter?.reject(value);
    else waiter?.resolve(value);
  }
}

/** A whole scalar, or the header of an array (`arrayOf` items follow), or INCOMPLETE. */
type Token =
  | { value: RespValue | RespError; arrayOf?: undefined; next: number }
  | { value?: undefined; arrayOf: number; next: number }
  | typeof INCOMPLETE;

/** One RESP2 token starting at `at`, or INCOMPLETE when the buffer does not hold all of it yet. */
function readToken(buffer: Buffer, at: number): Token {
  const end = buffer.indexOf('\r\n', at);
  if (end === -1) return INCOMPLETE;
  const line = buffer.toString('utf8', at + 1, end);
  switch (buffer[at]) {
    case 0x2b: // + simple string
      return { value: line, next: end + 2 };
    case 0x2d: // - error
      return { value: new RespError(line), next: end + 2 };
    case 0x3a: // : integer
      return { value: Number(line), next: end + 2 };
    case 0x24: {
      // $ bulk string
      const length = Number(line);
      if (length < 0) return { value: null, next: end + 2 };
      if (buffer.length < end + 2 + length + 2) return INCOMPLETE;
      return { value: buffer.toString('utf8', end + 2, end + 2 + length), next: end + 2 + length + 2 };
    }
    case 0x2a: {
      // * array
      const count = Number(line);
      if (count < 0) return { value: null, next: end + 2 };
      if (count === 0) return { value: [], next: end + 2 };
      return { arrayOf: count, next: end + 2 };
    }
    default:
      throw new Error(`unexpected byte ${buffer[at]} in a reply from the state store`);
  }
}
