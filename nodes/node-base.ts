import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type NodeRole, type NodeView, type PolicyContext, ServiceTimeEstimator } from '@strata/policy-engine';
import type { FunctionRegistry } from '../common/functions/registry';
import { FUNCTION_ERROR_HEADER, FUNCTION_VERSION_HEADER, NODE_HEADER } from '../common/http/headers';
import { BodyError, parseJsonBody, readBody, sendJson } from '../common/http/json';
import type { ObjectStore } from '../common/object-store';
import type { StateStore } from '../common/state';
import { DataLimitError, InputError } from '../functions';
import { MiB } from '../functions/limits';
import { FunctionCatalog, type NodeFunction } from './function-catalog';
import { MetricsAgent } from './metrics-agent/agent';
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
  /** How often the node publishes its figures and refreshes its view of the others. @default 1000 */
  readonly heartbeatIntervalMs?: number;
  /** Where the metrics agent's EMF records go. */
  readonly emf?: (line: string) => void;
  /** @default Math.random */
  readonly random?: () => number;
  /** Where users' functions are registered (docs/functions.md). @default none: built-ins only */
  readonly registry?: FunctionRegistry;
}

/**
 * What compute and storage nodes share: an HTTP server, execution slots with a worker
 * thread each, the metrics agent publishing the node's heartbeat, a view of the other
 * nodes refreshed at the same interval (a failed refresh keeps the last view), and a
 * drain that finishes the work in hand before the node leaves.
 */
export abstract class NodeBase {
  readonly slots: Slots;
  address = '';
  draining = false;
  /** The other nodes as last read from the shared state. */
  protected nodes: readonly NodeView[] = [];
  /** How long this node's invocations hold a slot: what it publishes for the adaptive policies. */
  protected readonly serviceTimes = new ServiceTimeEstimator();
  protected readonly pool: FunctionPool;
  /** The built-ins and the users' functions this node can run. */
  protected readonly catalog: FunctionCatalog;
  /** Publishes this node's figures; made by start(), once the port is known. */
  protected agent!: MetricsAgent;
  private readonly server: Server;
  private readonly intervalMs: number;
  private refreshTimer: NodeJS.Timeout | undefined;

  protected constructor(
    protected readonly options: NodeBaseOptions,
    readonly role: NodeRole,
  ) {
    this.slots = new Slots(options.slots);
    this.pool = new FunctionPool(options.slots);
    this.catalog = new FunctionCatalog(options.registry);
    this.intervalMs = options.heartbeatIntervalMs ?? 1000;
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const handling = path === '/health' ? this.health(res) : this.handle(req, res, path);
      handling.catch((error: Error) => {
        if (!res.headersSent) sendJson(res, 500, { error: error.message });
        else res.destroy(error);
      });
    });
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
    });
    await this.agent.start();
    await this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh(), this.intervalMs);
    this.refreshTimer.unref();
    return this;
  }

  /** Stops taking work, finishes what is in hand, leaves the shared state and stops. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.agent.publish(); // tell the dispatchers and peers at once, not at the next interval
    await this.slots.idle();
    this.agent.stop();
    clearInterval(this.refreshTimer);
    await this.options.store.deregister(this.id).catch(() => undefined);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
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

  private async refresh(): Promise<void> {
    try {
      this.nodes = await this.options.store.liveNodes();
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
