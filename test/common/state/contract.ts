import { INDEXED_RULES, type IndexedSelection, type Selection } from '@strata/policy-engine';
import fc from 'fast-check';
import { applyMembership, NO_ROOM, type NodeReport, type Reserved, type StateStore } from '../../../common/state';
import { NOW } from '../../support/nodes';

/** A store under test, and a way to let `ms` of its clock pass. */
export interface StoreFixture {
  readonly store: StateStore;
  readonly advance: (ms: number) => Promise<void>;
}

export function report(id: string, overrides: Partial<NodeReport> = {}): NodeReport {
  return {
    id,
    address: `10.0.0.1:${8000 + id.length}`,
    role: 'compute',
    slotsTotal: 2,
    slotsUsed: 0,
    cpuBusy: 0.25,
    memoryUsed: 0.5,
    load1: 0.5,
    load5: 0.25,
    load15: 0.125,
    cores: 2,
    heartbeatAt: NOW,
    draining: false,
    ...overrides,
  };
}

export const inOrder = (...ids: string[]): Selection => ({
  kind: 'select',
  rule: 'in-order',
  candidates: ids.map((id) => ({ id, limit: 2 })),
});
const indexed = (selection: { rule: IndexedSelection['rule'] } & Record<string, unknown>) =>
  ({ kind: 'select', ...selection }) as IndexedSelection;
const chosen = async (store: StateStore, selection: Selection) => {
  const r = await store.reserve(selection);
  return r.kind === 'chosen' ? r.nodeId : undefined;
};

/** Every indexed rule, with random draws and parameters. */
export const arbitraryIndexedSelection = (ids: readonly string[]) =>
  fc
    .record({
      // Every rule of the engine's table: a new rule is in the agreement test without a line here.
      rule: fc.constantFrom(...(Object.keys(INDEXED_RULES) as IndexedSelection['rule'][])),
      draws: fc.array(
        fc.integer({ min: 0, max: 999 }).map((k) => k / 1000),
        { minLength: 1, maxLength: 4 },
      ),
      quantile: fc.integer({ min: 0, max: 100 }).map((k) => k / 100),
      hash: fc.nat({ max: 0xffffffff }),
      stepSeed: fc.nat({ max: 0xffffffff }),
      exclude: fc.subarray([...ids], { maxLength: 3 }),
    })
    .map((s) => ({ kind: 'select', cursor: 'rr', ...s }) as unknown as IndexedSelection);

/**
 * The behaviour every StateStore must have; run against the in-memory and the Redis
 * store alike. `fixture` is called before each test and must give an empty store.
 */
