import {
  AFFINITY_WALK,
  applyIndexed,
  applySelection,
  fleetColumns,
  freeSlots,
  type IndexedSelection,
  type Invocation,
  type InvocationStrategy,
  invocationStrategy,
  isIndexed,
  isLive,
  loadPerCore,
  type NodeView,
  type PolicyContext,
  policyNames,
} from '@strata/policy-engine';
import fc from 'fast-check';
import { context, NOW, node, nodes, TTL_MS } from '../support/nodes';

const call: Invocation = { functionName: 'wordcount', hops: 0 };

/** The node a store would reserve: the selection's rule over the snapshot's own in-flight counts. */
function choose(
  strategy: InvocationStrategy,
  view: readonly NodeView[],
  ctx: PolicyContext,
  cursor = 1,
  invocation = call,
) {
  const selection = strategy(view, invocation, ctx);
  if (selection.kind === 'no-capacity') return { selection, chosen: undefined };
  const byId = new Map(view.map((n) => [n.id, n]));
  if (isIndexed(selection)) {
    const fleet = fleetColumns(view, ctx);
    const index = applyIndexed(selection, fleet, cursor);
    return { selection, chosen: index === -1 ? undefined : byId.get(fleet.ids[index]) };
  }
  const index = applySelection(selection, (id) => byId.get(id)?.inFlight, cursor);
  return { selection, chosen: index === -1 ? undefined : byId.get(selection.candidates[index].id) };
}

const arbitraryNode = (id: string) =>
  fc
    .record({
      slotsTotal: fc.integer({ min: 1, max: 8 }),
      inFlight: fc.integer({ min: 0, max: 9 }),
      slotsUsed: fc.integer({ min: 0, max: 8 }),
      load1: fc.double({ min: 0, max: 8, noNaN: true }),
      cores: fc.integer({ min: 1, max: 8 }),
      role: fc.constantFrom('compute' as const, 'storage' as const),
      draining: fc.boolean(),
      ageMs: fc.integer({ min: 0, max: 2 * TTL_MS }),
      serviceMs: fc.option(fc.double({ min: 1, max: 1000, noNaN: true }), { nil: undefined }),
    })
    .map(({ ageMs, serviceMs, ...fields }) =>
      node(id, { ...fields, heartbeatAt: NOW - ageMs, ...(serviceMs === undefined ? {} : { serviceMs }) }),
    );

const arbitraryCluster = fc
  .integer({ min: 0, max: 12 })
  .chain((count) =>
    fc.tuple(...Array.from({ length: count }, (_, i) => arbitraryNode(`n${String(i).padStart(2, '0')}`))),
  );

const eligible = (n: NodeView, ctx: PolicyContext) => n.role === 'compute' && !n.draining && isLive(n, ctx);

describe.each(policyNames('invocation'))('invocation strategy %s', (name) => {
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

  test('chooses nothing when no compute node is live', () => {
    const dead = [
      node('a', { heartbeatAt: NOW - TTL_MS }),
      node('b', { draining: true }),
      node('c', { role: 'storage' }),
    ];
    expect(choose(strategy, dead, context()).chosen).toBeUndefined();
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

  test('a strategy that decides over the index says it reads only membership, and never reads a node', () => {
    if (strategy.reads !== 'membership') return expect(strategy.reads ?? 'figures').toBe('figures');
    const untouchable = new Proxy([], {
      get: () => {
        throw new Error('read the node list');
      },
    }) as unknown as NodeView[];
    expect(isIndexed(strategy(untouchable, call, context()) as IndexedSelection)).toBe(true);
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
    const view = [
      node('a', { inFlight: 2 }),
      node('b', { inFlight: 1 }),
      node('c', { inFlight: 1 }),
      node('d', { inFlight: 3 }),
    ];
    expect(choose(invocationStrategy('least-outstanding'), view, context()).chosen?.id).toBe('b');
  });
});

describe('power-of-two', () => {
  const strategy = invocationStrategy('power-of-two');

  test('draws two nodes with room and picks the one with fewer in flight', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 16 }),
        fc.nat(),
        (loads, seed) => {
          const view = loads.map((inFlight, i) => node(`n${String(i).padStart(2, '0')}`, { inFlight }));
          const { selection, chosen } = choose(strategy, view, context(seed));
          const withRoom = view.filter((n) => n.inFlight < 4);
          if (withRoom.length === 0) return expect(chosen).toBeUndefined();
          const drawn = (selection as unknown as { draws: number[] }).draws.map(
            (u) => withRoom[Math.floor(u * withRoom.length)],
          );
          expect(drawn).toHaveLength(2);
          expect(chosen!.inFlight).toBe(Math.min(...drawn.map((n) => n.inFlight)));
          expect(drawn).toContain(chosen);
        },
      ),
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

  test('rejects a choice count outside 1 to 64', () => {
    expect(() => invocationStrategy('power-of-two', { choices: 0 })).toThrow(
      /choices must be a whole number from 1 to 64, got 0/,
    );
  });
});

