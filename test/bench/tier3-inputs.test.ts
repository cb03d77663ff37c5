import { countedCosts, measuredCosts, simulateTier3, type Tier3Options } from '../../bench/simulator/tier3';
import { TIER3_BASE } from '../support/tier3';

// What the tier-3 model is given of the system (issue 22): each host's idle CPU, the spread
// of the service time on each path, and the bench's warm-up. Behaviour, not figures.
const base: Tier3Options = { ...TIER3_BASE, storageCpu: 0.5, offload: 'always', requests: 40 };

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

  test('stretches a link-bound transfer too, as it stretched the measured service time, unless told not to', () => {
    // A 10 Mbit/s link: the local run is its transfer, and a CPU-only spread would leave it alone.
    const linkBound = { ...base, offload: 'never', linkMbit: 10, computeCpu: [1], stageCpuMs: 10 };
    const medianOf = (options: Tier3Options) => simulateTier3(options).summary.medianMs;
    const doubled = { ...linkBound, spread: { local: [2] } };
    expect(medianOf(doubled)).toBeGreaterThan(1.8 * medianOf(linkBound));
    expect(medianOf({ ...doubled, spreadTransfer: false })).toBeLessThan(1.1 * medianOf(linkBound));
  });

  test('refuses an empty list or a multiplier that is not above 0', () => {
    expect(() => simulateTier3({ ...base, spread: { local: [] } })).toThrow(/spread.local must list multipliers/);
    expect(() => simulateTier3({ ...base, spread: { offloaded: [1, 0] } })).toThrow(/spread.offloaded/);
  });

  test('the costs and the spread are measured at concurrency 1, each invocation as the model would charge it', () => {
    // Compute nodes of 0.25 and 0.5 cores, storage 0.5: a local stage of 180 ms of CPU takes
    // 50 / 0.5 + (180 + 20) / 0.25 = 900 ms on c1 and 100 + 400 = 500 ms on c2.
    const given = { overheadCpuMs: 20, serveCpuMs: 50 };
    const invocations = [
      { node: 'c1', path: 'local' as const, ms: 900 },
      { node: 'c2', path: 'local' as const, ms: 500 },
      { node: 'c2', path: 'local' as const, ms: 580 }, // (580 − 100) × 0.5 − 20 = 220: 1.22 of the median
      { node: 'c2', path: 'local' as const, ms: 500 },
      // Offloaded from c2: 20 / 0.5 + 230 / 0.5 = 500 ms.
      { node: 'c2', path: 'offloaded' as const, ms: 500 },
      { node: 'c2', path: 'offloaded' as const, ms: 500 },
    ];
    const run = { computeCpu: [0.25, 0.5], storageCpu: 0.5, levels: [{ load: 1, invocations }] };
    const measured = measuredCosts([run, { ...run, levels: [{ load: 16, invocations: [] }] }], given);
    expect(measured.stageCpuMs).toBeCloseTo(180);
    expect(measured.nearStageCpuMs).toBeCloseTo(230);
    // The local spread is over each quota's own group of at least 3: c2's here, c1's one is too few.
    expect(measured.spread.local).toEqual([1, 220 / 180, 1]);
    expect(measured.stageCpuMsAtCores).toEqual({ '0.5': 180 });
    expect(measured.spread.offloaded).toBeUndefined(); // two are too few for a spread of their own
    // A host's idle CPU leaves less of its quota: the same times imply less work.
    const idle = measuredCosts([{ ...run, idleCores: [0.05, 0.05, 0] }], given);
    expect(idle.stageCpuMs).toBeLessThan(180);
    expect(() =>
      measuredCosts([{ ...run, levels: [{ load: 1, invocations: [{ node: 'c7', path: 'local', ms: 1 }] }] }], given),
    ).toThrow(/node "c7", not c1 to c2/);
  });
});

