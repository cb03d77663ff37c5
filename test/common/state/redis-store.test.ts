import type { Selection } from '@strata/policy-engine';
import fc from 'fast-check';
import {
  heartbeatWithStorage,
  MemoryStateStore,
  RedisStateStore,
  type Reservation,
  type Reserved,
  type StateStore,
} from '../../../common/state';
import { RELEASE } from '../../../common/state/redis-scripts';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';
import { arbitraryIndexedSelection, report, stateStoreContract } from './contract';

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

const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

const arbitraryHeartbeat = (ttl: fc.Arbitrary<number>) =>
  fc.record({
    op: fc.constant('heartbeat' as const),
    id: fc.constantFrom(...IDS),
    role: fc.constantFrom('compute' as const, 'compute' as const, 'compute' as const, 'storage' as const),
    draining: fc.integer({ min: 0, max: 9 }).map((x) => x < 2),
    slotsTotal: fc.integer({ min: 1, max: 6 }),
    slotsUsed: fc.integer({ min: 0, max: 6 }),
    load1: fc.double({ min: 0, max: 4, noNaN: true }),
    cores: fc.integer({ min: 1, max: 4 }),
    serviceMs: fc.option(fc.double({ min: 0.5, max: 500, noNaN: true }), { nil: undefined }),
    ttl,
  });

/** A tier-1 caller's place in the queue, or none (tier 2). */
const arbitraryPlace = fc.option(
  fc.record({
    id: fc.constantFrom('w1', 'w2', 'w3', 'w4'),
    since: fc.integer({ min: 0, max: 50 }),
    holdMs: fc.integer({ min: 50, max: 1000 }),
  }),
  { nil: undefined },
);

