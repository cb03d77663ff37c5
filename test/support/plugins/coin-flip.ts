// A tier-3 plugin that fails conformance: it draws from Math.random, not the random source it is given.
import { definePolicy, eligibleNodes } from '@strata/policy-engine';

export default definePolicy({
  tier: 'offload',
  summary: 'offloads at random',
  create: () => (nodes, _invocation, ctx) => {
    const storage = eligibleNodes(nodes, 'storage', ctx);
    const pick = storage[Math.floor(Math.random() * (storage.length + 1))];
    return pick ? { kind: 'offload', node: pick } : { kind: 'local', reason: 'drew none' };
  },
});
