// A tier-1 plugin that fails conformance: it offers every node in id order, dead, draining and storage ones too.
import { byId, definePolicy } from '@strata/policy-engine';

export default definePolicy({
  tier: 'invocation',
  summary: 'every node, eligible or not',
  create: () => (nodes) => ({
    kind: 'select',
    rule: 'in-order',
    candidates: [...nodes].sort(byId).map((n) => ({ id: n.id, limit: n.slotsTotal })),
  }),
});