describe("each quota's own cost of the local stage", () => {
  test('is measured for each quota apart, and each node is charged its own', () => {
    // The same stage implies 180 ms of CPU on the half-core node and 280 on the quarter-core ones.
    const given = { overheadCpuMs: 20, serveCpuMs: 50 };
    const at = (node: string, ms: number) => ({ node, path: 'local' as const, ms });
    const quarter = 100 + (280 + 20) / 0.25;
    const half = 100 + (180 + 20) / 0.5;
    const invocations = [
      at('c1', quarter),
      at('c2', quarter),
      at('c1', quarter),
      at('c3', half),
      at('c3', half),
      at('c3', half),
    ];
    const run = { computeCpu: [0.25, 0.25, 0.5], storageCpu: 0.5, levels: [{ load: 1, invocations }] };
    const measured = measuredCosts([run], given);
    expect(measured.stageCpuMsAtCores['0.25']).toBeCloseTo(280);
    expect(measured.stageCpuMsAtCores['0.5']).toBeCloseTo(180);
    // Offload off, one node: the quarter-core node's dearer stage is slower there, and only there.
    const local = { ...base, computeCpu: [0.25], offload: 'never' };
    const dearer = { ...local, nodeStageCpuMs: [280] };
    expect(simulateTier3(dearer).summary.medianMs).toBeGreaterThan(1.3 * simulateTier3(local).summary.medianMs);
    expect(simulateTier3({ ...local, nodeStageCpuMs: [undefined] })).toEqual(simulateTier3(local));
  });
});

describe('the load a host publishes', () => {
  test("counts the time its quota holds it back as the kernel does, so a host at its quota with one stage can stay under AutoNDP's load threshold", () => {
    // One stage at a time on a 0.75-core storage host: busy ~0.6 of its quota, held back
    // 0.25 of a core while the stage runs. Counting every such millisecond whole puts its
    // load over 0.8, and offers are refused; as the kernel counts it, they are taken.
    const storageBound = { ...base, storageCpu: 0.75, linkMbit: 1000, offload: 'thresholds', requests: 40 };
    const kernel = simulateTier3(storageBound).offloaded;
    const whole = simulateTier3({ ...storageBound, throttle: 'whole' }).offloaded;
    expect(kernel).toBeGreaterThan(whole);
  });
});

describe("the costs from the hosts' counters", () => {
  test("separate the stage from serving, and a node's stage from its overhead, over levels of different mixes", () => {
    // The storage host: 140 ms a stage near the data, 8 ms to serve a local run; a node: 120 ms a local stage, 2 ms an invocation.
    const level = (offloaded: number, local: number, elapsedS: number) => ({
      elapsedS,
      busyCores: {
        s1: (offloaded * 140 + local * 8) / (1000 * elapsedS),
        c1: (local * 120 + (local + offloaded) * 2) / (1000 * elapsedS),
      },
      invocations: [
        ...Array.from({ length: offloaded }, () => ({ node: 'c1', path: 'offloaded' as const })),
        ...Array.from({ length: local }, () => ({ node: 'c1', path: 'local' as const })),
      ],
    });
    const counted = countedCosts([level(50, 0, 7), level(0, 50, 23), level(33, 17, 12)]);
    expect(counted.nearStageCpuMs).toBeCloseTo(140);
    expect(counted.serveCpuMs).toBeCloseTo(8);
    expect(counted.stageCpuMs).toBeCloseTo(120);
    expect(counted.overheadCpuMs).toBeCloseTo(2);
    // Every level the same mix: the storage host's two costs cannot be told apart, and are left out.
    expect(countedCosts([level(30, 20, 10), level(30, 20, 12)]).nearStageCpuMs).toBeUndefined();
  });
});

describe('the spread of refused offers run locally', () => {
  test('is measured apart from the plain local runs, and drawn only where offers can be refused', () => {
    const given = { overheadCpuMs: 20, serveCpuMs: 50 };
    const local = (ms: number) => ({ node: 'c1', path: 'local' as const, ms });
    const levels = [{ load: 1, invocations: [local(900), local(1000), local(1100)] }];
    const run = { computeCpu: [0.25], storageCpu: 1, levels };
    expect(measuredCosts([run], given).spread.refused).toBeUndefined();
    expect(measuredCosts([{ ...run, offload: 'thresholds' }], given).spread.refused).toHaveLength(3);
    // Offload never refuses nothing: a refused spread changes none of its runs.
    const never = { ...base, offload: 'never' };
    expect(simulateTier3({ ...never, spread: { refused: [3] } })).toEqual(simulateTier3(never));
    // A small storage host under AutoNDP's thresholds refuses some: those run three times the work.
    const refusing = { ...base, storageCpu: 0.3, offload: 'thresholds', concurrency: 3, requests: 60 };
    expect(simulateTier3({ ...refusing, spread: { refused: [3] } }).summary.p99Ms).toBeGreaterThan(
      1.5 * simulateTier3(refusing).summary.p99Ms,
    );
  });
});

