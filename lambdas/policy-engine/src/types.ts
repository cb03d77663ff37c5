/** What a node does in the cluster: compute nodes run functions, storage nodes hold data. */
export type NodeRole = 'compute' | 'storage';

/**
 * One node as the policies see it: what it last reported about itself, plus the
 * dispatchers' live count of invocations reserved on it.
 */
export interface NodeView {
  readonly id: string;
  /** `host:port` of the node's runtime (compute) or storage agent (storage). */
  readonly address: string;
  readonly role: NodeRole;
  readonly slotsTotal: number;
  readonly slotsUsed: number;
  /** Invocations the dispatchers have reserved on this node and not yet released. */
  readonly inFlight: number;
  /** CPU busy fraction, 0..1, over the agent's last sampling interval. */
  readonly cpuBusy: number;
  /** Memory in use, 0..1, as 1 - MemAvailable / MemTotal. */
  readonly memoryUsed: number;
  readonly load1: number;
  readonly load5: number;
  readonly load15: number;
  readonly cores: number;
  /** When the node sampled these figures, in ms since the epoch. */
  readonly heartbeatAt: number;
  /** A draining node finishes its work but takes no new work. */
  readonly draining: boolean;
}

/** The part of an invocation the policies may look at. */
export interface Invocation {
  readonly functionName: string;
  /** The object the function's data stage reads, when it has one. */
  readonly objectKey?: string;
  /** How many times the invocation has been forwarded between nodes. */
  readonly hops: number;
}

/** Time and randomness, passed in so that tests and the simulator are deterministic. */
export interface PolicyContext {
  /** Now, in ms since the epoch. */
  readonly now: number;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  /** A node whose last heartbeat is older than this is treated as gone. */
  readonly heartbeatTtlMs: number;
}

/** No node can take the invocation; `reason` says why, for logs and error bodies. */
export interface NoCapacity {
  readonly kind: 'no-capacity';
  readonly reason: string;
}

/** A node the dispatcher may reserve, and how many invocations it may have in flight. */
export interface Candidate {
  readonly id: string;
  readonly limit: number;
}

/**
 * What a tier-1 strategy asks the state store to do, atomically, against the live
 * in-flight counts: pick one of `candidates` by `rule` and reserve it. A candidate
 * "has room" while it is live and its in-flight count is under its limit.
 *
 * - `in-order`: the first candidate with room.
 * - `rotate`: advance the shared counter `cursor`; start at counter mod n, then the
 *   first with room (round robin that skips full nodes).
 * - `fewest-in-flight`: among the first `sample` candidates, the one with room and
 *   the fewest in flight (ties go to the earlier); if none of them has room, the
 *   first candidate with room after them.
 */
export type Selection =
  | { readonly kind: 'select'; readonly rule: 'in-order'; readonly candidates: readonly Candidate[] }
  | { readonly kind: 'select'; readonly rule: 'rotate'; readonly cursor: string; readonly candidates: readonly Candidate[] }
  | {
      readonly kind: 'select';
      readonly rule: 'fewest-in-flight';
      readonly sample: number;
      readonly candidates: readonly Candidate[];
    };

export type SelectionRule = Selection['rule'];

/** Tier 1: which compute node the dispatcher should reserve for an invocation. */
export type InvocationStrategy = (
  nodes: readonly NodeView[],
  invocation: Invocation,
  ctx: PolicyContext,
) => Selection | NoCapacity;

/** Tier 2: the peers a full compute node should try, best first. The caller keeps this order. */
export type NodePolicy = (
  self: NodeView,
  nodes: readonly NodeView[],
  invocation: Invocation,
  ctx: PolicyContext,
) => { readonly kind: 'forward'; readonly peers: readonly NodeView[] } | NoCapacity;

/** Tier 3: where an invocation's data stage runs. */
export type OffloadDecision =
  | { readonly kind: 'offload'; readonly node: NodeView }
  | { readonly kind: 'local'; readonly reason: string };

export type OffloadPolicy = (
  nodes: readonly NodeView[],
  invocation: Invocation,
  ctx: PolicyContext,
  /** Ids of the storage nodes known to hold the invocation's object, when known. */
  objectHolders?: ReadonlySet<string>,
) => OffloadDecision;
