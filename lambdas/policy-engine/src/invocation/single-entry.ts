import { eligibleNodes } from '../nodes';
import type { InvocationStrategy } from '../types';
import { NO_COMPUTE_NODE } from './candidates';

/**
 * Every invocation to one entry node (the live compute node with the lowest id), which
 * forwards to peers when it is full: AutoNDP's baseline, kept for benchmarks. The
 * dispatcher puts no limit on it, as AutoNDP's entry node queued everything it was sent.
 */
export const singleEntry: InvocationStrategy = (nodes, _invocation, ctx) => {
  const [entry] = eligibleNodes(nodes, 'compute', ctx);
  if (entry === undefined) return NO_COMPUTE_NODE;
  return { kind: 'select', rule: 'in-order', candidates: [{ id: entry.id, limit: Number.MAX_SAFE_INTEGER }] };
};
