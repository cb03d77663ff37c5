import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type NodeRole, type NodeView, type PolicyContext, ServiceTimeEstimator } from '@strata/policy-engine';
import type { FunctionRegistry } from '../common/functions/registry';
import { BUDGET_HEADER, FUNCTION_ERROR_HEADER, FUNCTION_VERSION_HEADER, NODE_HEADER } from '../common/http/headers';
import { BodyError, parseJsonBody, readBody, sendJson } from '../common/http/json';
import type { ObjectStore } from '../common/object-store';
import type { StateStore } from '../common/state';
import { DataLimitError, InputError } from '../functions';
import { MiB, RUN_BUDGET_MS } from '../functions/limits';
import { FunctionCatalog, type NodeFunction } from './function-catalog';
import { MetricsAgent } from './metrics-agent/agent';
import { type MeasureScope, ProcSampler } from './metrics-agent/proc';
import { checkPeerRule, defaultPeerRule, type PeerRule, peerAllowed } from './peers';
import { FunctionPool } from './pool';
import { Slots } from './slots';
import { FunctionError } from './wasm/instance';

export interface NodeBaseOptions {
  readonly id: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0, any free port */
  readonly port?: number;
  /** Execution slots: worker threads that run functions. */
  readonly slots: number;
  readonly store: StateStore;
  /** How often the node publishes its figures (and a compute node refreshes its view of the storage nodes). @default 1000 */
  readonly heartbeatIntervalMs?: number;
  /** Where the metrics agent's EMF records go. */
  readonly emf?: (line: string) => void;
  /** What the metrics agent measures (nodes/metrics-agent/proc.ts). @default 'host' */
  readonly measure?: MeasureScope;
  /** @default Math.random */
  readonly random?: () => number;
  /** Where peers (from the shared state) may be for this node to forward to them. @default defaultPeerRule(host) */
  readonly peers?: PeerRule;
  /** Limits of the node's HTTP server. @default NODE_HTTP_LIMITS */
  readonly http?: Partial<NodeHttpLimits>;
  /** Where users' functions are registered (docs/functions.md). @default none: built-ins only */
  readonly registry?: FunctionRegistry;
}

/** The longest budget a caller may give (15 min, Lambda's own limit); the dispatcher's is under 29 s. */
export const MAX_BUDGET_MS = 900_000;

export interface NodeHttpLimits {
  /** Open connections at once; more are closed as they come. */
  readonly maxConnections: number;
  /** Time to receive a request's headers. */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request (not to answer it). */
  readonly requestTimeoutMs: number;
  /**
   * A request body's size: what the dispatcher may send. It forwards the arguments it
   * parsed from a request of up to 6 MiB (Lambda's limit) and checked against the
   * function's schema, extra fields included, so no less.
   */
  readonly maxBodyBytes: number;
}

/**
 * A node is reached by the dispatchers and its peers only, with bodies of a function's
 * arguments; Node.js's defaults (no connection limit, 60 s for headers, 300 s for
 * a request) would let a slow or endless sender hold the node's sockets and memory.
 */
export const NODE_HTTP_LIMITS: NodeHttpLimits = {
  maxConnections: 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  maxBodyBytes: 6 * 1024 * 1024,
};

/**
 * What compute and storage nodes share: an HTTP server, execution slots with a worker
 * thread each, the metrics agent publishing the node's heartbeat, and a drain that
 * finishes the work in hand before the node leaves. A compute node also keeps a view of
 * the storage nodes (tier 3), refreshed at the same interval (a failed refresh keeps the
 * last view); it asks the store's index for a peer (tier 2), so no node reads the whole
 * fleet: its periodic calls cost Redis the same at 10 or 10,000 nodes.
 */
export abstract class NodeBase {
  readonly slots: Slots;
  address = '';
  draining = false;
  /** The storage nodes as last read from the shared state (a compute node's tier-3 view; empty on a storage node). */
  protected storage: readonly NodeView[] = [];
  /** How long this node's invocations hold a slot: what it publishes for the adaptive policies. */
  protected readonly serviceTimes = new ServiceTimeEstimator();
  protected readonly pool: FunctionPool;
  /** The built-ins and the users' functions this node can run. */
  protected readonly catalog: FunctionCatalog;
  /** Publishes this node's figures; made by start(), once the port is known. */
  protected agent!: MetricsAgent;
  private readonly server: Server;
  /** Each request in hand, with when its caller stops waiting for it (its budget; else the longest an invocation runs). */
  private readonly inHand = new Map<IncomingMessage, { deadline: number; answered: Promise<void> }>();
  private readonly intervalMs: number;
  private readonly peerRule: PeerRule;
  protected readonly httpLimits: NodeHttpLimits;
  /** Peers already reported as out of the rule, so that each is logged once. */
  private readonly refused = new Set<string>();
  private refreshTimer: NodeJS.Timeout | undefined;

