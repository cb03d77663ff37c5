import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import {
  type Invocation,
  type NodePolicy,
  type NodeView,
  type OffloadPolicy,
  type OffloadThresholds,
  type Selection,
  slotCandidates,
  underThresholds,
} from '@strata/policy-engine';
import { ForwardError, type ForwardResponse, forward } from '../../common/http/forward';
import { type Next, offer } from '../../common/http/forward-and-retry';
import {
  BUDGET_HEADER,
  FUNCTION_ERROR_HEADER,
  FUNCTION_VERSION_HEADER,
  HOPS_HEADER,
  NODE_HEADER,
  OFFLOAD_HEADER,
  type OffloadOutcome,
  offloadHeader,
  REFUSED_HEADER,
  REQUEST_ID_HEADER,
  ROUTE_HEADER,
  refusalOf,
  VISITED_HEADER,
} from '../../common/http/headers';
import { refuse, safeDecode, sendJson } from '../../common/http/json';
import { ObjectNotFoundError, type ObjectStore } from '../../common/object-store';
import { DEFAULT_LEASE_MS, type Reservation } from '../../common/state';
import { DataLimitError } from '../../functions';
import { RUN_BUDGET_MS } from '../../functions/limits';
import type { NodeFunction } from '../function-catalog';
import { functionVersion, MAX_BUDGET_MS, NodeBase, type NodeBaseOptions, sendFunctionError } from '../node-base';
import { FunctionError, type FunctionErrorKind } from '../wasm/instance';
import { type PrimaryLocator, primaryHolders } from './locality';

export interface ComputeNodeOptions extends NodeBaseOptions {
  readonly objects: ObjectStore;
  /** Tier 2: which peer to try when this node is full, asked of the state store's index (its `peer` rule). */
  readonly nodePolicy: NodePolicy;
  /** Tier 3: where a data stage runs. */
  readonly offloadPolicy: OffloadPolicy;
  /**
   * Tier 3 by locality: where an object's primary copy is (Ceph's placement), so that the
   * offload policy prefers the storage nodes on that host among those it allows. @default none
   */
  readonly locator?: PrimaryLocator;
  /** An invocation is forwarded at most this many times. @default 2 */
  readonly maxHops?: number;
  /** How many peers a full node offers one invocation to, one after another, before it waits for a slot. @default 3 */
  readonly peerTries?: number;
  /**
   * Over any of these the node forwards even with a free slot. @default none: forward
   * only when every slot is busy (a node's CPU is busy because its slots are, which
   * the slot count already says).
   */
  readonly ownLimits?: OffloadThresholds;
  /** How long a node that cannot forward waits for a slot before answering 503. @default 500 */
  readonly slotWaitMs?: number;
  /**
   * A bounded queue instead of slotWaitMs: an invocation no peer takes waits for a slot
   * here, up to its caller's budget, while fewer than this many wait; the node refuses
   * only when the queue is full. Faabric's "overload locally" (the benchmarks' AutoNDP
   * baseline, docs/benchmarks.md). @default none
   */
  readonly queueLimit?: number;
  /**
   * Find a peer as faabric did (Scheduler::doSchedulingDecision): ask each live compute
   * peer in id order for its slots (GET /health) and forward to the first with one free,
   * with no reservation; the entry node's per-call cost of AutoNDP's baseline, for the
   * benchmarks. @default false: the node policy's pick from the store's index
   */
  readonly askPeers?: boolean;
  /** Called with one JSON line for every invocation this node ran to the end. */
  readonly invocationLog?: (line: string) => void;
  /**
   * Warm the local path of the built-in data stages before taking work (each slot runs
   * them over a text in memory, and the object store is asked once): the path a refused
   * offload falls back to, which a node that offloads everything would otherwise run
   * cold, seconds slower on a small host. @default true
   */
  readonly warmLocalPath?: boolean;
}

