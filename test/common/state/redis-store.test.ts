import fc from 'fast-check';
import type { Selection } from '@strata/policy-engine';
import { MemoryStateStore, RedisStateStore, type Reservation } from '../../../common/state';
import { startRedisServer, type RedisServer } from '../../../local/redis-server';
import { report, stateStoreContract } from './contract';

let server: RedisServer;
let store: RedisStateStore;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await store?.close();
  await server?.stop();
});

describe('RedisStateStore on a real redis-server', () => {
  stateStoreContract(async () => {
    await store?.close();
    store = await RedisStateStore.connect({ url: server.url, keyPrefix: `contract-${++prefixes}` });
    return { store, advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };
  });

  test('makes the same choice as the in-memory store for any selection and counts (Lua and TypeScript agree)', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const scenario = fc.record({
      rule: fc.constantFrom('in-order' as const, 'rotate' as const, 'fewest-in-flight' as const),
      order: fc.shuffledSubarray(ids, { minLength: 1 }),
      limits: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 5 }),
      sample: fc.integer({ min: 1, max: 5 }),
      live: fc.subarray(ids),
      reservations: fc.array(fc.constantFrom(...ids), { maxLength: 10 }),
      decisions: fc.integer({ min: 1, max: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const redis = await RedisStateStore.connect({ url: server.url, keyPrefix: `agree-${++prefixes}` });
        const memory = new MemoryStateStore();
        const picks: string[][] = [[], []];
        for (const [i, target] of [redis, memory].entries()) {
          for (const id of s.live) await target.heartbeat(report(id, { slotsTotal: 3 }), 60_000);
          for (const id of s.reservations) await target.reserve({ kind: 'select', rule: 'in-order', candidates: [{ id, limit: 3 }] });
          const selection = {
            kind: 'select',
            rule: s.rule,
            cursor: 'agree',
            sample: s.sample,
            candidates: s.order.map((id) => ({ id, limit: s.limits[ids.indexOf(id)] })),
          } as Selection;
          for (let d = 0; d < s.decisions; d++) picks[i].push(outcome(await target.reserve(selection)));
        }
        await redis.close();
        expect(picks[0]).toEqual(picks[1]);
      }),
      { numRuns: 60 },
    );
  });

  test('recovers its scripts after the server loses them (SCRIPT FLUSH, as after a restart)', async () => {
    const fresh = await RedisStateStore.connect({ url: server.url, keyPrefix: `flush-${++prefixes}` });
    await fresh.heartbeat(report('a'), 60_000);
    await fresh.command(['SCRIPT', 'FLUSH']);
    expect((await fresh.liveNodes()).map((n) => n.id)).toEqual(['a']);
    await fresh.close();
  });

  test('fails fast, without queueing, when the server cannot be reached', async () => {
    await expect(RedisStateStore.connect({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 })).rejects.toThrow();
  });
});

function outcome(reservation: Reservation): string {
  return reservation.kind === 'chosen' ? `${reservation.nodeId}:${reservation.inFlight}` : 'none';
}