  protected constructor(
    protected readonly options: NodeBaseOptions,
    readonly role: NodeRole,
  ) {
    this.slots = new Slots(options.slots);
    this.pool = new FunctionPool(options.slots);
    this.catalog = new FunctionCatalog(options.registry);
    this.intervalMs = options.heartbeatIntervalMs ?? 1000;
    this.peerRule = checkPeerRule(options.peers ?? defaultPeerRule(options.host ?? '127.0.0.1'));
    this.httpLimits = { ...NODE_HTTP_LIMITS, ...options.http };
    this.server = createServer(
      {
        headersTimeout: this.httpLimits.headersTimeoutMs,
        requestTimeout: this.httpLimits.requestTimeoutMs,
        // How often those two are checked (Node's default, 30 s, would let them run that much over).
        connectionsCheckingInterval: 1_000,
      },
      (req, res) => {
        const budgetMs = Number(req.headers[BUDGET_HEADER]);
        const deadline =
          Date.now() + (Number.isInteger(budgetMs) && budgetMs > 0 ? Math.min(budgetMs, MAX_BUDGET_MS) : RUN_BUDGET_MS);
        const answered = new Promise<void>((resolve) => res.once('close', resolve));
        this.inHand.set(req, { deadline, answered });
        void answered.then(() => this.inHand.delete(req));
        const path = (req.url ?? '/').split('?')[0];
        const handling = path === '/health' ? this.health(res) : this.handle(req, res, path);
        handling.catch((error: Error) => {
          if (!res.headersSent) sendJson(res, 500, { error: error.message });
          else res.destroy(error);
        });
      },
    );
    this.server.maxConnections = this.httpLimits.maxConnections;
  }