/**
 * A compute node: runs functions in its execution slots; when it is full or over its
 * own limits, offers the invocation to a peer the node policy's rule picks from the
 * state store's index, reserved there while it runs (hop count + 1, so it never loops;
 * a peer that refuses is excluded and the next asked, up to peerTries), and when no peer
 * takes it, waits briefly for a slot of its own before answering 503 with Retry-After.
 */
export class ComputeNode extends NodeBase {
  private readonly maxHops: number;
  private readonly ownLimits: OffloadThresholds | undefined;

  constructor(protected readonly options: ComputeNodeOptions) {
    super(options, 'compute');
    this.maxHops = options.maxHops ?? 2;
    this.ownLimits = options.ownLimits;
  }

  override async start(): Promise<this> {
    if (this.options.warmLocalPath ?? true) await this.warmLocalPath();
    return super.start();
  }

  /** Runs each built-in data stage and its finish in every slot, twice, over a text in memory; then one object store call. */
  private async warmLocalPath(): Promise<void> {
    const text = Buffer.from(
      'It was the best of times, it was the worst of times, it was the age of wisdom.\n'.repeat(2048),
    );
    const until = Date.now() + 20_000;
    for (const name of ['wordcount', 'substring']) {
      const fn = await this.catalog.find(name);
      if (!fn?.dataStage) continue;
      const args = fn.parse({ key: 'warm-up', pattern: 'wisdom' });
      for (let round = 0; round < 2; round++)
        await Promise.all(
          Array.from({ length: this.slots.total }, async () => {
            const staged = await this.pool.runStage(fn.target, args, Readable.from([text]), until);
            await this.pool.runFinish(fn.target, args, staged, until);
          }),
        );
    }
    // The store's client and its connection (no such object: one round trip).
    await this.options.objects
      .open('strata-warm-up/none', AbortSignal.timeout(5_000))
      .then((object) => object.body.destroy())
      .catch(() => undefined);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const name = /^\/invoke\/([^/]+)$/.exec(path)?.[1];
    if (name === undefined) return sendJson(res, 404, { error: `no route ${path}` });
    if (req.method !== 'POST')
      return sendJson(res, 405, { error: `${req.method} is not allowed here; use POST` }, { allow: 'POST' });
    const version = functionVersion(req);
    if (version === null)
      return sendJson(res, 400, { error: `${FUNCTION_VERSION_HEADER} must be a whole number of at least 1` });
    const fn = await this.catalog.find(safeDecode(name) ?? '', version);
    if (!fn) {
      return sendJson(res, 404, {
        error: `no function "${name}"${version === undefined ? '' : ` of version ${version}`}`,
      });
    }

    const hops = Number(req.headers[HOPS_HEADER] ?? 0);
    if (!Number.isInteger(hops) || hops < 0)
      return sendJson(res, 400, { error: `${HOPS_HEADER} must be a whole number of at least 0` });
    const budgetMs = req.headers[BUDGET_HEADER] === undefined ? undefined : Number(req.headers[BUDGET_HEADER]);
    if (budgetMs !== undefined && !(Number.isInteger(budgetMs) && budgetMs >= 1 && budgetMs <= MAX_BUDGET_MS))
      return sendJson(res, 400, {
        error: `${BUDGET_HEADER} must be a whole number of milliseconds from 1 to ${MAX_BUDGET_MS}`,
      });
    const deadline = budgetMs === undefined ? undefined : Date.now() + budgetMs;
    const read = await this.readArgs(req, res, fn, this.httpLimits.maxBodyBytes);
    if (!read) return;
    const { args, body } = read;
    if (this.draining) return refuse(res, 'draining');

    const invocation: Invocation = { functionName: fn.name, objectKey: fn.dataStage?.objectKey(args), hops };
    let haveSlot = this.underOwnLimits() && this.slots.tryTake();
    if (!haveSlot) {
      const visited = String(req.headers[VISITED_HEADER] ?? '')
        .split(',')
        .filter(Boolean);
      let forwarded: ForwardResponse | undefined;
      try {
        forwarded =
          hops < this.maxHops
            ? await this.forwardToPeer(invocation, fn.version, body, req, visited, deadline)
            : undefined;
      } catch (error) {
        // The peer took the invocation and then ran out of the caller's time (504), or its answer broke off (502).
        if (!(error instanceof ForwardError)) throw error;
        return sendJson(
          res,
          error.kind === 'timeout' ? 504 : 502,
          { error: error.message },
          { [NODE_HEADER]: this.id },
        );
      }
      if (forwarded) return relay(res, forwarded, this.id);
      const { queueLimit } = this.options;
      if (queueLimit === undefined) haveSlot = await this.slots.waitFor(this.options.slotWaitMs ?? 500);
      else if (this.slots.queued < queueLimit) {
        haveSlot = await this.slots.waitFor(msLeft(deadline) ?? RUN_BUDGET_MS);
        if (!haveSlot) return sendJson(res, 504, { error: new OutOfTimeError().message }, { [NODE_HEADER]: this.id });
      }
      if (!haveSlot) return refuse(res, 'full');
    }
    try {
      if (outOfTime(deadline)) throw new OutOfTimeError();
      const started = performance.now();
      const { result, offload } = await this.run(fn, args, invocation, deadline, this.runDeadline(fn, deadline));
      const ms = performance.now() - started;
      this.serviceTimes.record(fn.name, ms, Date.now());
      const requestId = String(req.headers[REQUEST_ID_HEADER] ?? '-');
      const tier3 = offloadHeader(offload);
      this.options.invocationLog?.(
        JSON.stringify({ requestId, function: fn.name, node: this.id, hops, offload: tier3, ms }),
      );
      sendJson(res, 200, result, {
        [NODE_HEADER]: this.id,
        [ROUTE_HEADER]: this.id,
        [OFFLOAD_HEADER]: tier3,
        ...versionHeader(fn.version), // which version ran: a rollback shows
      });
    } catch (error) {
      if (error instanceof ObjectNotFoundError)
        return sendJson(res, 404, { error: error.message }, { [NODE_HEADER]: this.id });
      if (error instanceof DataLimitError)
        return sendJson(res, 422, { error: error.message }, { [NODE_HEADER]: this.id });
      if (error instanceof OutOfTimeError)
        return sendJson(res, 504, { error: error.message }, { [NODE_HEADER]: this.id });
      if (error instanceof FunctionError) return sendFunctionError(res, error, fn, this.id);
      throw error;
    } finally {
      this.slots.release();
    }
  }

