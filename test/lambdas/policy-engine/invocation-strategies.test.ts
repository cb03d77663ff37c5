import fc from 'fast-check';
import {
  applySelection,
  freeSlots,
  invocationStrategies,
  invocationStrategy,
  isLive,
  loadPerCore,
  type Invocation,
  type InvocationStrategy,
  type NodeView,
  type PolicyContext,
  type Selection,
} from '@strata/policy-engine';
import { context, node, nodes, NOW, TTL_MS } from '../../support/nodes';

const call: Invocation = { functionName: 'wordcount', hops: 0 };

/** The node a store would reserve: the selection's rule over the snapshot's own in-flight counts. */
function choose(strategy: InvocationStrategy, view: readonly NodeView[], ctx: PolicyContext, cursor = 1, invocation = call) {
  const selection = strategy(view, invocation, ctx);
  if (selection.kind === 'no-capacity') return { selection, chosen: undefined };
  const byId = new Map(view.map((n) => [n.id, n]));
  const index = applySelection(selection, (id) => byId.get(id)?.inFlight, cursor);
  return { selection, chosen: index === -1 ? undefined : byId.get(selection.candidates[index].id) };
}

const arbitraryNode = (id: string) =>
  fc.record({
    slotsTotal: fc.integer({ min: 1, max: 8 }),
    inFlight: fc.integer({ min: 0, max: 9 }),
    slotsUsed: fc.integer({ min: 0, max: 8 }),
    load1: fc.double({ min: 0, max: 8, noNaN: true }),
    cores: fc.integer({ min: 1, max: 8 }),
    role: fc.constantFrom('compute' as const, 'storage' as const),
    draining: fc.boolean(),
    ageMs: fc.integer({ min: 0, max: 2 * TTL_MS }),
  }).map(({ ageMs, ...fields }) => node(id, { ...fields, heartbeatAt: NOW - ageMs }));

const arbitraryCluster = fc
  .integer({ min: 0, max: 12 })
  .chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => arbitraryNode(`n${String(i).padStart(2, '0')}`))));

const eligible = (n: NodeView, ctx: PolicyContext) => n.role === 'compute' && !n.draining && isLive(n, ctx);

describe.each(Object.keys(invocationStrategies))('invocation strategy %s', (name) => {
  const strategy = invocationStrategy(name);

  test('never picks a dead, draining, storage or (except single-entry) full node', () => {
    fc.assert(
      fc.property(arbitraryCluster, fc.integer({ min: 0, max: 1000 }), fc.nat(), (cluster, seed, cursor) => {
        const ctx = context(seed);
        const { chosen } = choose(strategy, cluster, ctx, cursor + 1);
        if (!chosen) return;
        expect(eligible(chosen, ctx)).toBe(true);
        if (name !== 'single-entry') expect(chosen.inFlight).toBeLessThan(chosen.slotsTotal);
      }),
    );
  });

  test('answers a typed no-capacity when no compute node is live', () => {
    const dead = [node('a', { heartbeatAt: NOW - TTL_MS }), node('b', { draining: true }), node('c', { role: 'storage' })];
    expect(strategy(dead, call, context())).toEqual({ kind: 'no-capacity', reason: 'no live compute node' });
  });

  if (name !== 'single-entry') {
    test('finds a node whenever some eligible node has room', () => {
      fc.assert(
        fc.property(arbitraryCluster, fc.integer({ min: 0, max: 1000 }), fc.nat(), (cluster, seed, cursor) => {
          const ctx = context(seed);
          const roomExists = cluster.some((n) => eligible(n, ctx) && n.inFlight < n.slotsTotal);
          expect(choose(strategy, cluster, ctx, cursor + 1).chosen !== undefined).toBe(roomExists);
        }),
      );
    });
  }

  test('does not change the snapshot it is given', () => {
    const view = Object.freeze(nodes(5).map((n) => Object.freeze(n)));
    const copy = structuredClone(view);
    strategy(view, call, context());
    expect(view).toEqual(copy);
  });
});

describe('round-robin', () => {
  test('is exactly fair: k rounds over n nodes with room give each node k invocations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10 }), fc.nat(1000), (n, k, start) => {
        const view = nodes(n);
        const tally = new Map<string, number>();
        for (let cursor = start + 1; cursor <= start + n * k; cursor++) {
          const { chosen } = choose(invocationStrategy('round-robin'), view, context(), cursor);
          tally.set(chosen!.id, (tally.get(chosen!.id) ?? 0) + 1);
        }
        expect([...tally.values()]).toEqual(Array(n).fill(k));
      }),
    );
  });
});

