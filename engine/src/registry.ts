import { hashAffinity } from './invocation/hash-affinity';
import { leastExpectedDelay } from './invocation/least-expected-delay';
import { leastLoad } from './invocation/least-load';
import { leastOutstanding } from './invocation/least-outstanding';
import { mostSlots } from './invocation/most-slots';
import { powerOfTwo } from './invocation/power-of-two';
import { prequal } from './invocation/prequal';
import { roundRobin } from './invocation/round-robin';
import { singleEntry } from './invocation/single-entry';
import { leastExpectedDelayPeers } from './node/least-expected-delay';
import { leastLoadPeers } from './node/least-load';
import { mostSlotsPeers } from './node/most-slots';
import { powerOfTwoPeers } from './node/power-of-two';
import { singleEntryPeers } from './node/single-entry';
import { alwaysOffload } from './offload/always';
import { neverOffload } from './offload/never';
import { thresholdOffload } from './offload/thresholds';
import type { PolicyOptions } from './options';
import type { InvocationStrategy, NodePolicy, OffloadPolicy } from './types';

/** Tier 1, by the name an operator writes in config. A new strategy is one line here. */
export const invocationStrategies = {
  'round-robin': () => roundRobin,
  'least-outstanding': () => leastOutstanding,
  'power-of-two': (options) => powerOfTwo(options.choices),
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
  'power-of-two': (options) => powerOfTwoPeers(options.choices),
  'least-expected-delay': () => leastExpectedDelayPeers,
  'single-entry': () => singleEntryPeers,
} satisfies Registry<NodePolicy>;

/**
 * Tier-2 names that went when each algorithm got one name in every tier and in the
 * store (issue 21): an old name is an error that gives the new one, not a silent alias.
 */
export const RENAMED_NODE_POLICIES: Readonly<Record<string, keyof typeof nodePolicies>> = {
  'id-order': 'single-entry',
  'expected-delay': 'least-expected-delay',
};

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
    const renamed = tier === 'node policy' ? RENAMED_NODE_POLICIES[requested] : undefined;
    super(
      renamed
        ? `Unknown ${tier} "${requested}": it is now called "${renamed}" (one name per algorithm). Valid names: ${validNames.join(', ')}`
        : `Unknown ${tier} "${requested}". Valid names: ${validNames.join(', ')}`,
    );
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
