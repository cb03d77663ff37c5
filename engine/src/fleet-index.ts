import { INDEXED_RULES } from './rules';
import type { FleetColumns, RuleUnit } from './rules/unit';
import type { IndexedSelection } from './types';

export { AFFINITY_WALK, coprimeStep } from './rules';
export type { FleetColumns } from './rules/unit';

/**
 * The service time a node is ranked by: its own estimate, or, for a node with no
 * history, the fleet's median estimate (the lower median, over the eligible nodes that
 * have one) as of its last heartbeat; 1 when no node has one, so that all rank alike.
 */
export function indexServiceMs(own: number | undefined, othersWithHistory: readonly number[]): number {
  if (own !== undefined) return own;
  if (othersWithHistory.length === 0) return 1;
  const sorted = [...othersWithHistory].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Applies an IndexedSelection to the fleet and returns the index of the chosen node in
 * `fleet.ids`, or -1. The reference for the Redis store's Lua (a property test keeps the
 * two equal): written as plain scans, O(n), where Redis uses sorted sets.
 *
 * @param cursor for `round-robin`: the shared counter after this decision advanced it (1, 2, ...)
 */
export function applyIndexed(selection: IndexedSelection, fleet: FleetColumns, cursor = 0): number {
  const rule = INDEXED_RULES[selection.rule] as RuleUnit<IndexedSelection['rule']>;
  return rule.apply(selection as never, fleet, cursor);
}
