/**
 * Strata's policy engine: every load-balancing decision of the three tiers, as pure
 * functions over a snapshot of node views, with time and randomness passed in. This
 * file is its public interface, for the tiers and for plugin authors alike: what is
 * not exported here is the engine's own business and may change.
 *
 * @example
 * const strategy = invocationStrategy('power-of-two');
 * const selection = strategy(nodes, { functionName: 'wordcount', hops: 0 }, { now: Date.now(), random: Math.random, heartbeatTtlMs: 3000 });
 * // then: stateStore.reserve(selection) picks and reserves one node atomically, over its own index
 */

// For the tiers and the state stores: a selection's rule applied in TypeScript (the Redis
// store runs the same rules in Lua), the node-side helpers, and service-time learning.
export { AFFINITY_WALK, applyIndexed, type FleetColumns, indexServiceMs } from './fleet-index';
// Helpers a policy author builds on: who is eligible, orderings with ties broken to the id,
// randomness that tests can seed.
export { NO_COMPUTE_NODE, slotCandidates } from './invocation/candidates';
export { tryInOrder } from './node/try-in-order';
export { byId, eligibleNodes, freeSlots, isLive, loadPerCore } from './nodes';
export { underThresholds } from './offload/thresholds';
export type { OffloadThresholds, PolicyOptions } from './options';
// Options: the checks that name the option that is out of range.
export { checkChoices, checkOffloadThresholds, checkQuantile, DEFAULT_OFFLOAD_THRESHOLDS } from './options';
export { sample, seededRandom } from './random';
// The registry: every policy by the name an operator writes in config.
export {
  type InvocationStrategyName,
  invocationStrategies,
  invocationStrategy,
  type NodePolicyName,
  nodePolicies,
  nodePolicy,
  type OffloadPolicyName,
  offloadPolicies,
  offloadPolicy,
  RENAMED_NODE_POLICIES,
  UnknownPolicyError,
} from './registry';
// Each indexed rule's TypeScript and its Lua, one table (engine/src/rules/).
export { INDEXED_RULES } from './rules';
export type { RuleApply, RuleUnit } from './rules/unit';
export { applySelection, isIndexed } from './selection';
export { ServiceTimeEstimator } from './service-time';
// The shapes a policy works with: its input, its context, and what each tier's policy answers.
export type {
  Candidate,
  CandidateSelection,
  IndexedSelection,
  Invocation,
  InvocationStrategy,
  NoCapacity,
  NodePolicy,
  NodeRole,
  NodeView,
  OffloadDecision,
  OffloadPolicy,
  PolicyContext,
  Selection,
  SelectionRule,
} from './types';
