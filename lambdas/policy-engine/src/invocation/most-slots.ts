import { byMostFreeSlots, eligibleNodes } from '../nodes';
import type { InvocationStrategy } from '../types';
import { NO_COMPUTE_NODE, slotCandidates } from './candidates';

/** The node with the most free slots in the last snapshot, then the next, until one has room. */
export const mostSlots: InvocationStrategy = (nodes, _invocation, ctx) => {
  const eligible = eligibleNodes(nodes, 'compute', ctx).sort(byMostFreeSlots);
  if (eligible.length === 0) return NO_COMPUTE_NODE;
  return { kind: 'select', rule: 'in-order', candidates: slotCandidates(eligible) };
};