/** One step of a random history, applied to both stores alike. */
const arbitraryStep = fc.oneof(
  { weight: 3, arbitrary: arbitraryHeartbeat(fc.integer({ min: 50, max: 3000 })) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('reserve' as const),
      selection: arbitraryIndexedSelection(IDS),
      lease: fc.integer({ min: 50, max: 3000 }),
      place: arbitraryPlace,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('reserve' as const),
      selection: fc
        .record({
          rule: fc.constantFrom('in-order', 'rotate', 'fewest-in-flight'),
          order: fc.shuffledSubarray(IDS), // empty too: a strategy that found nothing
          limit: fc.integer({ min: 0, max: 4 }),
          sample: fc.integer({ min: 1, max: 6 }),
        })
        .map(
          ({ order, limit, ...s }) =>
            ({
              kind: 'select',
              cursor: 'rotate',
              ...s,
              candidates: order.map((id) => ({ id, limit })),
            }) as unknown as Selection,
        ),
      lease: fc.integer({ min: 50, max: 3000 }),
      place: arbitraryPlace,
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('release' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deregister' as const), id: fc.constantFrom(...IDS) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }) },
);

/** Runs the history on a store and answers everything it observed. */
async function replay(target: StateStore, steps: readonly Step[], advance: (ms: number) => void): Promise<unknown[]> {
  const seen: unknown[] = [];
  const held: Reserved[] = [];
  for (const step of steps) {
    switch (step.op) {
      case 'heartbeat': {
        const { id, role, draining, slotsTotal, slotsUsed, load1, cores, serviceMs, ttl } = step;
        // With the storage view in the reply, as a compute node sends it: the view Redis keeps must follow every change.
        const view = await heartbeatWithStorage(
          target,
          report(id, {
            role,
            draining,
            slotsTotal,
            slotsUsed,
            load1,
            cores,
            ...(serviceMs === undefined ? {} : { serviceMs }),
          }),
          ttl,
        );
        seen.push(view);
        break;
      }
      case 'reserve': {
        const r: Reservation = await target.reserve(step.selection, step.lease, step.place);
        if (r.kind === 'chosen') held.push(r);
        seen.push(r.kind === 'chosen' ? [r.nodeId, r.inFlight, r.address] : r);
        break;
      }
      case 'release':
        if (held.length > 0) await held[step.which % held.length].release();
        break;
      case 'deregister':
        await target.deregister(step.id);
        break;
      case 'advance':
        advance(step.ms);
        break;
    }
    seen.push(await target.liveNodes(), await target.storageNodes());
  }
  seen.push(await target.membership());
  return seen;
}

type Step = typeof arbitraryStep extends fc.Arbitrary<infer T> ? T : never;

describe('RedisStateStore on a real redis-server', () => {
  stateStoreContract(async () => {
    await store?.close();
    let now = 1_000;
    store = await RedisStateStore.connect({ url: server.url, keyPrefix: `contract-${++prefixes}`, now: () => now });
    return {
      store,
      advance: async (ms) => {
        now += ms;
      },
    };
  });

  test('agrees with the in-memory store on any history of heartbeats, decisions, releases, leases and expiries (Lua and TypeScript, index and scan)', async () => {
    // A fleet to start from, then anything.
    const history = fc.tuple(
      fc.array(arbitraryHeartbeat(fc.integer({ min: 1000, max: 10_000 })), { minLength: 3, maxLength: 8 }),
      fc.array(arbitraryStep, { minLength: 20, maxLength: 60 }),
    );
    await fc.assert(
      fc.asyncProperty(
        history.map(([fleet, steps]) => [...fleet, ...steps]),
        async (steps) => {
          let now = 1_000_000;
          const redis = await RedisStateStore.connect({
            url: server.url,
            keyPrefix: `agree-${++prefixes}`,
            now: () => now,
          });
          const memory = new MemoryStateStore(() => now);
          const fromRedis = await replay(redis, steps, (ms) => (now += ms));
          await redis.close();
          now = 1_000_000;
          const fromMemory = await replay(memory, steps, (ms) => (now += ms));
          expect(fromRedis).toEqual(fromMemory);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);

  test('agrees with the in-memory store on every indexed rule over a loaded fleet (counts near their limits, exclusions, ties)', async () => {
    const loaded = fc.record({
      fleet: fc.array(arbitraryHeartbeat(fc.constant(60_000)), { minLength: 1, maxLength: 10 }),
      load: fc.array(fc.constantFrom(...IDS), { maxLength: 30 }),
      decisions: fc.array(arbitraryIndexedSelection(IDS), { minLength: 1, maxLength: 8 }),
    });
    await fc.assert(
      fc.asyncProperty(loaded, async ({ fleet, load, decisions }) => {
        const steps: Step[] = [
          ...fleet,
          ...load.map(
            (id): Step => ({
              op: 'reserve',
              selection: { kind: 'select', rule: 'in-order', candidates: [{ id, limit: 6 }] },
              lease: 60_000,
              place: undefined,
            }),
          ),
          ...decisions.map((selection): Step => ({ op: 'reserve', selection, lease: 60_000, place: undefined })),
        ];
        const redis = await RedisStateStore.connect({
          url: server.url,
          keyPrefix: `loaded-${++prefixes}`,
          now: () => 1_000,
        });
        const fromRedis = await replay(redis, steps, () => undefined);
        await redis.close();
        expect(fromRedis).toEqual(await replay(new MemoryStateStore(() => 1_000), steps, () => undefined));
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  test("with Redis's own clock (no clock given), heartbeats and leases expire in real time", async () => {
    const real = await RedisStateStore.connect({ url: server.url, keyPrefix: `real-${++prefixes}` });
    await real.heartbeat(report('a'), 300);
    await real.heartbeat(report('b'), 60_000);
    await real.reserve({ kind: 'select', rule: 'in-order', candidates: [{ id: 'b', limit: 2 }] }, 200);
    expect((await real.liveNodes()).map((n) => [n.id, n.inFlight])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await real.liveNodes()).map((n) => [n.id, n.inFlight])).toEqual([['b', 0]]);
    await real.close();
  });

  test('recovers its scripts after the server loses them (SCRIPT FLUSH, as after a restart)', async () => {
    const fresh = await RedisStateStore.connect({ url: server.url, keyPrefix: `flush-${++prefixes}` });
    await fresh.heartbeat(report('a'), 60_000);
    await fresh.command(['SCRIPT', 'FLUSH']);
    expect((await fresh.liveNodes()).map((n) => n.id)).toEqual(['a']);
    await fresh.close();
  });

  test('keeps every key under one hash tag, so a cluster keeps them in one slot', async () => {
    const tagged = await RedisStateStore.connect({ url: server.url, keyPrefix: `tag-${++prefixes}` });
    await tagged.heartbeat(report('a', { serviceMs: 5 }), 60_000);
    await tagged.reserve({ kind: 'select', rule: 'round-robin', cursor: 'rr' });
    const keys = (await tagged.command(['KEYS', `*tag-${prefixes}*`])) as string[];
    expect(keys.length).toBeGreaterThan(8);
    for (const key of keys) expect(key.startsWith(`{tag-${prefixes}}:`)).toBe(true);
    await tagged.close();
  });

  test('a node record that does not parse is left out of liveNodes, not thrown on: the rest of the fleet is still seen', async () => {
    const fleet = await RedisStateStore.connect({ url: server.url, keyPrefix: `bad-${++prefixes}` });
    await fleet.heartbeat(report('a'), 60_000);
    await fleet.heartbeat(report('b', { functionServiceMs: { wordcount: 12 } }), 60_000);
    await fleet.heartbeat(report('c', { serviceMs: 5 }), 60_000);
    // What any client holding a write right could put there.
    await fleet.command(['HSET', `{bad-${prefixes}}:node:b`, 'functionServiceMs', '{not json']);
    await fleet.command(['HSET', `{bad-${prefixes}}:node:c`, 'serviceMs', 'NaN']);
    expect((await fleet.liveNodes()).map((n) => n.id)).toEqual(['a']);
    await fleet.command(['HSET', `{bad-${prefixes}}:node:b`, 'functionServiceMs', '{"wordcount":"slow"}']);
    expect((await fleet.liveNodes()).map((n) => n.id)).toEqual(['a']);
    await fleet.close();
  });

  test('a heartbeat whose storage view did not change does not carry it again; a change to a storage node does', async () => {
    const prefix = `view-${++prefixes}`;
    const node = await RedisStateStore.connect({ url: server.url, keyPrefix: prefix });
    const storage = await RedisStateStore.connect({ url: server.url, keyPrefix: prefix });
    // What the node's heartbeats get back from Redis, as sent.
    const client = (node as unknown as { client: { send(args: readonly string[]): Promise<unknown> } }).client;
    const replies: unknown[] = [];
    const send = client.send.bind(client);
    client.send = async (args) => {
      const reply = await send(args);
      replies.push(reply);
      return reply;
    };
    const view = () => replies.at(-1) as [string, string?];
    const ids = (nodes: readonly { id: string }[]) => nodes.map((n) => n.id);

    await storage.heartbeat(report('s1', { role: 'storage' }), 60_000);
    expect(ids(await node.heartbeatWithStorage(report('c1'), 60_000))).toEqual(['s1']);
    expect(view()).toHaveLength(2);
    // Nothing about the storage nodes changed: the version alone comes back, and the node keeps its view.
    for (let i = 0; i < 2; i++) {
      const again = await node.heartbeatWithStorage(report('c1', { load1: i }), 60_000);
      expect(view()).toHaveLength(1);
      expect(ids(again)).toEqual(['s1']);
    }
    await node.heartbeat(report('c2'), 60_000); // another compute node: not the storage view's business
    await node.heartbeatWithStorage(report('c1'), 60_000);
    expect(view()).toHaveLength(1);

    // A storage node's figures moved: the new view comes back, once.
    await storage.heartbeat(report('s1', { role: 'storage', load1: 3 }), 60_000);
    expect((await node.heartbeatWithStorage(report('c1'), 60_000)).map((n) => n.load1)).toEqual([3]);
    expect(view()).toHaveLength(2);
    await node.heartbeatWithStorage(report('c1'), 60_000);
    expect(view()).toHaveLength(1);
    // A storage node joins, another's count moves (a reservation on it), one leaves, one becomes a compute node.
    await storage.heartbeat(report('s2', { role: 'storage' }), 60_000);
    expect(ids(await node.heartbeatWithStorage(report('c1'), 60_000))).toEqual(['s1', 's2']);
    await node.reserve({ kind: 'select', rule: 'in-order', candidates: [{ id: 's2', limit: 1 }] });
    expect((await node.heartbeatWithStorage(report('c1'), 60_000)).map((n) => n.inFlight)).toEqual([0, 1]);
    await storage.deregister('s1');
    expect(ids(await node.heartbeatWithStorage(report('c1'), 60_000))).toEqual(['s2']);
    await storage.heartbeat(report('s2'), 60_000);
    expect(await node.heartbeatWithStorage(report('c1'), 60_000)).toEqual([]);
    expect(await node.storageNodes()).toEqual([]);
    await node.close();
    await storage.close();
  });

  test('a storage node changed by a writer that does not mark the view (an older script in a rolling deploy) shows within 3 s', async () => {
    const prefix = `stale-${++prefixes}`;
    let now = 1_000;
    const node = await RedisStateStore.connect({ url: server.url, keyPrefix: prefix, now: () => now });
    await node.heartbeat(report('s1', { role: 'storage', load1: 1 }), 60_000);
    expect((await node.heartbeatWithStorage(report('c1'), 60_000)).map((n) => n.load1)).toEqual([1]);
    // As the old heartbeat script wrote a record: the figures, and no word to the view.
    await node.command(['HSET', `{${prefix}}:node:s1`, 'load1', '5']);
    now += 2_000;
    expect((await node.heartbeatWithStorage(report('c1'), 60_000)).map((n) => n.load1)).toEqual([1]);
    now += 1_500; // the view is 3.5 s old: built anew
    expect((await node.heartbeatWithStorage(report('c1'), 60_000)).map((n) => n.load1)).toEqual([5]);
    expect((await node.storageNodes()).map((n) => n.load1)).toEqual([5]);
    await node.close();
  });

  test('after a failover to a replica with an older storage view, a view built under a version number the caller holds is still sent', async () => {
    const prefix = `failover-${++prefixes}`;
    let now = 1_000;
    const node = await RedisStateStore.connect({ url: server.url, keyPrefix: prefix, now: () => now });
    await node.heartbeat(report('s1', { role: 'storage', load1: 1 }), 60_000);
    expect((await node.heartbeatWithStorage(report('c1'), 60_000)).map((n) => n.load1)).toEqual([1]);
    // The promoted replica missed the last change: its counter is one behind, its view not built.
    const view = `{${prefix}}:storage-view`;
    const counter = Number(await node.command(['HGET', view, 'version']));
    await node.command(['DEL', view]);
    await node.command(['HSET', view, 'version', String(counter - 1)]);
    // Its own next change counts to the number the node holds, with other figures.
    now += 10;
    await node.heartbeat(report('s1', { role: 'storage', load1: 7 }), 60_000);
    expect(Number(await node.command(['HGET', view, 'version']))).toBe(counter);
    expect((await node.heartbeatWithStorage(report('c1'), 60_000)).map((n) => n.load1)).toEqual([7]);
    await node.close();
  });

  test("a node's index entries, if left wrong, are all written again by one of its heartbeats within a minute", async () => {
    const prefix = `reindex-${++prefixes}`;
    const store = await RedisStateStore.connect({ url: server.url, keyPrefix: prefix });
    const outstanding: Selection = { kind: 'select', rule: 'least-outstanding' };
    await store.heartbeat(report('a', { heartbeatAt: 0 }), 600_000);
    // As a script stopped half way might leave it: the node has room, and no index says so.
    for (const index of ['free', 'by-in-flight', 'by-delay', 'by-load', 'by-used', 'eligible'])
      await store.command(['ZREM', `{${prefix}}:${index}`, 'a']);
    expect((await store.reserve(outstanding)).kind).toBe('no-capacity');
    for (let at = 1_000; at <= 61_000; at += 1_000) await store.heartbeat(report('a', { heartbeatAt: at }), 600_000);
    const chosen = await store.reserve(outstanding);
    expect(chosen.kind === 'chosen' && chosen.nodeId).toBe('a');
    for (const index of ['free', 'by-in-flight', 'by-delay', 'by-load', 'by-used', 'eligible'])
      expect(await store.command(['ZSCORE', `{${prefix}}:${index}`, 'a'])).not.toBeNull();
    await store.close();
  });

  test('lease ids cannot be guessed: 128 random bits, not a counter', async () => {
    const leased = await RedisStateStore.connect({ url: server.url, keyPrefix: `lease-${++prefixes}` });
    await leased.heartbeat(report('a'), 60_000);
    for (let i = 0; i < 2; i++) await leased.reserve({ kind: 'select', rule: 'round-robin', cursor: 'rr' });
    const leases = (await leased.command(['ZRANGE', `{lease-${prefixes}}:leases`, '0', '-1'])) as string[];
    expect(leases).toHaveLength(2);
    for (const lease of leases) expect(lease).toMatch(/^[0-9a-f]{32}\|\d+\|a$/);
    expect(new Set(leases.map((l) => l.split('|')[0])).size).toBe(2);
    // Another client's release of the ids a counter would have given releases nothing.
    for (const guess of ['1|1|a', '2|1|a'])
      await leased.command(['EVALSHA', RELEASE.sha, '1', `{lease-${prefixes}}`, '', guess]);
    expect((await leased.liveNodes())[0].inFlight).toBe(2);
    await leased.close();
  });

  test('the placement map: a newer OSD map epoch wins, an older or the same one changes nothing, a reader gets the map only when its version moved', async () => {
    const prefix = `placement-${++prefixes}`;
    const [agent1, agent2, compute] = await Promise.all(
      [1, 2, 3].map(() => RedisStateStore.connect({ url: server.url, keyPrefix: prefix })),
    );
    expect(await compute.placement()).toBeUndefined();
    expect(await agent1.publishPlacement(10, 'map-10')).toBe(true);
    expect(await agent2.publishPlacement(10, 'map-10')).toBe(false); // two agents, one epoch: one version
    expect(await agent2.publishPlacement(9, 'map-9')).toBe(false); // a late agent's older epoch
    const first = await compute.placement();
    expect(first).toEqual({ version: expect.stringMatching(/^1@\d+$/), map: 'map-10' });
    expect(await compute.placement(first!.version)).toEqual({ version: first!.version }); // current: the version alone
    // The same epoch with other primaries (the manager's view caught up) replaces it; a newer epoch too.
    expect(await agent2.publishPlacement(10, 'map-10b')).toBe(true);
    expect(await agent1.publishPlacement(11, 'map-11')).toBe(true);
    expect(await compute.placement(first!.version)).toEqual({
      version: expect.stringMatching(/^3@\d+$/),
      map: 'map-11',
    });
    // Lost (a cache replaced, a flush): the agents' next publish of the same map puts it back.
    await compute.command(['DEL', `{${prefix}}:placement`]);
    expect(await agent1.publishPlacement(11, 'map-11')).toBe(true);
    expect((await compute.placement())?.map).toBe('map-11');
    // A failover to a copy that missed a publish counts the same number again, under another time.
    await compute.command(['HSET', `{${prefix}}:placement`, 'count', '0', 'epoch', '1']);
    const held = (await compute.placement())!.version;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await agent2.publishPlacement(12, 'map-12')).toBe(true);
    const after = await compute.placement(held);
    expect([after?.version === held, after?.map]).toEqual([false, 'map-12']);
    await Promise.all([agent1, agent2, compute].map((store) => store.close()));
  });

  test('fails fast, without queueing, when the server cannot be reached', async () => {
    await expect(RedisStateStore.connect({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 })).rejects.toThrow();
  });
});
