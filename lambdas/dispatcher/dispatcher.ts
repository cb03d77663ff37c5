import {
  type Invocation,
  type InvocationStrategy,
  isIndexed,
  type NodeView,
  type Selection,
} from '@strata/policy-engine';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { FunctionDirectory, NotFoundError, type ResolvedFunction } from '../../common/functions/directory';
import { schemaViolation } from '../../common/functions/schema';
import { ForwardError, type ForwardResponse, forward } from '../../common/http/forward';
import {
  BodyError,
  BUDGET_HEADER,
  bodyText,
  FUNCTION_ERROR_HEADER,
  FUNCTION_VERSION_HEADER,
  HOPS_HEADER,
  parseJsonBody,
  REFUSED_HEADER,
  REQUEST_ID_HEADER,
  safeDecode,
} from '../../common/http/json';
import { type FleetMember, MemoryStateStore, type Reservation, type StateStore } from '../../common/state';

export interface DispatcherOptions {
  /** Connects to the shared state; called again after a failure, at most once per refresh interval. */
  readonly connect: () => Promise<StateStore>;
  readonly strategyName: string;
  readonly strategy: InvocationStrategy;
  /** How many nodes to try when one cannot be reached or refuses. @default 3 */
  readonly maxAttempts?: number;
  /** The longest one forward may take. @default whatever is left of the invocation's budget */
  readonly forwardTimeoutMs?: number;
  /**
   * API Gateway's integration timeout: an invocation's whole budget (queueing and
   * forwarding) ends this long after API Gateway received the request, or when the
   * Lambda's own time runs out, whichever is first. @default 29000
   */
  readonly apiTimeoutMs?: number;
  /** Kept back from the budget for the answer to travel back. @default 250 */
  readonly replyMarginMs?: number;
  /**
   * How long a reservation outlives its invocation's budget: its lease. If the process
   * dies with the reservation held, the state store frees it then on its own. @default 1000
   */
  readonly leaseGraceMs?: number;
  /** @default 6 MiB, Lambda's limit on a request (API Gateway's own is 10 MB) */
  readonly maxBodyBytes?: number;
  /**
   * How long an invocation may wait for a free slot when every node is full, before
   * the answer is 503. Bursts queue here instead of failing. @default 10000
   */
  readonly queueTimeoutMs?: number;
  /**
   * How old the node list may grow before it is read again. For a strategy that decides
   * over the store's index, only the fleet's membership is read, and only when it changed. @default 1000
   */
  readonly refreshMs?: number;
  /** A node whose heartbeat is older is not chosen. @default 3000 */
  readonly heartbeatTtlMs?: number;
  readonly observer?: DispatchObserver;
  /** Where functions are looked up: the built-ins and users' functions (docs/functions.md). @default the built-ins only */
  readonly functions?: FunctionDirectory;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** What the dispatcher reports as it works; the Lambda handler turns it into CloudWatch metrics. */
export interface DispatchObserver {
  dispatched?(event: {
    node: string;
    latencyMs: number;
    attempts: number;
    status: number;
    degraded: boolean;
    /** The function's own error (docs/functions.md), which is not the node's. */
    functionError?: string;
  }): void;
  retried?(event: { node: string; why: string }): void;
  noCapacity?(reason: string): void;
  degraded?(reason: string): void;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Tier 1: turns an API Gateway proxy event into an invocation on a compute node. The
 * strategy orders the nodes; the shared state reserves one atomically (one round trip);
 * the reservation is released on every path. When the shared state cannot be reached
 * the dispatcher carries on over the last node list it read, with counts of its own,
 * and says so in its headers and metrics.
 */
export class Dispatcher {
  /** The one connection to the shared state, shared by concurrent calls; cleared if it fails, to try again later. */
  private store: Promise<StateStore> | undefined;
  private nodes: readonly NodeView[] = [];
  private readAt = Number.NEGATIVE_INFINITY;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** The membership version `nodes` was read at, for a strategy that reads only membership. */
  private membershipVersion: number | undefined;
  /** Counts of its own, over the last known nodes, for while the shared state is away. */
  private fallback: MemoryStateStore;
  private degradedReason: string | undefined;
  /** Invocations waiting for a free slot; a release here wakes the longest waiting at once. */
  private readonly waiting: (() => void)[] = [];
  private readonly now: () => number;
  private readonly functions: FunctionDirectory;

