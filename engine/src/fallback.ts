import type { PolicyOfTier, PolicyTier } from './registry';
import type { InvocationStrategy, NodePolicy, OffloadPolicy } from './types';

/** Each tier's default policy: what cdk.json starts with when it names none, and what a faulty policy falls back to. */
export const DEFAULT_POLICIES: Readonly<Record<PolicyTier, string>> = {
  invocation: 'least-expected-delay',
  node: 'most-slots',
  offload: 'thresholds',
};

/**
 * A policy that, when it throws or answers something of the wrong shape, answers that
 * decision with `fallback` instead and tells `onFault`: a plugin's bug costs one
 * decision its policy, never the invocation. The caller counts and logs the faults.
 */
export function withFallback<T extends PolicyTier>(
  tier: T,
  policy: PolicyOfTier[T],
  fallback: PolicyOfTier[T],
  onFault: (error: unknown) => void,
): PolicyOfTier[T] {
  const kinds: Record<PolicyTier, readonly string[]> = {
    invocation: ['select', 'no-capacity'],
    node: ['forward', 'no-capacity'],
    offload: ['offload', 'local'],
  };
  const guarded = (...args: unknown[]) => {
    try {
      const answer = (policy as (...a: unknown[]) => { kind?: unknown } | undefined)(...args);
      if (typeof answer !== 'object' || answer === null || !kinds[tier].includes(answer.kind as string))
        throw new TypeError(`the ${tier} policy answered ${JSON.stringify(answer)}, not a ${kinds[tier].join(' or ')}`);
      return answer;
    } catch (error) {
      onFault(error);
      return (fallback as (...a: unknown[]) => unknown)(...args);
    }
  };
  if (tier === 'node') {
    // The peer pick over the store's index is guarded the same way; a plugin without one
    // keeps none (the compute node then uses its order), and a faulty one's pick is the default's.
    const { peer } = policy as NodePolicy;
    const fallbackPeer = (fallback as NodePolicy).peer;
    if (!peer) return guarded as unknown as PolicyOfTier[T];
    const guardedPeer: NodePolicy['peer'] = (exclude, ctx) => {
      try {
        const answer = peer(exclude, ctx);
        if (typeof answer !== 'object' || answer === null || answer.kind !== 'select')
          throw new TypeError(`the node policy's peer pick answered ${JSON.stringify(answer)}, not a select`);
        return answer;
      } catch (error) {
        onFault(error);
        if (!fallbackPeer) throw error;
        return fallbackPeer(exclude, ctx);
      }
    };
    return Object.assign(guarded, { peer: guardedPeer }) as unknown as PolicyOfTier[T];
  }
  if (tier !== 'invocation') return guarded as unknown as OffloadPolicy as PolicyOfTier[T];
  // A strategy over the index is given only the membership; the fallback must be content with what the policy reads.
  const { reads, observe, learning } = policy as InvocationStrategy;
  return Object.assign(
    guarded,
    reads ? { reads } : {},
    observe ? { observe } : {},
    learning ? { learning } : {},
  ) as unknown as PolicyOfTier[T];
}
