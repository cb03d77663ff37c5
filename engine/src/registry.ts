import { hashAffinity } from './invocation/hash-affinity';
import { leastExpectedDelay } from './invocation/least-expected-delay';
import { leastLoad } from './invocation/least-load';
import { leastOutstanding } from './invocation/least-outstanding';
import { mostSlots } from './invocation/most-slots';
import { powerOfChoices } from './invocation/power-of-choices';
import { prequal } from './invocation/prequal';
import { roundRobin } from './invocation/round-robin';
import { singleEntry } from './invocation/single-entry';
import { expectedDelayPeers } from './node/expected-delay';
import { idOrderPeers } from './node/id-order';
import { leastLoadPeers } from './node/least-load';
import { mostSlotsPeers } from './node/most-slots';
import { powerOfChoicesPeers } from './node/power-of-choices';
import { alwaysOffload } from './offload/always';
import { neverOffload } from './offload/never';
import { thresholdOffload } from './offload/thresholds';
import type { PolicyOptions } from './options';
import type { InvocationStrategy, NodePolicy, OffloadPolicy } from './types';

/** Tier 1, by the name an operator writes in config. A new strategy is one line here. */
export const invocationStrategies = {
  'round-robin': () => roundRobin,
  'least-outstanding': () => leastOutstanding,
  'power-of-two': (options) => powerOfChoices(options.choices),
  'least-expected-delay': () => leastExpectedDelay,
  prequal: (options) => prequal(options.prequalProbes, options.prequalQuantile),
  'most-slots': () => mostSlots,
  'least-load': () => leastLoad,
  'hash-affinity': () => hashAffinity,
  'single-entry': () => singleEntry,
} satisfies Registry<InvocationStrategy>;

/** Tier 2. */
export const nodePolicies = {
  'most-slots': () => mostSlotsPeers,
  'least-load': () => leastLoadPeers,
  'power-of-two': (options) => powerOfChoicesPeers(options.choices),
  'expected-delay': () => expectedDelayPeers,
  'id-order': () => idOrderPeers,
} satisfies Registry<NodePolicy>;

/** Tier 3. */
export const offloadPolicies = {
  thresholds: (options) => thresholdOffload(options.offloadThresholds),
  always: () => alwaysOffload,
  never: () => neverOffload,
} satisfies Registry<OffloadPolicy>;

export type InvocationStrategyName = keyof typeof invocationStrategies;
export type NodePolicyName = keyof typeof nodePolicies;
export type OffloadPolicyName = keyof typeof offloadPolicies;

type Registry<P> = Record<string, (options: PolicyOptions) => P>;

/** Thrown for a policy name that is not registered; the message lists the valid names. */
export class UnknownPolicyError extends Error {
  constructor(
    readonly tier: string,
    readonly requested: string,
    readonly validNames: readonly string[],
  ) {
    super(`Unknown ${tier} "${requested}". Valid names: ${validNames.join(', ')}`);
    this.name = 'UnknownPolicyError';
  }
}

export function invocationStrategy(name: string, options: PolicyOptions = {}): InvocationStrategy {
  return lookup('invocation strategy', invocationStrategies, name)(options);
}

export function nodePolicy(name: string, options: PolicyOptions = {}): NodePolicy {
  return lookup('node policy', nodePolicies, name)(options);
}

export function offloadPolicy(name: string, options: PolicyOptions = {}): OffloadPolicy {
  return lookup('offload policy', offloadPolicies, name)(options);
}

function lookup<P>(tier: string, registry: Registry<P>, name: string): (options: PolicyOptions) => P {
  if (!Object.hasOwn(registry, name)) throw new UnknownPolicyError(tier, name, Object.keys(registry));
  return registry[name];
}
