/**
 * An example plugin: a tier-1 strategy from the operator's own folder, outside the
 * engine. Named in cdk.json under `strata.plugins`, bundled into the policy layer at
 * synth, checked by `npm run policy:check -- policies/least-memory.ts`.
 *
 * The compute node with the least memory in use first (for memory-hungry functions);
 * nodes above `ceiling` are tried last; ties broken by id. It orders the nodes itself,
 * so it returns a candidate list: O(n) per decision (docs/policies.md, the cost model).
 */
import { byId, definePolicy, eligibleNodes, NO_COMPUTE_NODE, slotCandidates } from '@strata/policy-engine';

export default definePolicy({
  tier: 'invocation',
  summary: 'the least memory in use first; nodes over the ceiling last',
  options: {
    ceiling: {
      type: 'number',
      min: 0,
      max: 1,
      default: 0.9,
      description: 'memory used fraction above which a node is tried only after every other',
    },
  },
  create: ({ ceiling }) => {
    const rank = (memoryUsed: number) => (memoryUsed > ceiling ? 1 + memoryUsed : memoryUsed);
    return (nodes, _invocation, ctx) => {
      const eligible = eligibleNodes(nodes, 'compute', ctx).sort(
        (a, b) => rank(a.memoryUsed) - rank(b.memoryUsed) || byId(a, b),
      );
      if (eligible.length === 0) return NO_COMPUTE_NODE;
      return { kind: 'select', rule: 'in-order', candidates: slotCandidates(eligible) };
    };
  },
});
