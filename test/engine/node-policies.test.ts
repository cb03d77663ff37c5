import {
  BUILT_IN_NAMES,
  freeSlots,
  type Invocation,
  type NodeView,
  nodePolicy,
  policyNames,
  tryInOrder,
} from '@strata/policy-engine';
import fc from 'fast-check';
import { MemoryStateStore } from '../../common/state';
import { context, NOW, node, TTL_MS } from '../support/nodes';

const call: Invocation = { functionName: 'wordcount', hops: 1 };
const self = node('self', { slotsUsed: 4 });
const ids = (result: ReturnType<ReturnType<typeof nodePolicy>>) =>
  result.kind === 'forward' ? result.peers.map((p) => p.id) : [];

// Alphabetical order is a, b, c, d: every expected order below differs from it, so a
// caller that re-sorted the peers (as AutoNDP's sorted set did) would fail these tests.
const peers: NodeView[] = [
  node('a', { slotsTotal: 4, slotsUsed: 3, load1: 0.2, cores: 2 }), // 1 free, load 0.1/core
  node('b', { slotsTotal: 8, slotsUsed: 1, load1: 3.0, cores: 2 }), // 7 free, load 1.5/core
  node('c', { slotsTotal: 4, slotsUsed: 0, load1: 1.0, cores: 4 }), // 4 free, load 0.25/core
  node('d', { slotsTotal: 4, slotsUsed: 2, load1: 0.0, cores: 1 }), // 2 free, load 0/core
];

describe('node policies', () => {
  test('most-slots orders peers by free slots, most first', () => {
    expect(ids(nodePolicy('most-slots')(self, [self, ...peers], call, context()))).toEqual(['b', 'c', 'd', 'a']);
  });

  test('least-load orders peers by load per core, least first', () => {
    expect(ids(nodePolicy('least-load')(self, [self, ...peers], call, context()))).toEqual(['d', 'a', 'c', 'b']);
  });

  test('expected-delay orders peers by (slots in use + 1) x their measured service time / slots; no estimate counts as the median', () => {
    const timed = [
      node('a', { slotsTotal: 4, slotsUsed: 3, serviceMs: 10 }), // 4 x 10 / 4 = 10
      node('b', { slotsTotal: 4, slotsUsed: 0, serviceMs: 100 }), // 1 x 100 / 4 = 25
      node('c', { slotsTotal: 2, slotsUsed: 0 }), // the median, 40: 1 x 40 / 2 = 20
      node('d', { slotsTotal: 4, slotsUsed: 1, serviceMs: 40 }), // 2 x 40 / 4 = 20
    ];
    expect(ids(nodePolicy('least-expected-delay')(self, [self, ...timed], call, context()))).toEqual([
      'a',
      'c',
      'd',
      'b',
    ]);
    // For a function the peers have measured, its own estimates decide.
    const perFunction = timed.map((p) => ({ ...p, functionServiceMs: { wordcount: p.id === 'b' ? 1 : 50 } }));
    expect(ids(nodePolicy('least-expected-delay')(self, [self, ...perFunction], call, context()))[0]).toBe('b');
  });

  test('power-of-two puts the better of its two draws first, then the others', () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const order = (nodePolicy('power-of-two')(self, peers, call, context(seed)) as { peers: readonly NodeView[] })
          .peers;
        expect(new Set(order.map((p) => p.id))).toEqual(new Set(['a', 'b', 'c', 'd']));
        expect(freeSlots(order[0])).toBeGreaterThanOrEqual(freeSlots(order[1]));
      }),
    );
  });

  test.each(policyNames('node'))('%s never offers itself, a full, draining, dead or storage peer', (name) => {
    const view = [
      self,
      node('full', { slotsUsed: 4 }),
      node('reserved-full', { inFlight: 4 }),
      node('draining', { draining: true }),
      node('dead', { heartbeatAt: NOW - TTL_MS }),
      node('storage', { role: 'storage' }),
      node('ok'),
    ];
    expect(ids(nodePolicy(name)(self, view, call, context()))).toEqual(['ok']);
  });

  test.each(policyNames('node'))('%s answers no-capacity when no peer has room', (name) => {
    expect(nodePolicy(name)(self, [self, node('full', { slotsUsed: 4 })], call, context())).toEqual({
      kind: 'no-capacity',
      reason: 'no live peer with a free slot',
    });
  });
});

describe('tryInOrder', () => {
  test('offers the invocation to peers in exactly the policy order, stopping at the first that accepts', async () => {
    const decision = nodePolicy('least-load')(self, [self, ...peers], call, context());
    const offered: string[] = [];
    const accepted = await tryInOrder((decision as { peers: readonly NodeView[] }).peers, async (peer) => {
      offered.push(peer.id);
      return peer.id === 'c' ? `ran on ${peer.id}` : undefined; // d and a refuse: full by now
    });
    expect(offered).toEqual(['d', 'a', 'c']);
    expect(accepted).toEqual({ peer: expect.objectContaining({ id: 'c' }), result: 'ran on c' });
  });

  test('answers undefined when every peer refuses', async () => {
    expect(await tryInOrder(peers, async () => undefined)).toBeUndefined();
  });
});

describe("node policies asked of the store's index (what a compute node does)", () => {
  /** The peers a compute node would try, one reservation each, every one tried then excluded. */
  async function triedInTurn(name: string): Promise<string[]> {
    const store = new MemoryStateStore(() => NOW);
    for (const { inFlight: _, ...report } of [self, ...peers]) await store.heartbeat(report, TTL_MS);
    const policy = nodePolicy(name);
    const exclude = [self.id];
    for (;;) {
      const peer = await store.reserve(policy.peer!(exclude, context()));
      if (peer.kind === 'no-capacity') return exclude.slice(1);
      exclude.push(peer.nodeId);
    }
  }

  test.each([
    ['most-slots', ['b', 'c', 'd', 'a']],
    ['least-load', ['d', 'a', 'c', 'b']],
    ['single-entry', ['a', 'b', 'c', 'd']],
  ])('%s: the index gives the peers in the order the policy gives over a snapshot', async (name, order) => {
    expect(await triedInTurn(name)).toEqual(order);
  });

  test.each(BUILT_IN_NAMES.node)('%s: every peer once, never the node itself', async (name) => {
    expect((await triedInTurn(name)).sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
