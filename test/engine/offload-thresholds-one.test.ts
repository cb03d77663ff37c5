import { underThresholds } from '@strata/policy-engine';
import { node } from '../support/nodes';

describe('offload thresholds of 1', () => {
  test('a CPU or memory threshold of 1 sets no limit; under 1 a node at the threshold refuses', () => {
    const busy = node('s1', { role: 'storage', cpuBusy: 1, memoryUsed: 1 });
    expect(underThresholds(busy, { cpu: 1, memory: 1, loadPerCore: 100 })).toBe(true);
    expect(underThresholds(busy, { cpu: 0.99, memory: 1, loadPerCore: 100 })).toBe(false);
    expect(
      underThresholds(node('s2', { role: 'storage', cpuBusy: 0.8, memoryUsed: 0.1 }), {
        cpu: 0.8,
        memory: 1,
        loadPerCore: 100,
      }),
    ).toBe(false);
  });
});