  get id(): string {
    return this.options.id;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) =>
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve),
    );
    this.address = `${this.options.host ?? '127.0.0.1'}:${(this.server.address() as AddressInfo).port}`;
    this.agent = new MetricsAgent({
      id: this.id,
      address: this.address,
      role: this.role,
      store: this.options.store,
      slots: () => ({ total: this.slots.total, used: this.slots.inUse }),
      draining: () => this.draining,
      serviceTimes: () => ({
        serviceMs: this.serviceTimes.serviceMs,
        functionServiceMs: this.serviceTimes.functionServiceMs,
      }),
      intervalMs: this.intervalMs,
      emf: this.options.emf,
      sampler: new ProcSampler(undefined, undefined, undefined, this.options.measure),
    });
    await this.agent.start();
    if (this.role === 'compute') {
      await this.refresh();
      this.refreshTimer = setInterval(() => void this.refresh(), this.intervalMs);
      this.refreshTimer.unref();
    }
    return this;
  }

  /**
   * Stops taking work, finishes what is in hand, leaves the shared state and stops. The
   * wait for the work in hand ends when the longest budget in flight does: past it no
   * caller reads the answer (a request that hangs, a peer that never answers), and a
   * connection left open holds nothing back.
   */
  async drain(): Promise<void> {
    this.draining = true;
    await this.agent.publish(); // tell the dispatchers and peers at once, not at the next interval
    const inHand = [...this.inHand.values()];
    const longest = Math.max(Date.now(), ...inHand.map((request) => request.deadline)) - Date.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(inHand.map((request) => request.answered)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, longest);
      }),
    ]);
    clearTimeout(timer);
    this.agent.stop();
    clearInterval(this.refreshTimer);
    await this.options.store.deregister(this.id).catch(() => undefined);
    this.server.close();
    this.server.closeAllConnections();
    await this.pool.close();
  }

  /** This node as the policies see it, from its last published figures. */
  protected get self(): NodeView {
    const report = this.agent.lastReport!;
    return { ...report, slotsUsed: this.slots.inUse, inFlight: 0 };
  }

  protected context(): PolicyContext {
    return { now: Date.now(), random: this.options.random ?? Math.random, heartbeatTtlMs: 3 * this.intervalMs };
  }

  /** Every request but GET /health, with its path (no query). */
  protected abstract handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;

  /**
   * Reads the body (empty reads as {}) and parses it with the function's own parser;
   * answers 413, 415 or 400 itself and returns undefined when it cannot.
   */
  protected async readArgs(
    req: IncomingMessage,
    res: ServerResponse,
    fn: NodeFunction,
    limit: number,
  ): Promise<{ args: unknown; body: Buffer } | undefined> {
    try {
      const body = await readBody(req, limit);
      return { args: fn.parse(body.length === 0 ? {} : parseJsonBody(body)), body };
    } catch (error) {
      if (error instanceof BodyError) sendJson(res, error.status, { error: error.message });
      else if (error instanceof InputError) sendJson(res, 400, { error: error.message });
      else throw error;
      return undefined;
    }
  }

  /**
   * Runs a function's data stage over its object, streamed from the store to a worker.
   * Throws ObjectNotFoundError, or DataLimitError for an object over the stage's
   * maxObjectBytes (before reading it) or one the stage refuses.
   */
  protected async runDataStage(
    fn: NodeFunction,
    args: unknown,
    objects: ObjectStore,
    deadline: number,
  ): Promise<unknown> {
    const { objectKey, maxObjectBytes } = fn.dataStage!;
    const key = objectKey(args);
    const object = await objects
      .open(key, AbortSignal.timeout(Math.max(1, deadline - Date.now())))
      .catch((error: Error) => {
        if (error.name === 'AbortError' || error.name === 'TimeoutError') {
          throw new FunctionError('timeout', `reading object "${key}" outlasted the time left`);
        }
        throw error;
      });
    if (object.size > maxObjectBytes) {
      object.body.destroy();
      throw new DataLimitError(
        `object "${key}" is ${object.size} bytes; ${fn.label} reads at most ${maxObjectBytes} bytes (${maxObjectBytes / MiB} MiB), what it gets through in the ${fn.timeMs / 1000} s it has`,
      );
    }
    return this.pool.runStage(fn.target, args, object.body, deadline);
  }

  /** When the function's own work must end: its time limit from now, or the caller's deadline if sooner. */
  protected runDeadline(fn: NodeFunction, callerDeadline: number | undefined): number {
    return Math.min(Date.now() + fn.timeMs, callerDeadline ?? Number.POSITIVE_INFINITY);
  }

  /** 200 while the node's heartbeat reaches the shared state (dispatchers and peers see it); 503 before, or when it stops. */
  private async health(res: ServerResponse): Promise<void> {
    const registered = this.agent?.registered ?? false;
    sendJson(res, registered ? 200 : 503, {
      id: this.id,
      role: this.role,
      registered,
      slotsTotal: this.slots.total,
      slotsUsed: this.slots.inUse,
      draining: this.draining,
    });
  }

  /**
   * Whether a node's address is one this node may send work to (the VPC's range, the node
   * ports): an address the shared state holds is not trusted on its own. Logged once a node.
   */
  protected peerAllowed(node: { readonly id: string; readonly address: string }): boolean {
    if (node.id === this.id || peerAllowed(node.address, this.peerRule)) return true;
    const key = `${node.id} ${node.address}`;
    if (!this.refused.has(key)) {
      this.refused.add(key);
      process.stderr.write(
        `${this.id}: left out peer ${node.id}: its address ${node.address} is outside ${this.peerRule.cidrs.join(', ')}${this.peerRule.ports ? ` or not on port ${this.peerRule.ports.join(' or ')}` : ''}\n`,
      );
    }
    return false;
  }

  private async refresh(): Promise<void> {
    try {
      this.storage = (await this.options.store.storageNodes()).filter((node) => this.peerAllowed(node));
    } catch {
      // keep the last view: policies skip nodes whose heartbeat has grown old
    }
  }
}

/** The version header of a forwarded request: absent means a built-in, null a malformed one. */
export function functionVersion(req: IncomingMessage): number | undefined | null {
  const value = req.headers[FUNCTION_VERSION_HEADER];
  if (value === undefined) return undefined;
  const version = Number(value);
  return Number.isInteger(version) && version >= 1 ? version : null;
}

/** A function's own failure: 504 when its time ran out, 424 otherwise; never a platform 5xx. */
export function sendFunctionError(res: ServerResponse, error: FunctionError, fn: NodeFunction, node: string): void {
  const timeout = error.kind === 'timeout';
  sendJson(
    res,
    timeout ? 504 : 424,
    {
      error: timeout
        ? `function ${fn.label} ran out of time (${fn.timeMs} ms, or what was left of the caller's budget)`
        : `function ${fn.label} failed: ${error.message}`,
      function: fn.name,
      version: fn.version,
      kind: error.kind,
    },
    { [NODE_HEADER]: node, [FUNCTION_ERROR_HEADER]: error.kind },
  );
}
