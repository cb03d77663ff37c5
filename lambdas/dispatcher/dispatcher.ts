import { randomUUID } from 'node:crypto';
import { type Invocation, type InvocationStrategy, isIndexed } from '@strata/policy-engine';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { FunctionDirectory } from '../../common/functions/directory';
import { type Next, offer, type Passed } from '../../common/http/forward-and-retry';
import {
  BUDGET_HEADER,
  FUNCTION_ERROR_HEADER,
  FUNCTION_VERSION_HEADER,
  HOPS_HEADER,
  REQUEST_ID_HEADER,
} from '../../common/http/headers';
import { PLACE_HOLD_MS, type QueuePlace, type Reservation, type Reserved, type StateStore } from '../../common/state';
import { deadlineOf, parseEvent, reply, resultOf } from './api-gateway';
import { FleetView } from './fleet-view';

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
  retried?(event: { node: string; why: Passed }): void;
  noCapacity?(reason: string): void;
  degraded?(reason: string): void;
}

/**
 * Tier 1: turns an API Gateway proxy event (api-gateway.ts) into an invocation on a
 * compute node. The strategy orders the nodes of the fleet view (fleet-view.ts); the
 * shared state reserves one atomically (one round trip); the invocation is offered to
 * it by the protocol between tiers (common/http/forward-and-retry.ts), and the
 * reservation is released on every path. When every node is full, the invocation
 * queues here for a while.
 */
export class Dispatcher {
  private readonly fleet: FleetView;
  /** Invocations waiting for a free slot, in the order they arrived (reserveWhenFree). */
  private readonly queue: Waiter[] = [];
  /** How many reservations this dispatcher has released. */
  private releases = 0;
  private readonly now: () => number;
  private readonly functions: FunctionDirectory;

  constructor(private readonly options: DispatcherOptions) {
    this.now = options.now ?? Date.now;
    this.functions = options.functions ?? new FunctionDirectory();
    this.fleet = new FleetView({
      connect: options.connect,
      reads: () => (options.strategy.reads === 'membership' ? 'membership' : 'figures'),
      refreshMs: options.refreshMs,
      heartbeatTtlMs: options.heartbeatTtlMs,
      onDegraded: (reason) => options.observer?.degraded?.(reason),
      now: this.now,
      random: options.random,
    });
  }

  /** Closes the connection to the shared state, if it made one. */
  close(): Promise<void> {
    return this.fleet.close();
  }

  get degraded(): boolean {
    return this.fleet.degraded;
  }

  /** @param budget what the Lambda runtime says of the time left (`context.getRemainingTimeInMillis()`) */
  async handle(event: APIGatewayProxyEvent, budget: { remainingMs?: number } = {}): Promise<APIGatewayProxyResult> {
    const request = await parseEvent(event, this.options.maxBodyBytes ?? 6 * 1024 * 1024, this.functions);
    switch (request.kind) {
      case 'answer':
        return request.result;
      case 'health': {
        const nodes = await this.fleet.liveNodes();
        return reply(200, {
          status: this.degraded ? 'degraded' : 'ok',
          strategy: this.options.strategyName,
          computeNodes: nodes.filter((n) => n.role === 'compute').length,
          degradedReason: this.fleet.degradedReason,
        });
      }
      case 'invoke': {
        const deadline = deadlineOf(event, budget.remainingMs, {
          now: this.now(),
          apiTimeoutMs: this.options.apiTimeoutMs ?? 29_000,
          replyMarginMs: this.options.replyMarginMs ?? 250,
        });
        return this.dispatch(request, deadline);
      }
    }
  }

  /** Reserves a node and forwards; on a refusal or an unreachable node, the next, releasing each time. */
  private async dispatch(
    request: {
      functionName: string;
      version: number | undefined;
      objectKey: string | undefined;
      body: string;
      requestId: string;
    },
    deadline: number,
  ): Promise<APIGatewayProxyResult> {
    const started = this.now();
    const maxAttempts = this.options.maxAttempts ?? 3;
    const invocation: Invocation = { functionName: request.functionName, objectKey: request.objectKey, hops: 0 };
    const place: QueuePlace = { id: randomUUID(), since: Math.floor(started), holdMs: PLACE_HOLD_MS };
    const offered = await offer<string>({
      maxAttempts,
      next: (tried) => this.reserveWhenFree(invocation, tried, place, deadline),
      request: () => {
        const timeoutMs = Math.max(1, Math.min(this.options.forwardTimeoutMs ?? Infinity, deadline - this.now()));
        return {
          path: `/invoke/${encodeURIComponent(request.functionName)}`,
          body: request.body,
          headers: {
            'content-type': 'application/json',
            [HOPS_HEADER]: '0',
            [REQUEST_ID_HEADER]: request.requestId,
            [BUDGET_HEADER]: String(Math.round(timeoutMs)),
            ...(request.version === undefined ? {} : { [FUNCTION_VERSION_HEADER]: String(request.version) }),
          },
          timeoutMs,
        };
      },
      onPassed: (node, why) => this.options.observer?.retried?.({ node, why }),
    });
    if (offered.kind === 'none') this.options.observer?.noCapacity?.(offered.why);
    if (offered.kind === 'answered')
      this.options.observer?.dispatched?.({
        node: offered.node,
        latencyMs: this.now() - started,
        attempts: offered.attempts,
        status: offered.response.status,
        degraded: this.degraded,
        functionError: optionalHeader(offered.response.headers[FUNCTION_ERROR_HEADER]),
      });
    return resultOf(offered, { strategyName: this.options.strategyName, degraded: this.degraded, maxAttempts });
  }

