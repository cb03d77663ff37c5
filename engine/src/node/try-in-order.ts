import type { NodeView } from '../types';

/**
 * Offers an invocation to peers one at a time in the policy's order, stopping at the
 * first that accepts (`attempt` answers undefined for a refusal). The order is kept as
 * given: AutoNDP put its ordered peers in a sorted set and so tried them alphabetically.
 */
export async function tryInOrder<T>(
  peers: readonly NodeView[],
  attempt: (peer: NodeView) => Promise<T | undefined>,
): Promise<{ readonly peer: NodeView; readonly result: T } | undefined> {
  for (const peer of peers) {
    const result = await attempt(peer);
    if (result !== undefined) return { peer, result };
  }
  return undefined;
}