  constructor(private readonly options: DispatcherOptions) {
    this.now = options.now ?? Date.now;
    this.functions = options.functions ?? new FunctionDirectory();
    this.fallback = new MemoryStateStore(this.now);
  }

  /** Closes the connection to the shared state, if it made one. */
  async close(): Promise<void> {
    const store = await this.store?.catch(() => undefined);
    await store?.close();
  }

  get degraded(): boolean {
    return this.degradedReason !== undefined;
  }

  /** @param budget what the Lambda runtime says of the time left (`context.getRemainingTimeInMillis()`) */
  async handle(event: APIGatewayProxyEvent, budget: { remainingMs?: number } = {}): Promise<APIGatewayProxyResult> {
    const method = typeof event?.httpMethod === 'string' ? event.httpMethod.toUpperCase() : undefined;
    const path = typeof event?.path === 'string' ? event.path : undefined;
    if (!method || !path)
      return reply(400, { error: 'not an API Gateway proxy event: httpMethod and path are required' });

    if (path === '/health') {
      if (method !== 'GET')
        return reply(405, { error: `${method} is not allowed on /health; use GET` }, { allow: 'GET' });
      const nodes = await this.liveNodes();
      return reply(200, {
        status: this.degraded ? 'degraded' : 'ok',
        strategy: this.options.strategyName,
        computeNodes: nodes.filter((n) => n.role === 'compute').length,
        degradedReason: this.degradedReason,
      });
    }
    const match = /^\/invoke\/([^/]+)\/?$/.exec(path);
    if (!match)
      return reply(404, { error: `no route ${path}; the routes are POST /invoke/{function} and GET /health` });
    if (method !== 'POST')
      return reply(405, { error: `${method} is not allowed on /invoke; use POST` }, { allow: 'POST' });

    const name = safeDecode(event.pathParameters?.function ?? match[1]);
    let fn: ResolvedFunction;
    try {
      if (name === undefined) throw new NotFoundError(`no function "${match[1]}"`);
      fn = await this.functions.resolve(name);
    } catch (error) {
      if (error instanceof NotFoundError)
        return reply(404, { error: error.message, functions: await this.functions.names() });
      throw error;
    }

    const parsed = this.parseBody(event);
    if ('status' in parsed) return reply(parsed.status, { error: parsed.error });
    const args = parsed.value;
    const problem = schemaViolation(fn.argsSchema ?? { type: 'object' }, args);
    if (problem) return reply(400, { error: problem, function: fn.name });
    const requestId = typeof event.requestContext?.requestId === 'string' ? event.requestContext.requestId : '-';
    const objectKey =
      fn.objectKeyArg === undefined ? undefined : String((args as Record<string, unknown>)[fn.objectKeyArg]);
    return this.dispatch(
      fn.name,
      fn.kind === 'wasm' ? fn.version : undefined,
      objectKey,
      JSON.stringify(args),
      requestId,
      this.deadline(event, budget.remainingMs),
    );
  }

  /** When this invocation's answer must be on its way: API Gateway's timeout or the Lambda's, less the reply margin. */
  private deadline(event: APIGatewayProxyEvent, remainingMs: number | undefined): number {
    const now = this.now();
    const received = event.requestContext?.requestTimeEpoch;
    const fromApi =
      (typeof received === 'number' && received <= now ? received : now) + (this.options.apiTimeoutMs ?? 29_000);
    const fromLambda = typeof remainingMs === 'number' && Number.isFinite(remainingMs) ? now + remainingMs : Infinity;
    return Math.min(fromApi, fromLambda) - (this.options.replyMarginMs ?? 250);
  }