  /**
   * What to ask the store for the next peer: the node policy's rule over the index, or, for
   * a plugin with no rule (no `peer`), its own order over the fleet's figures read now,
   * the peers in `exclude` left out. Undefined when the policy offers no peer.
   */
  private async peerSelection(invocation: Invocation, exclude: readonly string[]): Promise<Selection | undefined> {
    const policy = this.options.nodePolicy;
    if (policy.peer) return policy.peer(exclude, this.context());
    const decision = policy(this.self, await this.options.store.liveNodes(), invocation, this.context());
    if (decision.kind === 'no-capacity') return undefined;
    const peers = decision.peers.filter((p) => !exclude.includes(p.id));
    return peers.length > 0 ? { kind: 'select', rule: 'in-order', candidates: slotCandidates(peers) } : undefined;
  }

  /**
   * Offers the invocation to peers the node policy's rule picks from the store's index,
   * one reservation (one script) a try, never this node or one it has passed through or
   * that passed it on, by the protocol between tiers (common/http/forward-and-retry.ts):
   * answers the first reply that is not a refusal; a peer that timed out or broke off (it
   * may have run it) is an error.
   */
  private async forwardToPeer(
    invocation: Invocation,
    version: number | undefined,
    body: Buffer,
    req: IncomingMessage,
    visited: string[],
    deadline: number | undefined,
  ): Promise<ForwardResponse | undefined> {
    const offered = await offer({
      next: async (tried) => {
        const timeoutMs = msLeft(deadline);
        if (timeoutMs !== undefined && timeoutMs <= 0) return { kind: 'none', why: 'out of time' };
        const exclude = [this.id, ...visited, ...tried];
        if (this.options.askPeers) return this.askPeers(exclude, timeoutMs);
        let peer: Reservation;
        try {
          const selection = await this.peerSelection(invocation, exclude);
          if (!selection) return { kind: 'none', why: 'no peer took it' };
          peer = await this.options.store.reserve(selection, timeoutMs ?? DEFAULT_LEASE_MS);
        } catch {
          return { kind: 'none', why: 'the shared state is away' }; // wait for a slot here
        }
        if (peer.kind === 'no-capacity') return { kind: 'none', why: 'no peer took it' };
        // Reserved on the peer while it runs there; the lease runs out by itself if the release fails.
        const done = () => peer.release().catch(() => undefined);
        if (!this.peerAllowed({ id: peer.nodeId, address: peer.address })) {
          await done();
          return { kind: 'none', why: `peer ${peer.nodeId} is at an address outside the fleet's` };
        }
        return { kind: 'target', target: { id: peer.nodeId, address: peer.address, done } };
      },
      maxAttempts: this.options.peerTries ?? 3,
      request: () => {
        const timeoutMs = msLeft(deadline);
        return {
          path: req.url!,
          body,
          headers: {
            'content-type': 'application/json',
            [REQUEST_ID_HEADER]: String(req.headers[REQUEST_ID_HEADER] ?? '-'),
            [HOPS_HEADER]: String(invocation.hops + 1),
            [VISITED_HEADER]: [...visited, this.id].join(','),
            ...versionHeader(version),
            ...budgetHeader(timeoutMs),
          },
          timeoutMs,
        };
      },
    });
    if (offered.kind === 'failed') throw offered.error;
    return offered.kind === 'answered' ? offered.response : undefined;
  }

