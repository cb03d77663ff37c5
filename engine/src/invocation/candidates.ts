import type {
  Candidate,
  IndexedSelection,
  Invocation,
  InvocationStrategy,
  NoCapacity,
  NodeView,
  PolicyContext,
} from '../types';

/** A dispatcher may keep as many invocations in flight on a node as it has slots. */
export function slotCandidates(nodes: readonly NodeView[]): Candidate[] {
  return nodes.map((n) => ({ id: n.id, limit: n.slotsTotal }));
}

export const NO_COMPUTE_NODE: NoCapacity = { kind: 'no-capacity', reason: 'no live compute node' };

/**
 * A strategy that the state store applies over its own index: it never reads the node
 * list (so a decision costs the same at 10 or 10,000 nodes), and the dispatcher gives it
 * only the fleet's membership.
 */
export function indexed(decide: (invocation: Invocation, ctx: PolicyContext) => IndexedSelection): InvocationStrategy {
  return Object.assign(
    (_nodes: readonly NodeView[], invocation: Invocation, ctx: PolicyContext) => decide(invocation, ctx),
    { reads: 'membership' as const },
  );
}
