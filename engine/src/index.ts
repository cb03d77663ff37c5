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

// The built-in policies register first, through the same call as plugins.
import './built-ins';

/** The names of the built-in policies, per tier. */
export { BUILT_IN_NAMES } from './built-ins';
/** Conformance: the engine's shared property checks, for any policy (`npm run policy:check`). */
export {
  CONFORMANCE_PROPERTIES,
  type ConformanceOptions,
  type ConformanceProperty,
  type ConformanceResult,
  checkConformance,
  fleetColumns,
} from './conformance';
/** A faulty policy's decision answered by the tier's default instead. */
export { DEFAULT_POLICIES, withFallback } from './fallback';
/** For the state stores and the simulator: an indexed selection's rule in TypeScript (Redis runs it in Lua). */
export { AFFINITY_WALK, applyIndexed, type FleetColumns, indexServiceMs } from './fleet-index';
/** For a tier-1 plugin: one candidate per node, with its slots as the limit; the answer when no node is live. */
export { NO_COMPUTE_NODE, slotCandidates } from './invocation/candidates';
/** For the compute node: offer an invocation to peers in the policy's order. */
export { tryInOrder } from './node/try-in-order';
/** Who is eligible, and the figures policies compare; ties are broken by `byId`. */
export { byId, eligibleNodes, freeSlots, isLive, loadPerCore, ZERO_FIGURES } from './nodes';
/** For the storage node: whether it is under its offload thresholds. */
export { underThresholds } from './offload/thresholds';
/** A policy's options: its schema, checked with errors that name the key. */
export {
  checkChoices,
  checkOffloadThresholds,
  checkOptions,
  checkQuantile,
  DEFAULT_OFFLOAD_THRESHOLDS,
  type OffloadThresholds,
  type OptionSpec,
  type OptionsSchema,
  type OptionValues,
  type PolicyOptions,
} from './options';
/** Randomness that tests and the simulator seed; production passes Math.random. */
export { sample, seededRandom } from './random';
/** The registry: built-ins and plugins, by the name an operator writes in config. */
export {
  createPolicy,
  definePolicy,
  invocationStrategy,
  isDefinition,
  nodePolicy,
  offloadPolicy,
  POLICY_TIERS,
  type PolicyDefinition,
  type PolicyOfTier,
  type PolicyTier,
  policyDefinition,
  policyNames,
  RENAMED_NODE_POLICIES,
  registerPolicy,
  UnknownPolicyError,
} from './registry';
/** Each indexed rule's TypeScript and its Lua, one table (engine/src/rules/): what a tier-1 selection or a tier-2 peer pick may name. */
export { INDEXED_RULES } from './rules';
export type { RuleApply, RuleUnit } from './rules/unit';
/** For the dispatcher and the state stores: which kind of selection, and its rule over a candidate list. */
export { applySelection, isIndexed } from './selection';
/** For the nodes: their own measure of their service time. */
export { ServiceTimeEstimator } from './service-time';
/** The shapes a policy works with: its input, its context, and what each tier's policy answers. */
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
  SharedLearning,
} from './types';