  /** The first live compute peer in id order (not excluded) that says it has a free slot. */
  private async askPeers(exclude: readonly string[], timeoutMs: number | undefined): Promise<Next<string>> {
    let peers: NodeView[];
    try {
      peers = (await this.options.store.liveNodes())
        .filter((n) => n.role === 'compute' && !n.draining && !exclude.includes(n.id) && this.peerAllowed(n))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    } catch {
      return { kind: 'none', why: 'the shared state is away' };
    }
    for (const peer of peers) {
      const reply = await forward({
        address: peer.address,
        method: 'GET',
        path: '/health',
        timeoutMs: Math.min(1_000, timeoutMs ?? 1_000),
      }).catch(() => undefined);
      if (reply?.status !== 200) continue;
      const health = JSON.parse(reply.body.toString('utf8')) as { slotsUsed?: number; slotsTotal?: number };
      if ((health.slotsUsed ?? 0) < (health.slotsTotal ?? 0))
        return { kind: 'target', target: { id: peer.id, address: peer.address, done: async () => undefined } };
    }
    return { kind: 'none', why: 'no peer has a free slot' };
  }

  /**
   * Runs a function here; its data stage next to the data if the offload policy says so
   * and the storage node agrees. `deadline` is the caller's; `until`, when the function's
   * own work must end (its time limit, or the caller's deadline if sooner).
   */
  private async run(
    fn: NodeFunction,
    args: unknown,
    invocation: Invocation,
    deadline: number | undefined,
    until: number,
  ): Promise<{ result: unknown; offload: OffloadOutcome }> {
    if (!fn.dataStage) return { result: await this.pool.run(fn.target, args, until), offload: { kind: 'none' } };
    const key = invocation.objectKey!;
    const decision = this.options.offloadPolicy(
      this.storage,
      invocation,
      this.context(),
      this.options.locator && (await primaryHolders(this.options.locator, this.storage, key)),
    );
    let offload: OffloadOutcome;
    if (decision.kind === 'offload') {
      try {
        const timeoutMs = until - Date.now();
        const reply = await forward({
          address: decision.node.address,
          path: `/stage/${encodeURIComponent(fn.name)}`,
          body: JSON.stringify(args),
          headers: { 'content-type': 'application/json', ...versionHeader(fn.version), ...budgetHeader(timeoutMs) },
          timeoutMs,
        });
        const message = () => String((JSON.parse(reply.body.toString('utf8')) as { error?: unknown }).error);
        if (reply.status === 200) {
          const staged = JSON.parse(reply.body.toString('utf8')) as unknown;
          return {
            result: await this.pool.runFinish(fn.target, args, staged, until),
            offload: { kind: 'offloaded', node: decision.node.id },
          };
        }
        // A 404 with a refusal is a storage node without this data stage, not a missing object.
        if (reply.status === 404 && !reply.headers[REFUSED_HEADER]) throw new ObjectNotFoundError(key);
        if (reply.status === 422) throw new DataLimitError(message());
        const functionError = reply.headers[FUNCTION_ERROR_HEADER];
        if (functionError) throw new FunctionError(String(functionError) as FunctionErrorKind, message());
        offload = {
          kind: 'refused',
          node: decision.node.id,
          why: refusalOf(reply.headers[REFUSED_HEADER]) ?? reply.status,
        };
      } catch (error) {
        if (!(error instanceof ForwardError)) throw error;
        if (error.kind !== 'not-delivered' && Date.now() >= until)
          throw new FunctionError('timeout', 'its time ran out');
        offload = { kind: 'failed', node: decision.node.id, why: error.kind };
      }
    } else {
      offload = { kind: 'local', reason: decision.reason };
    }
    if (outOfTime(deadline)) throw new OutOfTimeError();
    const staged = await this.runDataStage(fn, args, this.options.objects, until);
    return { result: await this.pool.runFinish(fn.target, args, staged, until), offload };
  }

