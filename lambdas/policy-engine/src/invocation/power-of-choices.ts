import { eligibleNodes } from '../nodes';
import { checkChoices } from '../options';
import { shuffle } from '../random';
import type { InvocationStrategy } from '../types';
import { NO_COMPUTE_NODE, slotCandidates } from './candidates';

/**
 * Power of d choices (Mitzenmacher, "The Power of Two Choices in Randomized Load
 * Balancing", 2001; Envoy's least-request, Knative's random-choice-2): sample `choices`
 * nodes at random and take the one with fewer in flight; a tie goes to the first drawn
 * (sorting the sample by id would starve the highest ids when nodes are idle). If the
 * whole sample is full, fall back to the other nodes in random order.
 */
export function powerOfChoices(choices = 2): InvocationStrategy {
  checkChoices(choices);
  return (nodes, _invocation, ctx) => {
    const eligible = eligibleNodes(nodes, 'compute', ctx);
    if (eligible.length === 0) return NO_COMPUTE_NODE;
    const order = shuffle(eligible, ctx.random);
    return { kind: 'select', rule: 'fewest-in-flight', sample: Math.min(choices, order.length), candidates: slotCandidates(order) };
  };
}
