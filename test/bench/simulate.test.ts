import { PLACEMENTS } from '../../bench/simulator/placements';
import { type SimulationOptions, simulate } from '../../bench/simulator/simulate';
import { summarize } from '../../common/stats';

const small: Omit<SimulationOptions, 'placement'> = { nodes: 30, invocations: 20_000, load: 0.9, seed: 7 };

describe('the simulator', () => {
  test('is deterministic for a seed, and every invocation completes or fails', () => {
    const a = simulate({ ...small, placement: PLACEMENTS['power-of-two'] });
    const b = simulate({ ...small, placement: PLACEMENTS['power-of-two'] });
    expect(a.summary).toEqual(b.summary);
    expect(a.summary.completed + a.summary.errors).toBe(20_000);
    expect(simulate({ ...small, seed: 8, placement: PLACEMENTS['power-of-two'] }).summary).not.toEqual(a.summary);
  });

  test('every placement gets the same workload, whatever randomness its policy draws', () => {
    const work = (name: string) =>
      simulate({ ...small, speeds: 'uniform', placement: PLACEMENTS[name] }).nodes.reduce(
        (sum, node) => sum + node.busyMs,
        0,
      );
    const expected = work('least-outstanding');
    for (const name of ['power-of-two', 'prequal', 'random']) expect(work(name)).toBeCloseTo(expected, 3);
  });

  test('at low load on equal nodes, latency is the work itself: median near ln 2 x the 100 ms mean', () => {
    const { summary } = simulate({
      ...small,
      load: 0.2,
      speeds: 'uniform',
      placement: PLACEMENTS['least-outstanding'],
    });
    expect(summary.medianMs).toBeGreaterThan(100 * Math.LN2 * 0.9);
    expect(summary.medianMs).toBeLessThan(100 * Math.LN2 * 1.1);
    expect(summary.meanMs).toBeGreaterThan(90);
    expect(summary.meanMs).toBeLessThan(110);
  });

  test('utilisation follows the offered load', () => {
    const { nodes } = simulate({ ...small, load: 0.6, speeds: 'uniform', placement: PLACEMENTS['round-robin'] });
    const mean = nodes.reduce((sum, node) => sum + node.utilisation, 0) / nodes.length;
    expect(mean).toBeGreaterThan(0.55);
    expect(mean).toBeLessThan(0.65);
  });

  test('random placement overloads the slow nodes of a mixed fleet; the oracle loads the fast ones', () => {
    const random = simulate({ ...small, placement: PLACEMENTS.random });
    const oracle = simulate({ ...small, placement: PLACEMENTS.oracle });
    expect(random.summary.p99Ms).toBeGreaterThan(5 * oracle.summary.p99Ms);
    const utilisation = (run: typeof random, speed: number) => {
      const nodes = run.nodes.filter((node) => node.speed === speed);
      return nodes.reduce((sum, node) => sum + node.utilisation, 0) / nodes.length;
    };
    expect(utilisation(random, 0.5)).toBeGreaterThan(0.9); // a third of the work on a seventh of the capacity
    expect(utilisation(random, 2)).toBeLessThan(0.3);
    expect(utilisation(oracle, 2)).toBeGreaterThan(0.9);
    expect(utilisation(oracle, 0.5)).toBeLessThan(0.5);
  });

  test("AutoNDP's single entry node forwards to its peers when it is full", () => {
    const before = simulate({ ...small, placement: PLACEMENTS['autondp-before'] });
    expect(before.forwarded).toBeGreaterThan(1000);
    expect(simulate({ ...small, placement: PLACEMENTS['round-robin'] }).forwarded).toBe(0); // slot limits: no node is ever sent more than it holds
  });
});

describe("the simulator's control-plane figures", () => {
  test('an indexed strategy: a reservation and a release a decision, a few more for retries and refreshes; each node two calls an interval', () => {
    const { controlPlane } = simulate({ ...small, load: 0.5, placement: PLACEMENTS['power-of-two'] });
    expect(controlPlane.callsPerDecision).toBeGreaterThanOrEqual(2);
    expect(controlPlane.callsPerDecision).toBeLessThan(2.5);
    expect(controlPlane.callsPerNodeSecond).toBeCloseTo(2, 1);
    expect(controlPlane.recordsReadPerDecision).toBe(0);
  });

  test("AutoNDP's single entry node pays for its forwards: more calls per decision than a strategy that spreads", () => {
    const before = simulate({ ...small, placement: PLACEMENTS['autondp-before'] }).controlPlane;
    const spread = simulate({ ...small, placement: PLACEMENTS['round-robin'] }).controlPlane;
    expect(before.callsPerDecision).toBeGreaterThan(spread.callsPerDecision + 1);
  });
});

describe('the adaptive policies in the simulator', () => {
  test('learn node speed from what the nodes measure: on a mixed fleet they load the fast nodes, as the oracle does', () => {
    const utilisation = (name: string, speed: number) => {
      const nodes = simulate({ ...small, load: 0.5, placement: PLACEMENTS[name] }).nodes.filter(
        (node) => node.speed === speed,
      );
      return nodes.reduce((sum, node) => sum + node.utilisation, 0) / nodes.length;
    };
    // least-outstanding, blind to speed, loads every speed alike (about 0.5 each)
    for (const name of ['least-expected-delay', 'prequal']) {
      expect(utilisation(name, 2)).toBeGreaterThan(1.3 * utilisation('least-outstanding', 2));
      expect(utilisation(name, 0.5)).toBeLessThan(utilisation('least-outstanding', 0.5) / 3);
    }
  });

  test('after a third of the nodes slow down, least-expected-delay stays near the oracle, well ahead of least-outstanding', () => {
    const secondHalf = (name: string) =>
      simulate({ ...small, invocations: 40_000, load: 0.5, slowdown: true, placement: PLACEMENTS[name] }).secondHalf;
    const [adaptive, blind, oracle] = ['least-expected-delay', 'least-outstanding', 'oracle'].map(secondHalf);
    expect(adaptive.completed).toBe(20_000);
    expect(adaptive.p99Ms).toBeLessThan(0.8 * blind.p99Ms);
    expect(adaptive.p99Ms).toBeLessThan(1.2 * oracle.p99Ms);
  });
});

describe('summarize', () => {
  test('median, percentiles, standard deviation and throughput', () => {
    const s = summarize([4, 1, 3, 2, 5, 6, 7, 8, 9, 10], 2, 5);
    expect(s).toEqual({
      completed: 10,
      errors: 2,
      medianMs: 6,
      p95Ms: 10,
      p99Ms: 10,
      meanMs: 5.5,
      stddevMs: Math.sqrt(82.5 / 9),
      throughput: 2,
    });
  });
});
