import { invocationStrategy, nodePolicy, offloadPolicy, policyNames, UnknownPolicyError } from '@strata/policy-engine';

describe('policy registry', () => {
  test.each([
    [
      invocationStrategy,
      'invocation strategy',
      'round-robin, least-outstanding, power-of-two, least-expected-delay, prequal, most-slots, least-load, hash-affinity, single-entry, adaptive',
    ],
    [nodePolicy, 'node policy', 'most-slots, least-load, power-of-two, least-expected-delay, single-entry'],
    [offloadPolicy, 'offload policy', 'thresholds, always, never'],
  ])('an unknown name throws an error that lists the valid ones (%#)', (lookup, tier, names) => {
    expect(() => lookup('fastest')).toThrow(new UnknownPolicyError(tier, 'fastest', names.split(', ')));
    expect(() => lookup('fastest')).toThrow(`Unknown ${tier} "fastest". Valid names: ${names}`);
  });

  test('a tier-2 name from before each algorithm had one name is an error that gives the new name', () => {
    expect(() => nodePolicy('id-order')).toThrow(
      'Unknown node policy "id-order": it is now called "single-entry" (one name per algorithm). Valid names: most-slots, least-load, power-of-two, least-expected-delay, single-entry',
    );
    expect(() => nodePolicy('expected-delay')).toThrow('it is now called "least-expected-delay"');
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