describe('serving the object to a local stage', () => {
  const local = { ...base, storageCpu: 1, offload: 'never' };

  test('streamed, it overlaps the transfer instead of going before it, and a slow storage CPU paces the transfer', () => {
    const medianOf = (options: Tier3Options) => simulateTier3(options).summary.medianMs;
    expect(medianOf({ ...local, serving: 'streamed' })).toBeLessThan(medianOf({ ...local, serving: 'before' }));
    // 50 ms of serving on a twentieth of a core: a second at least, whatever the link.
    const starved = { ...local, storageCpu: 0.05, linkMbit: 10_000, serving: 'streamed' as const };
    expect(medianOf(starved)).toBeGreaterThanOrEqual(base.serveCpuMs / 0.05);
  });

  test('the same work either way: the storage host spends as much CPU serving; an unknown mode is refused', () => {
    const streamed = simulateTier3({ ...local, serving: 'streamed' });
    const before = simulateTier3({ ...local, serving: 'before' });
    // The storage host's CPU over the run (its utilisation × the run's length): the runs differ only in their length.
    const cpuSeconds = (r: typeof before) => (r.utilisation['s1 CPU'] * r.summary.completed) / r.summary.throughput;
    expect(cpuSeconds(streamed) / cpuSeconds(before)).toBeCloseTo(1, 1);
    expect(() => simulateTier3({ ...local, serving: 'later' as 'before' })).toThrow(
      /serving must be before or streamed, got "later"/,
    );
  });
});

describe("the fleet's index of service times", () => {
  test('gives a node with no estimate the median of those with one, as the state store does, not a head start', () => {
    // Three equal nodes, one request at a time: the first learns an estimate; the others,
    // standing at that same figure, do not draw the work away from it as fresh nodes at 1 ms would.
    const equal = { ...base, computeCpu: [0.5, 0.5, 0.5], storageCpu: 1, offload: 'never', requests: 30 };
    const { perNode } = simulateTier3({ ...equal, strategy: 'least-expected-delay' });
    expect(perNode.c1.local).toBe(30);
    expect(simulateTier3(equal).perNode.c2.local).toBeGreaterThan(0); // round robin spreads them
  });
});

describe("the dispatcher's queue", () => {
  // One slot, 8 clients: everything queues at the dispatcher.
  const queued = { ...base, computeCpu: [0.5], offload: 'never', concurrency: 8, requests: 80 };

  test('polling serves the same work as fifo, but the young take the freed slots: a lower median, a longer tail', () => {
    const fifo = simulateTier3({ ...queued, queue: 'fifo' }).summary;
    const polling = simulateTier3({ ...queued, queue: 'polling' }).summary;
    expect(polling.throughput).toBeGreaterThan(0.9 * fifo.throughput);
    expect(polling.medianMs).toBeLessThan(fifo.medianMs);
    expect(polling.p99Ms).toBeGreaterThan(1.5 * fifo.p99Ms);
  });

  test("an ask's own time delays every invocation by it, and leaves a freed slot empty until an ask lands", () => {
    const one = { ...queued, concurrency: 1, requests: 10, queue: 'polling' as const };
    const at = (askMs: number) => simulateTier3({ ...one, askMs }).summary.medianMs;
    expect(at(50)).toBeGreaterThanOrEqual(at(0) + 50);
    const busy = { ...queued, queue: 'polling' as const };
    expect(simulateTier3({ ...busy, askMs: 50 }).summary.throughput).toBeLessThan(
      simulateTier3(busy).summary.throughput,
    );
  });

  test('refuses a queue it does not know', () => {
    expect(() => simulateTier3({ ...queued, queue: 'lifo' as 'fifo' })).toThrow(
      /queue must be fifo or polling, got "lifo"/,
    );
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