  /** Reserves a node, forwards, and on a refusal or an unreachable node tries the next, releasing each time. */
  private async dispatch(
    functionName: string,
    version: number | undefined,
    objectKey: string | undefined,
    body: string,
    requestId: string,
    deadline: number,
  ): Promise<APIGatewayProxyResult> {
    const started = this.now();
    const tried = new Set<string>();
    const maxAttempts = this.options.maxAttempts ?? 3;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const reserved = await this.reserveWhenFree({ functionName, objectKey, hops: 0 }, tried, started, deadline);
      if (reserved.kind === 'no-capacity') {
        this.options.observer?.noCapacity?.(reserved.reason);
        return reply(
          503,
          { error: 'no compute node can take the invocation now', reason: reserved.reason },
          { 'retry-after': '1' },
        );
      }
      const { node, reservation } = reserved;
      let response: ForwardResponse;
      const timeoutMs = Math.max(1, Math.min(this.options.forwardTimeoutMs ?? Infinity, deadline - this.now()));
      try {
        response = await forward({
          address: node.address,
          path: `/invoke/${encodeURIComponent(functionName)}`,
          body,
          headers: {
            'content-type': 'application/json',
            [HOPS_HEADER]: '0',
            [REQUEST_ID_HEADER]: requestId,
            [BUDGET_HEADER]: String(Math.round(timeoutMs)),
            ...(version === undefined ? {} : { [FUNCTION_VERSION_HEADER]: String(version) }),
          },
          timeoutMs,
        });
      } catch (error) {
        if (!(error instanceof ForwardError)) throw error;
        if (error.kind === 'not-delivered') {
          tried.add(node.id);
          this.options.observer?.retried?.({ node: node.id, why: error.kind });
          continue;
        }
        // The node may have run it: do not run it again elsewhere.
        return reply(
          error.kind === 'timeout' ? 504 : 502,
          { error: `compute node ${node.id}: ${error.kind}` },
          { 'x-strata-node': node.id },
        );
      } finally {
        await reservation.release().catch(() => undefined);
        this.waiting.shift()?.();
      }
      if (response.status === 503 && response.headers[REFUSED_HEADER]) {
        tried.add(node.id);
        this.options.observer?.retried?.({ node: node.id, why: String(response.headers[REFUSED_HEADER]) });
        continue;
      }
      this.options.observer?.dispatched?.({
        node: node.id,
        latencyMs: this.now() - started,
        attempts: attempt,
        status: response.status,
        degraded: this.degraded,
        functionError: optionalHeader(response.headers[FUNCTION_ERROR_HEADER]),
      });
      return {
        statusCode: response.status,
        headers: {
          'content-type': String(response.headers['content-type'] ?? 'application/json'),
          'x-strata-node': String(response.headers['x-strata-node'] ?? node.id),
          'x-strata-tier1': `${this.options.strategyName}:${node.id}${this.degraded ? ' (degraded)' : ''}`,
          'x-strata-tier2': String(response.headers['x-strata-route'] ?? node.id),
          'x-strata-tier3': String(response.headers['x-strata-offload'] ?? 'none'),
          'x-strata-attempts': String(attempt),
          ...(response.headers['retry-after'] ? { 'retry-after': String(response.headers['retry-after']) } : {}),
          ...(response.headers[FUNCTION_ERROR_HEADER]
            ? { [FUNCTION_ERROR_HEADER]: String(response.headers[FUNCTION_ERROR_HEADER]) }
            : {}),
        },
        body: response.body.toString('utf8'),
      };
    }
    return reply(
      503,
      { error: `no compute node took the invocation in ${maxAttempts} attempts`, tried: [...tried] },
      { 'retry-after': '1' },
    );
  }

  /**
   * Asks the strategy and reserves, the reservation leased until the invocation's
   * deadline (and a grace); while every node is full, tries again until the queue
   * timeout, leaving a second of the budget to forward: at once when this dispatcher
   * releases a reservation, else after a growing pause (other dispatchers' releases are
   * only seen by asking again).
   */
  private async reserveWhenFree(invocation: Invocation, tried: ReadonlySet<string>, started: number, deadline: number) {
    const queueUntil = Math.min(started + (this.options.queueTimeoutMs ?? 10_000), deadline - 1000);
    for (let pauseMs = 5; ; pauseMs = Math.min(2 * pauseMs, 250)) {
      // A strategy over the index never reads the list (and gets the nodes tried as `exclude`): no O(n) work a decision.
      const known = await this.liveNodes();
      const nodes =
        this.options.strategy.reads === 'membership' || tried.size === 0
          ? known
          : known.filter((n) => !tried.has(n.id));
      let selection = this.options.strategy(nodes, invocation, this.context());
      if (selection.kind === 'select' && isIndexed(selection) && tried.size > 0)
        selection = { ...selection, exclude: [...tried] };
      const leaseMs = Math.max(1, deadline - this.now()) + (this.options.leaseGraceMs ?? 1000);
      const reservation = selection.kind === 'select' ? await this.reserve(selection, leaseMs) : selection;
      if (reservation.kind === 'chosen')
        return { kind: 'chosen' as const, node: { id: reservation.nodeId, address: reservation.address }, reservation };
      if (this.now() >= queueUntil) return reservation;
      await this.pause(Math.min(pauseMs, queueUntil - this.now()));
    }
  }

