import type { Candidate, NoCapacity, NodeView } from '../types';

/** A dispatcher may keep as many invocations in flight on a node as it has slots. */
export function slotCandidates(nodes: readonly NodeView[]): Candidate[] {
  return nodes.map((n) => ({ id: n.id, limit: n.slotsTotal }));
}

export const NO_COMPUTE_NODE: NoCapacity = { kind: 'no-capacity', reason: 'no live compute node' };