export function stateStoreContract(fixture: () => Promise<StoreFixture>): void {
  let store: StateStore;
  let advance: (ms: number) => Promise<void>;
  const TTL = 400;

  beforeEach(async () => {
    ({ store, advance } = await fixture());
  });

  test('lists registered nodes, sorted by id, with their reported figures and zero in flight', async () => {
    await store.heartbeat(report('b', { serviceMs: 12.5, functionServiceMs: { wordcount: 30 } }), TTL);
    await store.heartbeat(report('a', { role: 'storage', cpuBusy: 0.9, draining: true }), TTL);
    expect(await store.liveNodes()).toEqual([
      { ...report('a', { role: 'storage', cpuBusy: 0.9, draining: true }), inFlight: 0 },
      { ...report('b', { serviceMs: 12.5, functionServiceMs: { wordcount: 30 } }), inFlight: 0 },
    ]);
  });

  test('a heartbeat refreshes the figures and keeps the in-flight count; a figure no longer reported is gone', async () => {
    await store.heartbeat(report('a', { serviceMs: 40 }), TTL);
    await store.reserve(inOrder('a'));
    await store.heartbeat(report('a', { load1: 3, slotsUsed: 1 }), TTL);
    expect(await store.liveNodes()).toEqual([{ ...report('a', { load1: 3, slotsUsed: 1 }), inFlight: 1 }]);
  });

  test('a node is gone once its heartbeat expires, and so are its counts', async () => {
    await store.heartbeat(report('a'), TTL);
    await store.heartbeat(report('b'), TTL * 10);
    await store.reserve(inOrder('a'));
    await advance(TTL + 100);
    expect((await store.liveNodes()).map((n) => n.id)).toEqual(['b']);
    expect(await store.reserve(inOrder('a'))).toEqual({
      kind: 'no-capacity',
      reason: 'every candidate is full or gone',
    });
    await store.heartbeat(report('a'), TTL);
    expect((await store.liveNodes()).find((n) => n.id === 'a')?.inFlight).toBe(0);
  });

  test('a heartbeat within the TTL keeps the node alive', async () => {
    await store.heartbeat(report('a'), TTL);
    await advance(TTL / 2);
    await store.heartbeat(report('a'), TTL);
    await advance(TTL / 2 + 50);
    expect((await store.liveNodes()).map((n) => n.id)).toEqual(['a']);
  });

  test('deregister removes a node at once', async () => {
    await store.heartbeat(report('a'), TTL);
    await store.deregister('a');
    expect(await store.liveNodes()).toEqual([]);
  });

  test('rejects a report or a TTL no store can keep, naming the field', async () => {
    await expect(store.heartbeat(report('has space'), TTL)).rejects.toThrow(
      'node report id must be 1 to 200 printable ASCII characters',
    );
    await expect(store.heartbeat(report('a', { load1: Number.NaN }), TTL)).rejects.toThrow(
      'node report load1 must be a finite number',
    );
    await expect(store.heartbeat(report('a', { serviceMs: -1 }), TTL)).rejects.toThrow(
      'node report serviceMs must be a number of at least 0',
    );
    await expect(store.heartbeat(report('a'), 0)).rejects.toThrow('ttlMs must be above 0');
    expect(await store.liveNodes()).toEqual([]);
  });

  test('reserve counts up to the limit, then answers no-capacity; release counts down', async () => {
    await store.heartbeat(report('a'), TTL);
    const first = (await store.reserve(inOrder('a'))) as Reserved;
    const second = (await store.reserve(inOrder('a'))) as Reserved;
    expect([first.nodeId, first.address, first.inFlight, second.inFlight]).toEqual(['a', report('a').address, 1, 2]);
    expect((await store.reserve(inOrder('a'))).kind).toBe('no-capacity');
    await first.release();
    expect((await store.liveNodes())[0].inFlight).toBe(1);
    expect((await store.reserve(inOrder('a'))).kind).toBe('chosen');
  });

  test('release acts once however often it is called, and never takes a count below zero', async () => {
    await store.heartbeat(report('a'), TTL);
    await store.heartbeat(report('b'), TTL);
    const ra = (await store.reserve(inOrder('a'))) as Reserved;
    const rb = (await store.reserve(inOrder('b'))) as Reserved;
    await Promise.all([ra.release(), ra.release()]);
    await ra.release();
    expect((await store.liveNodes()).map((n) => n.inFlight)).toEqual([0, 1]);
    await rb.release();
    expect((await store.liveNodes()).map((n) => n.inFlight)).toEqual([0, 0]);
  });

  test('a reservation is a lease: not released within it, its count is given back; a late release changes nothing', async () => {
    await store.heartbeat(report('a'), TTL * 100);
    const held = (await store.reserve(inOrder('a'), 300)) as Reserved;
    const other = (await store.reserve(inOrder('a'), 3000)) as Reserved;
    expect((await store.liveNodes())[0].inFlight).toBe(2);
    expect((await store.reserve(inOrder('a'))).kind).toBe('no-capacity');
    await advance(301);
    expect((await store.liveNodes())[0].inFlight).toBe(1);
    await held.release(); // the lease ran out: nothing left to give back
    expect((await store.liveNodes())[0].inFlight).toBe(1);
    await other.release();
    expect((await store.liveNodes())[0].inFlight).toBe(0);
  });

  test('a release from before a node re-registered does not touch its new counts', async () => {
    await store.heartbeat(report('a'), TTL);
    const old = (await store.reserve(inOrder('a'))) as Reserved;
    await store.deregister('a');
    await store.heartbeat(report('a'), TTL);
    await store.reserve(inOrder('a'));
    await old.release();
    expect((await store.liveNodes())[0].inFlight).toBe(1);
  });

  test('an expired node is never chosen, even when a stale snapshot offers it first', async () => {
    await store.heartbeat(report('old'), TTL);
    await store.heartbeat(report('new'), TTL * 10);
    await advance(TTL + 100);
    for (let i = 0; i < 4; i++) {
      const r = (await store.reserve(inOrder('old', 'new'))) as Reserved;
      expect(r.nodeId).toBe('new');
      await r.release();
    }
  });

  test('rotate advances one cursor per name across calls', async () => {
    for (const id of ['a', 'b', 'c']) await store.heartbeat(report(id), TTL * 10);
    const rotate = (cursor: string): Selection => ({
      kind: 'select',
      rule: 'rotate',
      cursor,
      candidates: ['a', 'b', 'c'].map((id) => ({ id, limit: 100 })),
    });
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) picks.push(((await store.reserve(rotate('x'))) as Reserved).nodeId);
    picks.push(((await store.reserve(rotate('y'))) as Reserved).nodeId);
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'a']);
    // An empty list (with a queue place, so that it reaches the store) moves no cursor.
    const empty: Selection = { kind: 'select', rule: 'rotate', cursor: 'y', candidates: [] };
    expect(await store.reserve(empty, undefined, { id: 'w1', since: 1, holdMs: 1000 })).toEqual(NO_ROOM);
    expect(((await store.reserve(rotate('y'))) as Reserved).nodeId).toBe('b');
  });

  test('fewest-in-flight picks the least busy of its sample', async () => {
    for (const id of ['a', 'b', 'c']) await store.heartbeat(report(id, { slotsTotal: 5 }), TTL * 10);
    await store.reserve(inOrder('a'));
    const r = (await store.reserve({
      kind: 'select',
      rule: 'fewest-in-flight',
      sample: 2,
      candidates: ['a', 'b', 'c'].map((id) => ({ id, limit: 5 })),
    })) as Reserved;
    expect(r.nodeId).toBe('b');
  });

  test('an empty selection has no capacity', async () => {
    expect((await store.reserve({ kind: 'select', rule: 'in-order', candidates: [] })).kind).toBe('no-capacity');
  });

  test('with places, waiters are served in the order they arrived; a place not asked for again within its hold is dropped; a reservation without one does not queue', async () => {
    await store.heartbeat(report('a', { slotsTotal: 1 }), TTL);
    const any = indexed({ rule: 'least-outstanding' });
    const place = (id: string, since: number) => ({ id, since, holdMs: 100 });
    const ask = async (id: string, since: number) => {
      const r = await store.reserve(any, undefined, place(id, since));
      return r.kind === 'chosen' ? r : r.ahead;
    };
    const first = (await store.reserve(any)) as Reserved; // the one slot, by a caller that does not queue
    expect([await ask('w1', 1), await ask('w2', 2), await ask('w3', 3)]).toEqual([0, 1, 2]);
    await first.release();
    expect([await ask('w3', 3), await ask('w2', 2)]).toEqual([2, 1]); // the freed slot is w1's
    const w1 = (await ask('w1', 1)) as Reserved;
    expect(w1.nodeId).toBe('a');
    await w1.release();
    expect(await ask('w3', 3)).toBe(1);
    const w2 = (await ask('w2', 2)) as Reserved;
    expect(w2.nodeId).toBe('a');
    expect(await store.reserve(any, undefined, place('w4', 4))).toMatchObject({
      kind: 'no-capacity',
      ahead: 1,
      reason: 'every node is full; 1 invocations queued ahead of this one',
    });
    await w2.release();
    await advance(60); // w3 asked 60 ms ago, w4 now: w3 is still ahead
    expect(await ask('w4', 4)).toBe(1);
    await advance(60); // w3's place has run out (its dispatcher stopped asking)
    expect(((await ask('w4', 4)) as Reserved).nodeId).toBe('a');
    await expect(store.reserve(any, undefined, place('bad id', 5))).rejects.toThrow(
      'queue place id must be 1 to 200 printable ASCII characters, got "bad id"',
    );
  });

  test('places that ran out all go before the waiters ahead are counted, however many ran out at once', async () => {
    await store.heartbeat(report('a', { slotsTotal: 1 }), TTL);
    const any = indexed({ rule: 'least-outstanding' });
    const held = (await store.reserve(any)) as Reserved;
    // 250 waiters (more than one sweep's batch of 100) queue, then give up at once: no one asks again.
    for (let n = 0; n < 250; n++) await store.reserve(any, undefined, { id: `w${n}`, since: n, holdMs: 100 });
    await advance(200);
    await held.release();
    const next = await store.reserve(any, undefined, { id: 'late', since: 1000, holdMs: 100 });
    expect(next.kind).toBe('chosen');
  });

  test('an empty candidate list with a place queues while every node is full, and leaves the queue once a slot is free', async () => {
    await store.heartbeat(report('a', { slotsTotal: 1 }), TTL);
    const any = indexed({ rule: 'least-outstanding' });
    const empty = { kind: 'select', rule: 'in-order', candidates: [] } as const;
    const held = (await store.reserve(any)) as Reserved;
    expect(await store.reserve(empty, undefined, { id: 'w1', since: 1, holdMs: 1000 })).toMatchObject({ ahead: 0 });
    await held.release();
    expect(await store.reserve(any, undefined, { id: 'w2', since: 2, holdMs: 1000 })).toMatchObject({ ahead: 1 });
    // w1's turn, with nothing to offer while a slot is free: its place goes, and w2 is served.
    expect(await store.reserve(empty, undefined, { id: 'w1', since: 1, holdMs: 1000 })).toEqual(NO_ROOM);
    expect((await store.reserve(any, undefined, { id: 'w2', since: 2, holdMs: 1000 })).kind).toBe('chosen');
  });

  test('the first waiter asks the rule though no slot is free: a rule may place past the slots (a node that queues, the AutoNDP baseline)', async () => {
    await store.heartbeat(report('a', { slotsTotal: 1 }), TTL);
    const pastTheSlots = inOrder('a'); // a limit of 2 on a node of 1 slot
    expect((await store.reserve(pastTheSlots)).kind).toBe('chosen');
    const second = await store.reserve(pastTheSlots, undefined, { id: 'w1', since: 1, holdMs: 1000 });
    expect([second.kind, (second as Reserved).inFlight]).toEqual(['chosen', 2]);
    expect(await store.reserve(pastTheSlots, undefined, { id: 'w2', since: 2, holdMs: 1000 })).toMatchObject({
      ahead: 0,
    });
  });

  test('a waiter whose turn it is but whom nothing fits waits without holding back the one behind it', async () => {
    await store.heartbeat(report('a', { slotsTotal: 1 }), TTL);
    const held = (await store.reserve(indexed({ rule: 'least-outstanding' }))) as Reserved;
    const notA = indexed({ rule: 'least-outstanding', exclude: ['a'] });
    expect(await store.reserve(notA, undefined, { id: 'w1', since: 1, holdMs: 1000 })).toMatchObject({ ahead: 0 });
    await held.release();
    expect(await store.reserve(notA, undefined, { id: 'w1', since: 1, holdMs: 1000 })).toEqual(NO_ROOM);
    const w2 = await store.reserve(indexed({ rule: 'least-outstanding' }), undefined, {
      id: 'w2',
      since: 2,
      holdMs: 1000,
    });
    expect(w2.kind).toBe('chosen');
  });

  describe('membership', () => {
    test('lists who is in the fleet, and answers only the version while nothing changed', async () => {
      await store.heartbeat(report('b', { role: 'storage' }), TTL);
      await store.heartbeat(report('a', { slotsTotal: 4 }), TTL);
      const first = await store.membership();
      expect(first.members).toEqual([
        { id: 'a', address: report('a').address, role: 'compute', slotsTotal: 4, draining: false },
        { id: 'b', address: report('b').address, role: 'storage', slotsTotal: 2, draining: false },
      ]);
      await store.heartbeat(report('a', { slotsTotal: 4, load1: 3, slotsUsed: 2, serviceMs: 9 }), TTL); // figures, not membership
      await store.reserve(inOrder('a'));
      expect(await store.membership(first.version)).toEqual({ version: first.version });
    });

    test('a new version when a node joins, drains, leaves or expires', async () => {
      await store.heartbeat(report('a'), TTL);
      const first = await store.membership();
      const versions = [first.version];
      let members = first.members!;
      const next = async () => {
        const m = await store.membership(versions.at(-1));
        members = applyMembership(members, m)!;
        expect(members).toBeDefined();
        versions.push(m.version);
        return members.map((n) => `${n.id}${n.draining ? ' draining' : ''}`);
      };
      await store.heartbeat(report('b'), TTL * 10);
      expect(await next()).toEqual(['a', 'b']);
      await store.heartbeat(report('b', { draining: true }), TTL * 10);
      expect(await next()).toEqual(['a', 'b draining']);
      await advance(TTL + 1);
      expect(await next()).toEqual(['b draining']);
      await store.deregister('b');
      expect(await next()).toEqual([]);
      expect(new Set(versions).size).toBe(versions.length);
    });

    test('a reader that keeps up gets only the changes since its version, oldest first', async () => {
      await store.heartbeat(report('a'), TTL * 10);
      await store.heartbeat(report('c'), TTL * 10);
      const known = await store.membership();
      await store.heartbeat(report('b', { role: 'storage' }), TTL * 10);
      await store.heartbeat(report('a', { draining: true }), TTL * 10);
      await store.deregister('c');
      const update = await store.membership(known.version);
      expect(update.members).toBeUndefined();
      expect(update.changes).toEqual([
        { id: 'b', member: { id: 'b', address: report('b').address, role: 'storage', slotsTotal: 2, draining: false } },
        { id: 'a', member: { id: 'a', address: report('a').address, role: 'compute', slotsTotal: 2, draining: true } },
        { id: 'c' },
      ]);
      expect(update.version).toBe(known.version + 3);
      expect(applyMembership(known.members!, update)).toEqual((await store.membership()).members);
    });

    test('a reader further behind than the log, or with a version the store never had, gets every member', async () => {
      await store.heartbeat(report('a'), TTL * 10);
      const known = await store.membership();
      for (let i = 1; i <= 1025; i++) await store.heartbeat(report('a', { slotsTotal: 2 + (i % 2) }), TTL * 10);
      const behind = await store.membership(known.version);
      expect(behind.changes).toBeUndefined();
      expect(behind.members?.map((m) => m.slotsTotal)).toEqual([3]);
      expect((await store.membership(behind.version + 5)).members).toHaveLength(1);
    });
  });

  test('storageNodes lists the live storage nodes only, sorted by id, with their figures', async () => {
    await store.heartbeat(report('s2', { role: 'storage', cpuBusy: 0.7 }), TTL);
    await store.heartbeat(report('c1'), TTL);
    await store.heartbeat(report('s1', { role: 'storage', draining: true }), TTL * 10);
    await store.heartbeat(report('s3', { role: 'storage' }), TTL * 10);
    await store.heartbeat(report('s3'), TTL * 10); // now a compute node
    expect(await store.storageNodes()).toEqual([
      { ...report('s1', { role: 'storage', draining: true }), inFlight: 0 },
      { ...report('s2', { role: 'storage', cpuBusy: 0.7 }), inFlight: 0 },
    ]);
    await advance(TTL + 1);
    await store.deregister('s1');
    expect(await store.storageNodes()).toEqual([]);
  });

  describe('indexed selections', () => {
    beforeEach(async () => {
      // a: 1 slot; b: slow; c: fast, loaded; d: draining; e: storage; f: expires.
      await store.heartbeat(report('a', { slotsTotal: 1, serviceMs: 10, load1: 4 }), TTL * 10);
      await store.heartbeat(report('b', { slotsTotal: 4, serviceMs: 400, load1: 0.2 }), TTL * 10);
      await store.heartbeat(report('c', { slotsTotal: 4, serviceMs: 50, load1: 3, slotsUsed: 3 }), TTL * 10);
      await store.heartbeat(report('d', { slotsTotal: 8, draining: true }), TTL * 10);
      await store.heartbeat(report('e', { slotsTotal: 8, role: 'storage' }), TTL * 10);
      await store.heartbeat(report('f', { slotsTotal: 8, load1: 0 }), TTL);
      await advance(TTL + 1);
    });

    test('least-outstanding, least-expected-delay, least-load and most-free-slots rank by their measure, over nodes with room', async () => {
      expect(await chosen(store, indexed({ rule: 'least-outstanding' }))).toBe('a'); // all idle: the lowest id
      expect(await chosen(store, indexed({ rule: 'least-outstanding' }))).toBe('b'); // a is full now
      // delays: b (1 + 1) x 400 / 4 = 200, c (0 + 1) x 50 / 4 = 12.5
      expect(await chosen(store, indexed({ rule: 'least-expected-delay' }))).toBe('c');
      expect(await chosen(store, indexed({ rule: 'least-load' }))).toBe('b');
      // free slots: b 4 - 2 = 2, c 4 - max(3, 1) = 1
      expect(await chosen(store, indexed({ rule: 'most-slots' }))).toBe('b');
    });

    test('round-robin takes the nodes in id order, skipping full ones', async () => {
      const picks: (string | undefined)[] = [];
      for (let i = 0; i < 5; i++) picks.push(await chosen(store, indexed({ rule: 'round-robin', cursor: 'rr' })));
      expect(picks).toEqual(['a', 'b', 'c', 'b', 'b']); // a has one slot: the 4th starts at a, full, and takes the next
    });

    test('exclude takes a node out as if it were not there', async () => {
      expect(await chosen(store, indexed({ rule: 'least-expected-delay', exclude: ['c', 'zz'] }))).toBe('a');
      expect(await chosen(store, indexed({ rule: 'single-entry', exclude: ['a'] }))).toBe('b');
      expect(
        await chosen(store, indexed({ rule: 'power-of-two', draws: [0, 0.99], exclude: ['b', 'c'] })),
      ).toBeUndefined(); // only a, full
    });

    test('power-of-two draws nodes with room by rank and takes the one with fewer in flight', async () => {
      await store.reserve(inOrder('b'));
      // F = a, b, c: 0.5 draws b (1 in flight), 0.9 draws c (0)
      expect(await chosen(store, indexed({ rule: 'power-of-two', draws: [0.5, 0.9] }))).toBe('c');
      expect(await chosen(store, indexed({ rule: 'power-of-two', draws: [0.9, 0.5] }))).toBe('c'); // both at 1: the first drawn
    });

    test('prequal takes the fastest cold probe, or the least busy when all are hot', async () => {
      expect(await chosen(store, indexed({ rule: 'prequal', draws: [0.4, 0.9], quantile: 0.5 }))).toBe('c'); // both cold: c is faster than b
      await store.reserve(inOrder('c'));
      // c has 2 in flight, b 0: with the median at 0, c is hot
      expect(await chosen(store, indexed({ rule: 'prequal', draws: [0.9, 0.4], quantile: 0.5 }))).toBe('b');
    });

    test('a node with no history is ranked at the fleet median of service times, not penalised', async () => {
      await store.heartbeat(report('g', { slotsTotal: 4 }), TTL * 10); // median of a, b, c: 50 (like c)
      await store.reserve(inOrder('c'));
      // c: 2 x 50 / 4 = 25; g: 1 x 50 / 4 = 12.5; a: 1 x 10 / 1 = 10
      expect(await chosen(store, indexed({ rule: 'least-expected-delay' }))).toBe('a');
      expect(await chosen(store, indexed({ rule: 'least-expected-delay' }))).toBe('g');
    });

    test('single entry takes the first node whatever it carries', async () => {
      for (let i = 0; i < 3; i++) expect(await chosen(store, indexed({ rule: 'single-entry' }))).toBe('a');
    });

    test('never chooses an expired, draining, storage or full node, whatever the rule', async () => {
      await fc.assert(
        fc.asyncProperty(
          arbitraryIndexedSelection(['a', 'b', 'c', 'd', 'e', 'f']),
          fc.boolean(),
          async (selection, keep) => {
            const r = await store.reserve(selection);
            if (r.kind === 'chosen') {
              expect(['a', 'b', 'c']).toContain(r.nodeId);
              if (selection.rule !== 'single-entry') expect(r.inFlight).toBeLessThanOrEqual(r.nodeId === 'a' ? 1 : 4);
              if (!keep || selection.rule === 'single-entry') await r.release(); // kept ones fill the nodes up
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}