describe('least-outstanding', () => {
  test('picks the node with the fewest in flight, ties to the lowest id', () => {
    const view = [node('a', { inFlight: 2 }), node('b', { inFlight: 1 }), node('c', { inFlight: 1 }), node('d', { inFlight: 3 })];
    expect(choose(invocationStrategy('least-outstanding'), view, context()).chosen?.id).toBe('b');
  });
});

describe('power-of-two', () => {
  const strategy = invocationStrategy('power-of-two');

  test('picks the one of its two sampled nodes with fewer in flight', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 16 }), fc.nat(), (loads, seed) => {
        const view = loads.map((inFlight, i) => node(`n${String(i).padStart(2, '0')}`, { inFlight }));
        const { selection, chosen } = choose(strategy, view, context(seed));
        const sampled = (selection as Extract<Selection, { rule: 'fewest-in-flight' }>).candidates.slice(0, 2);
        const inFlight = sampled.map((c) => view.find((n) => n.id === c.id)!.inFlight);
        if (Math.min(...inFlight) < 4) {
          expect(sampled.map((c) => c.id)).toContain(chosen!.id);
          expect(chosen!.inFlight).toBe(Math.min(...inFlight));
        }
      }),
    );
  });

  test('samples every node over many decisions, following the injected randomness', () => {
    const seen = new Set<string>();
    const ctx = context(7);
    for (let i = 0; i < 200; i++) seen.add(choose(strategy, nodes(10), ctx).chosen!.id);
    expect(seen.size).toBe(10);
    const once = (seed: number) => strategy(nodes(10), call, context(seed));
    expect(once(3)).toEqual(once(3));
  });

  test('rejects a choice count below one', () => {
    expect(() => invocationStrategy('power-of-two', { choices: 0 })).toThrow(/choices must be a whole number of at least 1, got 0/);
  });
});

describe('most-slots and least-load', () => {
  test.each([
    ['most-slots', (n: NodeView) => -freeSlots(n)],
    ['least-load', loadPerCore],
  ])('%s picks the best node by its measure among those with room', (name, cost) => {
    fc.assert(
      fc.property(arbitraryCluster, (cluster) => {
        const ctx = context();
        const { chosen } = choose(invocationStrategy(name), cluster, ctx);
        if (!chosen) return;
        const withRoom = cluster.filter((n) => eligible(n, ctx) && n.inFlight < n.slotsTotal);
        expect(cost(chosen)).toBe(Math.min(...withRoom.map(cost)));
      }),
    );
  });

  test('least-load compares load per core, ties to the lowest id', () => {
    const view = [node('a', { load1: 3, cores: 2 }), node('b', { load1: 2, cores: 4 }), node('c', { load1: 1, cores: 2 })];
    expect(choose(invocationStrategy('least-load'), view, context()).chosen?.id).toBe('b');
  });
});

describe('hash-affinity', () => {
  const strategy = invocationStrategy('hash-affinity');
  const fn = (functionName: string): Invocation => ({ functionName, hops: 0 });

  test('sends a function to the same home node while that node has room, whatever the others carry', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 10, maxLength: 10 }), (name, loads) => {
        const idle = nodes(10);
        const home = choose(strategy, idle, context(), 1, fn(name)).chosen!.id;
        const busy = idle.map((n, i) => (n.id === home ? n : { ...n, inFlight: loads[i] }));
        expect(choose(strategy, busy, context(), 1, fn(name)).chosen!.id).toBe(home);
      }),
    );
  });

  test('walks every node exactly once by a co-prime step, so a full home spills to a free node', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 40 }), (name, n) => {
        const selection = strategy(nodes(n), fn(name), context());
        const ids = (selection as Selection).candidates.map((c) => c.id);
        expect(new Set(ids).size).toBe(n);
      }),
    );
    const view = nodes(7);
    const walk = (strategy(view, fn('sha256'), context()) as Selection).candidates.map((c) => c.id);
    const full = view.map((n) => (walk.slice(0, 3).includes(n.id) ? { ...n, inFlight: 4 } : n));
    expect(choose(strategy, full, context(), 1, fn('sha256')).chosen!.id).toBe(walk[3]);
  });

  test('spreads different functions over different home nodes', () => {
    const homes = new Set(Array.from({ length: 100 }, (_, i) => choose(strategy, nodes(10), context(), 1, fn(`f${i}`)).chosen!.id));
    expect(homes.size).toBe(10);
  });
});

describe('single-entry', () => {
  test('sends everything to the live node with the lowest id, however busy it is', () => {
    const view = [node('b'), node('a', { inFlight: 50 }), node('0', { heartbeatAt: NOW - TTL_MS })];
    expect(choose(invocationStrategy('single-entry'), view, context()).chosen?.id).toBe('a');
  });
});
