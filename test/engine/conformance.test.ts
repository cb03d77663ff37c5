import {
  BUILT_IN_NAMES,
  CONFORMANCE_PROPERTIES,
  checkConformance,
  definePolicy,
  eligibleNodes,
  POLICY_TIERS,
  policyDefinition,
} from '@strata/policy-engine';

// The engine's shared property checks, the ones `npm run policy:check` and synth run on a
// plugin, pass for every built-in; and each one catches the fault it is named for.
describe.each(POLICY_TIERS.flatMap((tier) => BUILT_IN_NAMES[tier].map((name) => [tier, name] as const)))(
  'the built-in %s policy %s',
  (tier, name) => {
    test('passes every conformance check that applies to it', () => {
      const results = checkConformance(policyDefinition(tier, name), {}, { runs: 300 });
      expect(results.map((r) => r.property)).toEqual(CONFORMANCE_PROPERTIES);
      for (const result of results) expect([result.property, result.outcome]).not.toEqual([result.property, 'fail']);
      // Tier 3 has no "room"; tier 1's single-entry sends to one node, full or not (tier 2's single-entry does find room).
      const applies = tier !== 'offload' && !(tier === 'invocation' && name === 'single-entry');
      expect(results[1].outcome).toBe(applies ? 'pass' : 'n/a');
    });
  },
);

describe('each check catches its fault, naming the seed', () => {
  test('a strategy that lists every node picks ineligible ones', () => {
    const everyNode = definePolicy({
      tier: 'invocation',
      summary: 'every node',
      create: () => (nodes) => ({
        kind: 'select',
        rule: 'in-order',
        candidates: nodes.map((n) => ({ id: n.id, limit: n.slotsTotal })),
      }),
    });
    const [ineligible] = checkConformance(everyNode);
    expect(ineligible).toMatchObject({ outcome: 'fail', detail: expect.stringMatching(/^seed \d+: picked n\d+: /) });
  });

  test('a strategy that offers only the first eligible node misses room elsewhere', () => {
    const firstOnly = definePolicy({
      tier: 'invocation',
      summary: 'the first eligible node only',
      create: () => (nodes, _invocation, ctx) => ({
        kind: 'select',
        rule: 'in-order',
        candidates: eligibleNodes(nodes, 'compute', ctx)
          .slice(0, 1)
          .map((n) => ({ id: n.id, limit: n.slotsTotal })),
      }),
    });
    expect(checkConformance(firstOnly)[1]).toMatchObject({
      outcome: 'fail',
      detail: expect.stringContaining('a node had room, but it picked none'),
    });
  });

  test('a node policy that writes to its snapshot is caught, frozen', () => {
    const writes = definePolicy({
      tier: 'node',
      summary: 'marks its peers',
      create: () => (_self, nodes) => {
        for (const n of nodes) (n as { draining: boolean }).draining = false;
        return { kind: 'no-capacity', reason: 'none' };
      },
    });
    const results = checkConformance(writes);
    expect(results[2]).toMatchObject({ outcome: 'fail', detail: expect.stringContaining('TypeError') });
  });

  test('an offload policy that draws from Math.random answers differently for the same source', () => {
    const coin = definePolicy({
      tier: 'offload',
      summary: 'coin',
      create: () => (nodes, _invocation, ctx) => {
        const storage = eligibleNodes(nodes, 'storage', ctx);
        const pick = storage[Math.floor(Math.random() * (storage.length + 1))];
        return pick ? { kind: 'offload', node: pick } : { kind: 'local', reason: 'none drawn' };
      },
    });
    expect(checkConformance(coin)[3]).toMatchObject({ outcome: 'fail', detail: expect.stringContaining('then') });
  });

  test('a policy that throws fails every check it is run for, with the error', () => {
    const throws = definePolicy({
      tier: 'invocation',
      summary: 'throws',
      create: () => () => {
        throw new Error('boom');
      },
    });
    for (const result of checkConformance(throws, {}, { runs: 5 }))
      expect(result).toMatchObject({ outcome: 'fail', detail: expect.stringContaining('threw Error: boom') });
  });

  test('options are checked against the schema before any run', () => {
    expect(() => checkConformance(policyDefinition('invocation', 'prequal'), { probes: 0 })).toThrow(
      'options.probes must be a whole number from 1 to 64, got 0',
    );
  });
});
