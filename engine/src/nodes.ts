import type { NodeRole, NodeView, PolicyContext } from './types';

/**
 * A node view's load figures when none are known (a member read from the membership log,
 * which carries no figures): nothing used or in flight, idle, one core. Spread into a view.
 */
export const ZERO_FIGURES = Object.freeze({
  slotsUsed: 0,
  inFlight: 0,
  cpuBusy: 0,
  memoryUsed: 0,
  load1: 0,
  load5: 0,
  load15: 0,
  cores: 1,
} as const satisfies Partial<NodeView>);

/** A node is live while its last heartbeat is younger than the TTL. */
export function isLive(node: NodeView, ctx: PolicyContext): boolean {
  return ctx.now - node.heartbeatAt < ctx.heartbeatTtlMs;
}

/**
 * Live, not draining nodes of one role, sorted by id so that every caller sees one order.
 * One pass: the state stores answer in id order already, so it sorts only when they did not.
 */
export function eligibleNodes(nodes: readonly NodeView[], role: NodeRole, ctx: PolicyContext): NodeView[] {
  const { now, heartbeatTtlMs } = ctx;
  const eligible: NodeView[] = [];
  let sorted = true;
  for (const node of nodes) {
    if (node.role !== role || node.draining || now - node.heartbeatAt >= heartbeatTtlMs) continue;
    if (sorted && eligible.length > 0 && eligible[eligible.length - 1].id > node.id) sorted = false;
    eligible.push(node);
  }
  return sorted ? eligible : eligible.sort(byId);
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
