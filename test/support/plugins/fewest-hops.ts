// A tier-2 plugin that conforms: peers in reverse id order (only to tell it apart from the built-ins).
import { byId, definePolicy, eligibleNodes, freeSlots } from '@strata/policy-engine';

export default definePolicy({
  tier: 'node',
  summary: 'peers in reverse id order',
  options: { limit: { type: 'integer', min: 1, max: 100, default: 10, description: 'peers offered at most' } },
  create:
    ({ limit }) =>
    (self, nodes, _invocation, ctx) => {
      const peers = eligibleNodes(nodes, 'compute', ctx)
        .filter((n) => n.id !== self.id && freeSlots(n) > 0)
        .sort((a, b) => byId(b, a))
        .slice(0, limit);
      return peers.length > 0
        ? { kind: 'forward', peers }
        : { kind: 'no-capacity', reason: 'no live peer with a free slot' };
    },
});
