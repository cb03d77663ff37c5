import type { NodeRole, NodeView, PolicyContext } from './types';

/** A node is live while its last heartbeat is younger than the TTL. */
export function isLive(node: NodeView, ctx: PolicyContext): boolean {
  return ctx.now - node.heartbeatAt < ctx.heartbeatTtlMs;
}

/** Live, not draining nodes of one role, sorted by id so that every caller sees one order. */
export function eligibleNodes(nodes: readonly NodeView[], role: NodeRole, ctx: PolicyContext): NodeView[] {
  return nodes.filter((n) => n.role === role && !n.draining && isLive(n, ctx)).sort(byId);
}

export function byId(a: NodeView, b: NodeView): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Free slots as the node sees them, or as the dispatchers do when they have reserved more. */
export function freeSlots(node: NodeView): number {
  return node.slotsTotal - Math.max(node.slotsUsed, node.inFlight);
}

/** One-minute load average per core, so nodes of different sizes compare fairly. */
export function loadPerCore(node: NodeView): number {
  return node.load1 / Math.max(1, node.cores);
}

/** Most free slots first; ties broken by id. */
export function byMostFreeSlots(a: NodeView, b: NodeView): number {
  return freeSlots(b) - freeSlots(a) || byId(a, b);
}

/** Lowest load per core first; ties broken by id. */
export function byLeastLoad(a: NodeView, b: NodeView): number {
  return loadPerCore(a) - loadPerCore(b) || byId(a, b);
}