  /** Waits `ms`, or less if a local release wakes this waiter first. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(wake);
        if (at !== -1) this.waiting.splice(at, 1);
        resolve();
      }, ms);
      this.waiting.push(wake);
    });
  }

  /**
   * The node list, read again once it is older than refreshMs; on failure the last one,
   * judged as of when it was read. A strategy that decides over the store's index gets
   * the membership only, which costs one version check while nobody joins or leaves; a
   * strategy that orders the nodes itself gets every node's figures, O(n) per refresh.
   */
  private async liveNodes(): Promise<readonly NodeView[]> {
    const refreshMs = this.options.refreshMs ?? 1000;
    // Healthy: read again once the list is older than refreshMs. Degraded: try the store again as often, keeping the last list.
    if (this.now() - (this.degraded ? this.lastAttemptAt : this.readAt) < refreshMs) return this.nodes;
    this.lastAttemptAt = this.now();
    try {
      this.store ??= this.options.connect().catch((error: unknown) => {
        this.store = undefined;
        throw error;
      });
      const store = await this.store;
      let changed = true;
      if (this.options.strategy.reads === 'membership') {
        const { version, members } = await store.membership(this.membershipVersion);
        if (members) [this.nodes, this.membershipVersion] = [members.map((m) => asNodeView(m, this.now())), version];
        changed = members !== undefined;
      } else {
        this.nodes = await store.liveNodes();
      }
      this.readAt = this.now();
      this.degradedReason = undefined;
      if (changed) {
        const fallback = new MemoryStateStore(this.now);
        for (const node of this.nodes) await fallback.heartbeat(node, 24 * 3600_000);
        this.fallback = fallback;
      }
    } catch (error) {
      this.degrade(error);
    }
    return this.nodes;
  }

  private async reserve(selection: Selection, leaseMs: number): Promise<Reservation> {
    if (this.store && !this.degraded) {
      try {
        return await (await this.store).reserve(selection, leaseMs);
      } catch (error) {
        this.degrade(error);
      }
    }
    return this.fallback.reserve(selection, leaseMs);
  }

  private context() {
    // While degraded, judge heartbeats as of the last successful read: nothing newer can arrive.
    const now = this.degraded && Number.isFinite(this.readAt) ? this.readAt : this.now();
    return { now, random: this.options.random ?? Math.random, heartbeatTtlMs: this.options.heartbeatTtlMs ?? 3000 };
  }

  private degrade(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    if (!this.degraded) this.options.observer?.degraded?.(reason);
    this.degradedReason = reason;
  }

  private parseBody(event: APIGatewayProxyEvent): { value: unknown } | { status: number; error: string } {
    const limit = this.options.maxBodyBytes ?? 6 * 1024 * 1024;
    if (event.body !== null && event.body !== undefined && typeof event.body !== 'string')
      return { status: 400, error: 'the body must be a string' };
    const raw = event.body
      ? event.isBase64Encoded === true
        ? Buffer.from(event.body, 'base64')
        : Buffer.from(event.body, 'utf8')
      : Buffer.alloc(0);
    if (raw.length > limit)
      return { status: 413, error: `the body is ${raw.length} bytes, over the limit of ${limit}` };
    const type = headerOf(event, 'content-type')?.split(';')[0].trim().toLowerCase() ?? 'application/json';
    try {
      if (type === 'application/json' || type.endsWith('+json'))
        return { value: raw.length === 0 ? {} : parseJsonBody(raw) };
      // A raw body reaches the function as {"data": "<the body>"}.
      return { value: { data: bodyText(raw) } };
    } catch (error) {
      if (error instanceof BodyError) return { status: error.status, error: error.message };
      throw error;
    }
  }
}

/** A member as a node view with no figures: all a strategy that reads membership looks at. */
function asNodeView(member: FleetMember, readAt: number): NodeView {
  return {
    ...member,
    slotsUsed: 0,
    inFlight: 0,
    cpuBusy: 0,
    memoryUsed: 0,
    load1: 0,
    load5: 0,
    load15: 0,
    cores: 1,
    heartbeatAt: readAt,
  };
}

function reply(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode: status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

function headerOf(event: APIGatewayProxyEvent, name: string): string | undefined {
  const headers = event.headers && typeof event.headers === 'object' ? event.headers : {};
  for (const [key, value] of Object.entries(headers))
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  return undefined;
}

function optionalHeader(value: string | string[] | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}