  private underOwnLimits(): boolean {
    return !this.ownLimits || underThresholds(this.self, this.ownLimits);
  }
}

/** The caller's budget ran out before the work could start: nobody would read the answer. */
class OutOfTimeError extends Error {
  constructor() {
    super(`the caller stopped waiting (${BUDGET_HEADER}) before the invocation could run`);
  }
}

/** Milliseconds until the deadline; undefined without one (a caller that sent no budget). */
function msLeft(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : deadline - Date.now();
}

function outOfTime(deadline: number | undefined): boolean {
  return deadline !== undefined && Date.now() >= deadline;
}

function budgetHeader(ms: number | undefined): Record<string, string> {
  return ms === undefined ? {} : { [BUDGET_HEADER]: String(Math.max(1, Math.round(ms))) };
}

function relay(res: ServerResponse, reply: ForwardResponse, via: string): void {
  const headers: Record<string, string> = {
    'content-type': String(reply.headers['content-type'] ?? 'application/json'),
  };
  for (const name of [
    NODE_HEADER,
    OFFLOAD_HEADER,
    'retry-after',
    REFUSED_HEADER,
    FUNCTION_ERROR_HEADER,
    FUNCTION_VERSION_HEADER,
  ]) {
    if (reply.headers[name] !== undefined) headers[name] = String(reply.headers[name]);
  }
  headers[ROUTE_HEADER] = `${via}>${reply.headers[ROUTE_HEADER] ?? '?'}`;
  res.writeHead(reply.status, headers).end(reply.body);
}

function versionHeader(version: number | undefined): Record<string, string> {
  return version === undefined ? {} : { [FUNCTION_VERSION_HEADER]: String(version) };
}
