import type { Selection } from '@strata/policy-engine';
import type { NodeReport, Reserved, StateStore } from '../../../common/state';
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

export const inOrder = (...ids: string[]): Selection => ({ kind: 'select', rule: 'in-order', candidates: ids.map((id) => ({ id, limit: 2 })) });

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
    await store.heartbeat(report('b'), TTL);
    await store.heartbeat(report('a', { role: 'storage', cpuBusy: 0.9, draining: true }), TTL);
    expect(await store.liveNodes()).toEqual([
      { ...report('a', { role: 'storage', cpuBusy: 0.9, draining: true }), inFlight: 0 },
      { ...report('b'), inFlight: 0 },
    ]);
  });

  test('a heartbeat refreshes the figures and keeps the in-flight count', async () => {
    await store.heartbeat(report('a'), TTL);
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
    expect(await store.reserve(inOrder('a'))).toEqual({ kind: 'no-capacity', reason: 'every candidate is full or gone' });
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

  test('reserve counts up to the limit, then answers no-capacity; release counts down', async () => {
    await store.heartbeat(report('a'), TTL);
    const first = (await store.reserve(inOrder('a'))) as Reserved;
    const second = (await store.reserve(inOrder('a'))) as Reserved;
    expect([first.nodeId, first.inFlight, second.inFlight]).toEqual(['a', 1, 2]);
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
    const rotate = (cursor: string): Selection => ({ kind: 'select', rule: 'rotate', cursor, candidates: ['a', 'b', 'c'].map((id) => ({ id, limit: 100 })) });
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) picks.push(((await store.reserve(rotate('x'))) as Reserved).nodeId);
    picks.push(((await store.reserve(rotate('y'))) as Reserved).nodeId);
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'a']);
  });

  test('fewest-in-flight picks the least busy of its sample', async () => {
    for (const id of ['a', 'b', 'c']) await store.heartbeat(report(id, { slotsTotal: 5 }), TTL * 10);
    await store.reserve(inOrder('a'));
    const r = (await store.reserve({ kind: 'select', rule: 'fewest-in-flight', sample: 2, candidates: ['a', 'b', 'c'].map((id) => ({ id, limit: 5 })) })) as Reserved;
    expect(r.nodeId).toBe('b');
  });

  test('an empty selection has no capacity', async () => {
    expect((await store.reserve({ kind: 'select', rule: 'in-order', candidates: [] })).kind).toBe('no-capacity');
  });
}
