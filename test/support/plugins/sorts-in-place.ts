// A tier-2 plugin that fails conformance: it sorts the snapshot it is given in place.
import { byId, definePolicy, eligibleNodes, freeSlots } from '@strata/policy-engine';

export default definePolicy({
  tier: 'node',
  summary: 'changes its input',
  create: () => (self, nodes, _invocation, ctx) => {
    (nodes as typeof nodes & { sort: (compare: typeof byId) => void }).sort(byId);
    const peers = eligibleNodes(nodes, 'compute', ctx).filter((n) => n.id !== self.id && freeSlots(n) > 0);
    return peers.length > 0 ? { kind: 'forward', peers } : { kind: 'no-capacity', reason: 'none' };
  },
});
