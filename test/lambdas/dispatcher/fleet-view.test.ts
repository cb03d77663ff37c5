import { MemoryStateStore, type StateStore } from '../../../common/state';
import { FleetView } from '../../../lambdas/dispatcher/fleet-view';
import { report } from '../../common/state/contract';

// A dispatcher's view of the fleet, read as membership (for a strategy over the store's
// index): after a change it applies the changes to the list it holds, making a view for
// each member that changed and none for the others, so a change costs the Lambda
// O(changes), not a rebuild of the whole list.

const id = (i: number) => `n${String(i).padStart(4, '0')}`;

describe('FleetView over the membership', () => {
  test('GIVEN a fleet of 300 WHEN one node joins, one leaves and one drains THEN only those views are new, and the list is the store’s', async () => {
    const store = new MemoryStateStore();
    for (let i = 0; i < 300; i++) await store.heartbeat(report(id(i)), 60_000);
    let now = 1_000;
    const reads: (number | undefined)[] = [];
    const view = new FleetView({
      connect: async (): Promise<StateStore> => ({
        heartbeat: (r, ttl) => store.heartbeat(r, ttl),
        deregister: (nodeId) => store.deregister(nodeId),
        liveNodes: () => store.liveNodes(),
        storageNodes: () => store.storageNodes(),
        membership: (known) => {
          reads.push(known);
          return store.membership(known);
        },
        reserve: (selection, leaseMs) => store.reserve(selection, leaseMs),
        close: () => store.close(),
      }),
      reads: () => 'membership',
      now: () => now,
    });
    const first = [...(await view.liveNodes())];
    expect(first.map((n) => n.id)).toEqual(Array.from({ length: 300 }, (_, i) => id(i)));

    await store.heartbeat(report('n0150x'), 60_000); // joins between n0150 and n0151
    await store.deregister(id(7));
    await store.heartbeat(report(id(299), { draining: true }), 60_000);
    now += 1_500;
    const second = await view.liveNodes();

    const members = (await store.membership()).members!;
    expect(second.map((n) => [n.id, n.draining])).toEqual(members.map((m) => [m.id, m.draining]));
    expect(reads).toEqual([undefined, expect.any(Number)]); // the second read asked for the changes since its version
    const before = new Map(first.map((n) => [n.id, n]));
    const changed = second.filter((n) => before.get(n.id) !== n).map((n) => n.id);
    expect(changed).toEqual(['n0150x', id(299)]);
  });
});
