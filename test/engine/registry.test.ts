import { invocationStrategy, nodePolicy, offloadPolicy, policyNames, UnknownPolicyError } from '@strata/policy-engine';

describe('policy registry', () => {
  test.each([
    [
      invocationStrategy,
      'invocation strategy',
      'round-robin, least-outstanding, power-of-two, least-expected-delay, prequal, most-slots, least-load, hash-affinity, single-entry, adaptive',
    ],
    [nodePolicy, 'node policy', 'most-slots, least-load, power-of-two, expected-delay, id-order'],
    [offloadPolicy, 'offload policy', 'thresholds, always, never'],
  ])('an unknown name throws an error that lists the valid ones (%#)', (lookup, tier, names) => {
    expect(() => lookup('fastest')).toThrow(new UnknownPolicyError(tier, 'fastest', names.split(', ')));
    expect(() => lookup('fastest')).toThrow(`Unknown ${tier} "fastest". Valid names: ${names}`);
  });

  test('names inherited from Object.prototype are not policies', () => {
    expect(() => invocationStrategy('toString')).toThrow(UnknownPolicyError);
    expect(() => nodePolicy('constructor')).toThrow(UnknownPolicyError);
  });

  test('every registered name builds a policy function', () => {
    for (const name of policyNames('invocation')) expect(typeof invocationStrategy(name)).toBe('function');
    for (const name of policyNames('node')) expect(typeof nodePolicy(name)).toBe('function');
    for (const name of policyNames('offload')) expect(typeof offloadPolicy(name)).toBe('function');
  });
});