describe('least-expected-delay', () => {
  const strategy = invocationStrategy('least-expected-delay');

  test('weighs the live in-flight count by the service time the node measured: (in flight + 1) x service time / slots', () => {
    const view = [
      node('fast', { serviceMs: 50, inFlight: 3 }),
      node('slow', { serviceMs: 200 }),
      node('mid', { serviceMs: 100, inFlight: 1 }),
    ];
    // fast 4 x 50 / 4 = 50, slow 1 x 200 / 4 = 50, mid 2 x 100 / 4 = 50: a tie, to the lowest id
    expect(choose(strategy, view, context()).chosen?.id).toBe('fast');
    expect(choose(strategy, [{ ...view[0], inFlight: 2 }, ...view.slice(1)], context()).chosen?.id).toBe('fast');
    expect(choose(strategy, [view[0], view[1], { ...view[2], inFlight: 0 }], context()).chosen?.id).toBe('mid');
  });

  test('ranks a node with no history at the median of the others, not last', () => {
    const view = [
      node('a', { serviceMs: 10, inFlight: 2 }),
      node('b', { serviceMs: 30, inFlight: 2 }),
      node('c', { serviceMs: 90, inFlight: 2 }),
      node('new'),
    ];
    // the median is 30: new 1 x 30 / 4 = 7.5, a 3 x 10 / 4 = 7.5 (a tie to a), b 22.5, c 67.5
    expect(choose(strategy, view, context()).chosen?.id).toBe('a');
    expect(choose(strategy, [{ ...view[0], inFlight: 3 }, ...view.slice(1)], context()).chosen?.id).toBe('new');
  });
});

describe('prequal', () => {
  test('of its probes, the cold one with the lowest service time; if all are hot, the least busy', () => {
    // Draws at 0 and 0.99 probe a and the last node; the quantile sets the hot threshold.
    const pick = (view: NodeView[], quantile: number) => {
      const strategy = invocationStrategy('prequal', { probes: 2, quantile });
      const draws = [0, 0.99];
      const random = () => draws.shift()!;
      return choose(strategy, view, context(1, { random })).chosen?.id;
    };
    const view = [
      node('a', { serviceMs: 80, inFlight: 0 }),
      node('b', { serviceMs: 10, inFlight: 2 }),
      node('c', { serviceMs: 20, inFlight: 1 }),
    ];
    expect(pick(view, 1)).toBe('c'); // threshold 2: both cold, c is faster
    expect(pick(view, 0)).toBe('a'); // threshold 0: c is hot, a cold
    expect(pick([view[0], view[1], { ...view[2], inFlight: 0 }], 0)).toBe('c'); // both cold at 0: c is faster
  });

  test('rejects a quantile outside 0 to 1, naming it', () => {
    expect(() => invocationStrategy('prequal', { quantile: 1.5 })).toThrow(
      'options.quantile must be a number from 0 to 1, got 1.5',
    );
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
    const view = [
      node('a', { load1: 3, cores: 2 }),
      node('b', { load1: 2, cores: 4 }),
      node('c', { load1: 1, cores: 2 }),
    ];
    expect(choose(invocationStrategy('least-load'), view, context()).chosen?.id).toBe('b');
  });
});

describe('hash-affinity', () => {
  const strategy = invocationStrategy('hash-affinity');
  const fn = (functionName: string): Invocation => ({ functionName, hops: 0 });

  test('sends a function to the same home node while that node has room, whatever the others carry', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 10, maxLength: 10 }),
        (name, loads) => {
          const idle = nodes(10);
          const home = choose(strategy, idle, context(), 1, fn(name)).chosen!.id;
          const busy = idle.map((n, i) => (n.id === home ? n : { ...n, inFlight: loads[i] }));
          expect(choose(strategy, busy, context(), 1, fn(name)).chosen!.id).toBe(home);
        },
      ),
    );
  });

  test('a full home spills along a walk that visits distinct nodes, then to the least busy node', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 40 }), (name, n) => {
        let view = nodes(n, { slotsTotal: 1 });
        const walk: string[] = [];
        for (let i = 0; i < Math.min(n, AFFINITY_WALK); i++) {
          const next = choose(strategy, view, context(), 1, fn(name)).chosen!.id;
          walk.push(next);
          view = view.map((v) => (v.id === next ? { ...v, inFlight: 1 } : v));
        }
        expect(new Set(walk).size).toBe(walk.length);
        if (n > AFFINITY_WALK) expect(choose(strategy, view, context(), 1, fn(name)).chosen).toBeDefined();
      }),
    );
  });

  test('spreads different functions over different home nodes', () => {
    const homes = new Set(
      Array.from({ length: 100 }, (_, i) => choose(strategy, nodes(10), context(), 1, fn(`f${i}`)).chosen!.id),
    );
    expect(homes.size).toBe(10);
  });
});

describe('single-entry', () => {
  test('sends everything to the live node with the lowest id, however busy it is', () => {
    const view = [node('b'), node('a', { inFlight: 50 }), node('0', { heartbeatAt: NOW - TTL_MS })];
    expect(choose(invocationStrategy('single-entry'), view, context()).chosen?.id).toBe('a');
  });
});
