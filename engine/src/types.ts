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
  /**
   * The node's own estimate of its service time per slot, in ms: an exponentially
   * weighted average of how long its invocations ran. Absent until it has enough samples.
   */
  readonly serviceMs?: number;
  /** The same estimate per function, for the functions with enough samples. */
  readonly functionServiceMs?: Readonly<Record<string, number>>;
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
 * "has room" while it is live and its in-flight count is under its limit. The store
 * reads every candidate, so this costs O(candidates): the general path, for custom
 * strategies that order the nodes themselves.
 *
 * - `in-order`: the first candidate with room.
 * - `rotate`: advance the shared counter `cursor`; start at counter mod n, then the
 *   first with room (round robin that skips full nodes).
 * - `fewest-in-flight`: among the first `sample` candidates, the one with room and
 *   the fewest in flight (ties go to the earlier); if none of them has room, the
 *   first candidate with room after them.
 */
export type CandidateSelection =
  | { readonly kind: 'select'; readonly rule: 'in-order'; readonly candidates: readonly Candidate[] }
  | {
      readonly kind: 'select';
      readonly rule: 'rotate';
      readonly cursor: string;
      readonly candidates: readonly Candidate[];
    }
  | {
      readonly kind: 'select';
      readonly rule: 'fewest-in-flight';
      readonly sample: number;
      readonly candidates: readonly Candidate[];
    };

/**
 * A rule the state store applies over its own index of the fleet, with no list of
 * candidates: O(log n) or O(d) in Redis, whatever the fleet's size. The index holds the
 * eligible nodes E (live compute nodes, not draining) in id order, and F, those of them
 * with room (in flight under their slots). `exclude` takes nodes out of both, as if they
 * were not there (the dispatcher's nodes that already refused this invocation).
 * `applyIndexed` (fleet-index.ts) is the rule in TypeScript; the Redis store runs it in Lua.
 *
 * - `least-outstanding`: the node of F with the fewest in flight.
 * - `least-expected-delay`: the node of F with the least (in flight + 1) x service time / slots.
 * - `least-load`: the node of F with the lowest one-minute load per core.
 * - `most-slots`: the node of F with the most free slots, counting the larger of
 *   its reported slots in use and its in-flight count.
 * - `round-robin`: advance the shared counter `cursor`; start at E[counter - 1 mod |E|],
 *   then the next node of F in id order, wrapping.
 * - `power-of-two`: one node of F per draw u (rank floor(u |F|)); the one with the fewest
 *   in flight, ties to the earlier draw.
 * - `prequal`: the same draws; a drawn node is hot when its in-flight count is above the
 *   `quantile` of F's counts. Of the cold ones, the lowest service time; if all are hot,
 *   the fewest in flight (Prequal's hot-cold lexicographic rule).
 * - `hash-affinity`: home E[hash mod |E|], then a walk by a step co-prime to |E| (from
 *   `stepSeed`), the first of AFFINITY_WALK steps in F; else as least-outstanding.
 * - `single-entry`: E's first node, whatever it carries (no limit).
 *
 * Ties always go to the lower id.
 */
export type IndexedSelection = { readonly kind: 'select'; readonly exclude?: readonly string[] } & (
  | { readonly rule: 'least-outstanding' | 'least-expected-delay' | 'least-load' | 'most-slots' | 'single-entry' }
  | { readonly rule: 'round-robin'; readonly cursor: string }
  | { readonly rule: 'power-of-two'; readonly draws: readonly number[] }
  | { readonly rule: 'prequal'; readonly draws: readonly number[]; readonly quantile: number }
  | { readonly rule: 'hash-affinity'; readonly hash: number; readonly stepSeed: number }
);

export type Selection = CandidateSelection | IndexedSelection;
export type SelectionRule = Selection['rule'];

/**
 * Tier 1: which compute node the dispatcher should reserve for an invocation.
 *
 * `reads` says what the strategy looks at in `nodes`. A strategy that answers an
 * IndexedSelection needs only who is in the fleet ('membership': the dispatcher passes
 * the members, with their figures zeroed, and reads them again only when the membership
 * changes). One that orders the nodes itself ('figures', the default for a custom
 * strategy) gets every node's reported figures, which the dispatcher reads in full each
 * refresh: O(n) per dispatcher per refresh.
 */
export interface InvocationStrategy {
  (nodes: readonly NodeView[], invocation: Invocation, ctx: PolicyContext): Selection | NoCapacity;
  readonly reads?: 'membership' | 'figures';
  /**
   * Feedback, for a strategy that learns (adaptive): an invocation it placed at `placedAt`
   * completed after `latencyMs`, at `now`. The caller reports every invocation it measured.
   */
  readonly observe?: (placedAt: number, latencyMs: number, now: number) => void;
  /** For a strategy whose learning every dispatcher shares (adaptive): how to merge it through the state store. */
  readonly learning?: SharedLearning;
}

/**
 * What a learning strategy keeps in the shared store, so that every dispatcher agrees:
 * whole-number counters that every dispatcher adds its measurements to (atomic, never a
 * conflict), and a state that whoever first sees a window end rolls forward (a
 * compare-and-set, taking from the counters what it used). Pure: the caller does the I/O.
 */
export interface SharedLearning {
  /** Names what is learned: dispatchers running the same arms with the same options share it. */
  readonly key: string;
  /** What this dispatcher measured since it last took them, as counters to add to the store's; taken (zeroed here). */
  take(): Record<string, number>;
  /**
   * The stored state (undefined when none) with the store's counters, brought up to
   * `now`: `run` is what to run by; `next`, when a window ended, the state to store in its
   * place, having used `used` of the counters.
   */
  merge(
    stored: string | undefined,
    counters: Readonly<Record<string, number>>,
    now: number,
  ): { readonly run: string; readonly next?: string; readonly used: Readonly<Record<string, number>> };
  /** Run by this (merge's `run`). */
  adopt(run: string): void;
}

/**
 * Tier 2: the peers a full compute node should try, best first, over a snapshot of the
 * fleet (the simulator's and the tests' form; the caller keeps this order). A compute node
 * asks the state store's index instead, with `peer`: the same rule as an IndexedSelection,
 * one script a try, no view of the fleet.
 */
export interface NodePolicy {
  (
    self: NodeView,
    nodes: readonly NodeView[],
    invocation: Invocation,
    ctx: PolicyContext,
  ): { readonly kind: 'forward'; readonly peers: readonly NodeView[] } | NoCapacity;
  /**
   * The next peer to try, as the store picks it: `exclude` holds this node and the peers
   * already tried. Every built-in has one. A plugin may leave it out: the compute node then
   * reads the fleet's figures and offers the invocation to the peers in the order the
   * policy gives (O(n) per forward, where the index's pick is O(log n)).
   */
  readonly peer?: (exclude: readonly string[], ctx: PolicyContext) => IndexedSelection;
}

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
