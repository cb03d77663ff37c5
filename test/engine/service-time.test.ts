import { ServiceTimeEstimator } from '@strata/policy-engine';

describe('ServiceTimeEstimator', () => {
  test('publishes nothing until it has enough samples, then the average of the first samples', () => {
    const estimator = new ServiceTimeEstimator({ minSamples: 3 });
    estimator.record('f', 10, 0);
    estimator.record('f', 20, 0);
    expect([estimator.serviceMs, estimator.functionServiceMs]).toEqual([undefined, undefined]);
    estimator.record('f', 30, 0);
    expect([estimator.serviceMs, estimator.functionServiceMs]).toEqual([20, { f: 20 }]);
  });

  test('forgets with time, not with the number of samples: after a change it moves most of the way within the decay time', () => {
    const estimator = new ServiceTimeEstimator({ decayMs: 1000 });
    for (let t = 0; t < 10_000; t += 10) estimator.record('f', 100, t);
    expect(estimator.serviceMs).toBeCloseTo(100, 6);
    for (let t = 10_000; t < 11_000; t += 10) estimator.record('f', 200, t); // one decay time later
    expect(estimator.serviceMs!).toBeGreaterThan(100 + 100 * (1 - Math.exp(-1)) - 2);
    expect(estimator.serviceMs!).toBeLessThan(200);
    for (let t = 11_000; t < 16_000; t += 10) estimator.record('f', 200, t);
    expect(estimator.serviceMs).toBeCloseTo(200, 0);
  });

  test('keeps an estimate per function beside the overall one', () => {
    const estimator = new ServiceTimeEstimator({ minSamples: 2 });
    for (let i = 0; i < 4; i++) {
      estimator.record('fast', 10, i);
      estimator.record('slow', 1000, i);
    }
    estimator.record('rare', 5, 5);
    const byFunction = estimator.functionServiceMs!;
    expect(Object.keys(byFunction).sort()).toEqual(['fast', 'slow']);
    expect(byFunction.fast).toBeCloseTo(10, 6);
    expect(byFunction.slow).toBeCloseTo(1000, 6);
    expect(estimator.serviceMs!).toBeGreaterThan(10);
    expect(estimator.serviceMs!).toBeLessThan(1000);
  });

  test('ignores a negative or non-finite sample, and rejects bad settings by name', () => {
    const estimator = new ServiceTimeEstimator({ minSamples: 1 });
    estimator.record('f', -5, 0);
    estimator.record('f', Number.NaN, 0);
    expect(estimator.serviceMs).toBeUndefined();
    expect(() => new ServiceTimeEstimator({ decayMs: 0 })).toThrow('decayMs must be above 0, got 0');
    expect(() => new ServiceTimeEstimator({ minSamples: 0.5 })).toThrow(
      'minSamples must be a whole number of at least 1, got 0.5',
    );
  });
});
