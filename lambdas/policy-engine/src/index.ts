/**
 * Strata's policy engine: every load-balancing decision of the three tiers, as pure
 * functions over a snapshot of node views, with time and randomness passed in.
 *
 * @example
 * const strategy = invocationStrategy('power-of-two');
 * const selection = strategy(nodes, { functionName: 'wordcount', hops: 0 }, { now: Date.now(), random: Math.random, heartbeatTtlMs: 3000 });
 * // then: stateStore.reserve(selection) picks and reserves one node atomically, over its own index
 */

export * from './fleet-index';
export { fnv1a } from './invocation/hash-affinity';
export { tryInOrder } from './node/try-in-order';
export * from './nodes';
export { underThresholds } from './offload/thresholds';
export * from './options';
export * from './random';
export * from './registry';
export * from './selection';
export * from './service-time';
export * from './types';
