import { eligibleNodes } from '../nodes';
import type { InvocationStrategy } from '../types';
import { NO_COMPUTE_NODE, slotCandidates } from './candidates';

/**
 * Join the shortest queue: the node with the fewest invocations in flight across all
 * dispatchers, counted live in the state store (AWS ALB's "least outstanding requests").
 */
export const leastOutstanding: InvocationStrategy = (nodes, _invocation, ctx) => {
  const eligible = eligibleNodes(nodes, 'compute', ctx);
  if (eligible.length === 0) return NO_COMPUTE_NODE;
  return { kind: 'select', rule: 'fewest-in-flight', sample: eligible.length, candidates: slotCandidates(eligible) };
};