  /**
   * Asks the strategy and reserves, the reservation leased until the invocation's
   * deadline (and a grace). While every node is full, the invocation queues in arrival
   * order, until the queue timeout (leaving a second of the budget to forward): here,
   * behind the invocations that reached this dispatcher first, and in the shared state,
   * behind those of every dispatcher (its `place`). Only the first here asks again: at
   * once when this dispatcher releases a reservation, else after a pause that grows with
   * the waiters the store serves first (20 ms for each and 20, at most 250 ms: other
   * dispatchers' releases are only seen by asking). Once it is placed, the next asks. So
   * the longest waiting takes the next free slot, and a burst's tail is a function of
   * the load, not of which waiter happened to ask when a slot freed.
   */
  private async reserveWhenFree(
    invocation: Invocation,
    tried: ReadonlySet<string>,
    place: QueuePlace,
    deadline: number,
  ): Promise<Next<string>> {
    const queueUntil = Math.min(place.since + (this.options.queueTimeoutMs ?? 10_000), deadline - 1000);
    const me: Waiter = { started: place.since };
    try {
      // The pause when the store answers without a queue (a store of an older version, or one away): 5 to 250 ms, doubling.
      for (let pauseMs = 5; ; ) {
        const first = this.queue.length === 0 || this.queue[0] === me;
        // One behind others asks only when its time is up, once, for the store's reason. A
        // retry that arrived before the head (its forward was refused) joins as the head, and
        // asks: the one it passed sleeps until woken.
        if (!first && this.now() < queueUntil) {
          this.join(me);
          if (this.queue[0] !== me) await this.sleep(me, queueUntil - this.now());
          continue;
        }
        const releasesBefore = this.releases;
        // Its last ask: refused, its place lapses at once, not holding back those behind it for PLACE_HOLD_MS.
        const last = this.now() >= queueUntil;
        const reservation = await this.ask(invocation, tried, last ? { ...place, holdMs: 1 } : place, deadline);
        if (reservation.kind === 'chosen') return { kind: 'target', target: this.target(reservation) };
        if (last) return { kind: 'none', why: reservation.reason };
        this.join(me);
        // A release here while the ask was under way found no one asleep to wake: ask again now.
        if (this.queue[0] !== me || this.releases !== releasesBefore) continue;
        const waitMs = reservation.ahead === undefined ? pauseMs : Math.min(250, 20 * (reservation.ahead + 1));
        await this.sleep(me, Math.min(waitMs, queueUntil - this.now()));
        pauseMs = Math.min(2 * pauseMs, 250);
      }
    } finally {
      this.leave(me);
    }
  }

  /** The strategy's choice, reserved in the shared state (one round trip), or why there is none. */
  private async ask(
    invocation: Invocation,
    tried: ReadonlySet<string>,
    place: QueuePlace,
    deadline: number,
  ): Promise<Reservation> {
    const { strategy } = this.options;
    // A strategy over the index never reads the list (and gets the nodes tried as `exclude`): no O(n) work a decision.
    const known = await this.fleet.liveNodes();
    const nodes = strategy.reads === 'membership' || tried.size === 0 ? known : known.filter((n) => !tried.has(n.id));
    let selection = strategy(nodes, invocation, this.fleet.context());
    if (selection.kind === 'select' && isIndexed(selection) && tried.size > 0)
      selection = { ...selection, exclude: [...tried] };
    const leaseMs = Math.max(1, deadline - this.now()) + (this.options.leaseGraceMs ?? 1000);
    return selection.kind === 'select' ? await this.fleet.reserve(selection, leaseMs, place) : selection;
  }

  /** The reserved node, released once the forward to it is over, which wakes the first waiting invocation. */
  private target(reservation: Reserved) {
    return {
      id: reservation.nodeId,
      address: reservation.address,
      done: async () => {
        await reservation.release().catch(() => undefined);
        this.releases++;
        this.queue[0]?.wake?.();
      },
    };
  }

  /** Queues a waiter in arrival order (a retry after a refusal keeps its invocation's place). */
  private join(waiter: Waiter): void {
    if (this.queue.includes(waiter)) return;
    const at = this.queue.findIndex((other) => other.started > waiter.started);
    this.queue.splice(at === -1 ? this.queue.length : at, 0, waiter);
  }

  /** Takes a waiter out of the queue; if it was first, the next asks at once. */
  private leave(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter);
    if (at === -1) return;
    this.queue.splice(at, 1);
    if (at === 0) this.queue[0]?.wake?.();
  }

  /** Waits `ms`, or less if woken (a release here, or the waiter ahead placed). */
  private sleep(waiter: Waiter, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => waiter.wake?.(), Math.max(0, ms));
      waiter.wake = () => {
        clearTimeout(timer);
        waiter.wake = undefined;
        resolve();
      };
    });
  }
}

/** An invocation queued at this dispatcher while every node is full. */
interface Waiter {
  /** When its invocation reached the dispatcher: its place in the queue. */
  readonly started: number;
  /** Set while it sleeps: ends the sleep at once. */
  wake?: () => void;
}

function optionalHeader(value: string | string[] | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

/** Tells a learning strategy (adaptive) each dispatch's latency, then the other observer. */
export function learningObserver(other: DispatchObserver, strategy: InvocationStrategy): DispatchObserver {
  return {
    ...other,
    dispatched(event) {
      const now = Date.now();
      strategy.observe?.(now - event.latencyMs, event.latencyMs, now);
      other.dispatched?.(event);
    },
  };
}
