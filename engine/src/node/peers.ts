import { eligibleNodes, freeSlots } from '../nodes';
import type { IndexedSelection, NoCapacity, NodePolicy, NodeView, PolicyContext } from '../types';

/** Live compute peers that are not draining and report a free slot. */
export function peersWithRoom(self: NodeView, nodes: readonly NodeView[], ctx: PolicyContext): NodeView[] {
  return eligibleNodes(nodes, 'compute', ctx).filter((n) => n.id !== self.id && freeSlots(n) > 0);
}

export const NO_PEER: NoCapacity = { kind: 'no-capacity', reason: 'no live peer with a free slot' };

/** A node policy from its reference over a snapshot and the same rule asked of the store's index. */
export function withPeer(
  order: (...args: Parameters<NodePolicy>) => ReturnType<NodePolicy>,
  peer: (exclude: readonly string[], ctx: PolicyContext) => IndexedSelection,
): NodePolicy {
  return Object.assign(order, { peer });
}
