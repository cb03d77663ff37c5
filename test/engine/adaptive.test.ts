import { checkConformance, type InvocationStrategy, invocationStrategy, policyDefinition } from '@strata/policy-engine';
import { context, nodes } from '../support/nodes';

const call = { functionName: 'f', hops: 0 };

describe('adaptive', () => {
  test('runs one arm a window, and after measuring each settles on the one with the lower latency', () => {
    const strategy = invocationStrategy('adaptive', {
      arms: ['least-expected-delay', 'prequal'],
      windowMs: 1000,
      exploration: 0.05,
    }) as InvocationStrategy & { observe: NonNullable<InvocationStrategy['observe']> };
    const ruleAt = (now: number) => {
      const selection = strategy(nodes(3), call, context(1, { now }));
      return selection.kind === 'select' ? selection.rule : 'none';
    };
    const chosen: string[] = [];
    for (let window = 0; window < 30; window++) {
      const now = window * 1000 + 10;
      const rule = ruleAt(now);
      chosen.push(rule);
      // prequal is twice as fast as least-expected-delay in this world.
      for (let i = 0; i < 20; i++) strategy.observe(now, rule === 'prequal' ? 50 : 100, now + 100);
    }
    expect(chosen.slice(0, 2)).toEqual(['least-expected-delay', 'prequal']); // each measured first
    expect(chosen.slice(10).filter((rule) => rule === 'prequal').length).toBeGreaterThanOrEqual(18);
  });

  test('forgets: when the faster arm slows down, it moves to the other', () => {
    const strategy = invocationStrategy('adaptive', { windowMs: 1000, exploration: 0.05, discount: 0.8 });
    const chosen: string[] = [];
    for (let window = 0; window < 60; window++) {
      const now = window * 1000 + 10;
      const selection = strategy(nodes(3), call, context(1, { now }));
      const rule = selection.kind === 'select' ? selection.rule : 'none';
      chosen.push(rule);
      const fast = window < 30 ? 'prequal' : 'least-expected-delay';
      for (let i = 0; i < 20; i++) strategy.observe?.(now, rule === fast ? 50 : 100, now + 100);
    }
    expect(chosen.slice(20, 30).filter((rule) => rule === 'prequal').length).toBeGreaterThanOrEqual(8);
    expect(chosen.slice(50).filter((rule) => rule === 'least-expected-delay').length).toBeGreaterThanOrEqual(8);
  });

  test('passes the conformance checks, and its options are checked', () => {
    for (const result of checkConformance(policyDefinition('invocation', 'adaptive'), {
      arms: ['prequal', 'round-robin'],
    }))
      expect(result.outcome).not.toBe('fail');
    expect(() => invocationStrategy('adaptive', { arms: ['fastest'] })).toThrow(
      'options.arms[0] must be one of least-expected-delay, prequal',
    );
  });
});
