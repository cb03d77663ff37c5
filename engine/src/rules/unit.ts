import type { IndexedSelection } from '../types';

/**
 * The fleet as an IndexedSelection sees it: the eligible compute nodes (live, not
 * draining, less the selection's excluded ones) sorted by id, one column per figure.
 * Columns rather than objects so that the simulator scans a thousand nodes a decision
 * without allocating.
 */
export interface FleetColumns {
  readonly ids: readonly string[];
  /** Live in-flight counts. */
  readonly inFlight: ArrayLike<number>;
  /** Execution slots: a node has room while in flight is under this. */
  readonly slots: ArrayLike<number>;
  readonly slotsUsed: ArrayLike<number>;
  /** One-minute load per core: load1 / max(1, cores). */
  readonly loadPerCore: ArrayLike<number>;
  /** The service time the index ranks by (see indexServiceMs). */
  readonly serviceMs: ArrayLike<number>;
  /** How many nodes have room (in flight under slots), when the caller keeps the count: saves the sampling rules a pass. */
  readonly withRoom?: number;
}

/**
 * An indexed rule in TypeScript: the index in `fleet.ids` of the node it picks, or -1.
 * Plain scans, O(n): the reference the Redis store's Lua for the same rule is tested against.
 *
 * @param cursor for `round-robin`: the shared counter after this decision advanced it (1, 2, ...)
 */
export type RuleApply<R extends IndexedSelection['rule']> = (
  selection: Extract<IndexedSelection, { readonly rule: R }>,
  fleet: FleetColumns,
  cursor: number,
) => number;

/** One rule, one unit: its TypeScript and its Lua, side by side in this folder. */
export interface RuleUnit<R extends IndexedSelection['rule']> {
  readonly apply: RuleApply<R>;
  /**
   * The body of a Lua function that answers the chosen node's id, or nil. It runs inside
   * the store's reserve script, which gives it the selection's parameters (`draws`,
   * `quantile`, `hash`, `step_seed`, `cursor`, `exclude`, `excluded`) and the helpers over
   * the index (`first_of`, `at_rank`, `excluded_ranks`, `size`, `draw_free`, `in_flight`,
   * `gcd`; common/state/redis-scripts.ts).
   */
  readonly lua: string;
}
