import { measuredSpread, simulateTier3, type Tier3Options } from '../../bench/simulator/tier3';

// What the tier-3 model is given of the system (issue 22): each host's idle CPU, the spread
// of the service time on each path, and the bench's warm-up. Behaviour, not figures.
const base: Tier3Options = {
  computeCpu: [0.25, 0.25, 0.25],
  storageCpu: 0.5,
  linkMbit: 100,
  objectBytes: 4 * 1024 * 1024,
  stageCpuMs: 180,
  nearStageCpuMs: 230,
  serveCpuMs: 50,
  overheadCpuMs: 20,
  strategy: 'round-robin',
  offload: 'always',
  concurrency: 1,
  requests: 40,
};

describe("each host's idle CPU", () => {
  test("each host's background takes from its own quota: the storage host's slows offloaded stages, the compute nodes' local ones", () => {
    const busyStorage = { ...base, idleCores: [0, 0, 0, 0.25] };
    const medianOf = (options: Tier3Options) => simulateTier3(options).summary.medianMs;
    // Half of a 0.5-core storage host at idle: an offloaded stage gets the other half.
    expect(medianOf(busyStorage)).toBeGreaterThan(1.8 * medianOf(base));
    // Offload off: the stage runs on a compute node's quarter core, 0.1 of it busy at idle.
    const local = { ...base, offload: 'never' };
    expect(medianOf({ ...local, idleCores: [0.1, 0.1, 0.1, 0] })).toBeGreaterThan(1.5 * medianOf(local));
    // Offloaded stages use only the compute node's overhead: its background hardly shows.
    expect(medianOf({ ...base, idleCores: [0.1, 0.1, 0.1, 0] })).toBeLessThan(1.2 * medianOf(base));
  });

  test('replaces the fixed figures, and must give one per host', () => {
    expect(simulateTier3({ ...base, idleCores: [0.01, 0.01, 0.01, 0.05] })).toEqual(
      simulateTier3({ ...base, nodeIdleCores: 0.01, storageIdleCores: 0.04, idleCores: [0.01, 0.01, 0.01, 0.05] }),
    );
    expect(simulateTier3({ ...base, idleCores: [0.01, 0.01, 0.01, 0.05] })).toEqual(
      simulateTier3({ ...base, nodeIdleCores: 0.01, storageIdleCores: 0.04 }),
    );
    expect(() => simulateTier3({ ...base, idleCores: [0.01, 0.05] })).toThrow(
      /idleCores must give 4 figures \(each compute node, then storage\), got 2/,
    );
  });
});

describe('the spread of the service time', () => {
  test('a multiplier of 1 for every invocation changes nothing', () => {
    expect(simulateTier3({ ...base, spread: { local: [1], offloaded: [1, 1] } })).toEqual(simulateTier3(base));
  });

  test('one slow invocation in ten lifts the tail, not the median, and the same seed draws the same', () => {
    const spread = { offloaded: [1, 1, 1, 1, 1, 1, 1, 1, 1, 3] };
    const plain = simulateTier3(base).summary;
    const spreadOut = simulateTier3({ ...base, spread }).summary;
    expect(spreadOut.medianMs).toBe(plain.medianMs);
    expect(spreadOut.p99Ms).toBeGreaterThan(2.5 * plain.p99Ms);
    expect(simulateTier3({ ...base, spread })).toEqual(simulateTier3({ ...base, spread }));
  });

  test("each path draws from its own: a spread of the offloaded path leaves offload off's times alone", () => {
    const off = { ...base, offload: 'never' };
    expect(simulateTier3({ ...off, spread: { offloaded: [5] } })).toEqual(simulateTier3(off));
    expect(simulateTier3({ ...off, spread: { local: [2] } }).summary.medianMs).toBeGreaterThan(
      1.8 * simulateTier3(off).summary.medianMs,
    );
  });

  test('refuses an empty list or a multiplier that is not above 0', () => {
    expect(() => simulateTier3({ ...base, spread: { local: [] } })).toThrow(/spread.local must list multipliers/);
    expect(() => simulateTier3({ ...base, spread: { offloaded: [1, 0] } })).toThrow(/spread.offloaded/);
  });

  test('is measured at concurrency 1, each invocation against its path median in its run', () => {
    const at = (load: number, local: number[], offloaded: number[]) => ({
      load,
      invocations: [
        ...local.map((ms) => ({ path: 'local' as const, ms })),
        ...offloaded.map((ms) => ({ path: 'offloaded' as const, ms })),
      ],
    });
    const spread = measuredSpread([
      { levels: [at(1, [800, 800, 1600], [200, 400, 300, 300]), at(16, [9000, 9000, 9000], [])] },
      // Two offloaded invocations are too few for a median: left out.
      { levels: [at(1, [400, 200, 200], [100, 500])] },
    ]);
    expect(spread.local).toEqual([1, 1, 2, 2, 1, 1]);
    expect(spread.offloaded).toEqual([2 / 3, 4 / 3, 1, 1]);
    expect(measuredSpread([{ levels: [{ load: 1 }] }])).toEqual({});
  });
});

describe("the bench's warm-up", () => {
  test('is not counted: the measured requests and offloads are the run’s own', () => {
    const warmed = simulateTier3({ ...base, offload: 'never', warmUp: 3 });
    expect(warmed.summary.completed).toBe(base.requests);
    expect(warmed.offloaded).toBe(0); // its offload-always half offloaded every one
  });

  test('leaves the storage host as busy as its stages made it until the figures settle', () => {
    // A small storage host, AutoNDP's thresholds: right after the offload half of the warm-up
    // its published CPU is over 0.8 and the first offers are refused; after a settle, taken.
    const small = { ...base, storageCpu: 0.3, offload: 'thresholds', requests: 1, warmUp: 3 };
    expect(simulateTier3({ ...small, settleMs: 0 }).offloaded).toBe(0);
    expect(simulateTier3({ ...small, settleMs: 3000 }).offloaded).toBe(1);
  });
});
