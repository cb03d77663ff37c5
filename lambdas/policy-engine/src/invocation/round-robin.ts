import { eligibleNodes } from '../nodes';
import type { InvocationStrategy } from '../types';
import { NO_COMPUTE_NODE, slotCandidates } from './candidates';

/** Round robin over the live compute nodes by one cursor that every dispatcher shares; full nodes are skipped. */
export const roundRobin: InvocationStrategy = (nodes, _invocation, ctx) => {
  const eligible = eligibleNodes(nodes, 'compute', ctx);
  if (eligible.length === 0) return NO_COMPUTE_NODE;
  return { kind: 'select', rule: 'rotate', cursor: 'round-robin', candidates: slotCandidates(eligible) };
};
