import { eligibleNodes } from '../nodes';
import { checkChoices } from '../options';
import { sample } from '../random';
import type { InvocationStrategy, NodeView } from '../types';
import { NO_COMPUTE_NODE, slotCandidates } from './candidates';

/**
 * Power of d choices (Mitzenmacher, "The Power of Two Choices in Randomized Load
 * Balancing", 2001; Envoy's least-request, Knative's random-choice-2): sample `choices`
 * nodes at random and take the one with fewer in flight; a tie goes to the first drawn
 * (sorting the sample by id would starve the highest ids when nodes are idle). If the
 * whole sample is full, fall back to the other nodes in id order from a random node on
 * (a rotation): d + 1 random draws a decision, not one per node, which matters at a
 * thousand nodes.
 */
export function powerOfChoices(choices = 2): InvocationStrategy {
  checkChoices(choices);
  return (nodes, _invocation, ctx) => {
    const eligible = eligibleNodes(nodes, 'compute', ctx);
    const n = eligible.length;
    if (n === 0) return NO_COMPUTE_NODE;
    const drawn = sample(eligible, choices, ctx.random);
    const from = Math.floor(ctx.random() * n);
    const order = [...drawn];
    const isDrawn = (node: NodeView) => {
      for (const d of drawn) if (d === node) return true;
      return false;
    };
    for (const [start, end] of [[from, n], [0, from]]) {
      for (let i = start; i < end; i++) if (!isDrawn(eligible[i])) order.push(eligible[i]);
    }
    return { kind: 'select', rule: 'fewest-in-flight', sample: drawn.length, candidates: slotCandidates(order) };
  };
}
