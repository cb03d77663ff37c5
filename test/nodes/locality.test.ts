import { type NodeView, offloadPolicy } from '@strata/policy-engine';
import {
  CephLocator,
  locatorFromFlag,
  type PlacementMap,
  PublishedLocator,
  primaryHolders,
} from '../../nodes/compute/locality';
import { pgSeed } from '../../nodes/compute/placement';
import { actingPrimariesOf, PlacementPublisher, placementMapOf } from '../../nodes/storage/placement';

// Tier 3 by locality: the stage goes to the storage host holding the object's primary
// copy (RGW's head object's primary OSD, from Ceph's placement), else to any storage host
// the thresholds allow. The ceph CLI is played here with answers in its JSON format.
const storageNode = (id: string, ip: string, cpuBusy: number): NodeView => ({
  id,
  address: `${ip}:7000`,
  role: 'storage',
  slotsTotal: 2,
  slotsUsed: 0,
  inFlight: 0,
  cpuBusy,
  memoryUsed: 0.3,
  load1: cpuBusy,
  load5: 0.1,
  load15: 0.1,
  cores: 1,
  heartbeatAt: Date.now(),
  draining: false,
});
const osdDump = JSON.stringify({
  osds: [0, 1, 2].map((osd) => ({
    osd,
    up: 1,
    in: 1,
    public_addrs: {
      addrvec: [
        { type: 'v2', addr: `10.0.0.${osd + 1}:6802`, nonce: 7 },
        { type: 'v1', addr: `10.0.0.${osd + 1}:6803`, nonce: 7 },
      ],
    },
    public_addr: `10.0.0.${osd + 1}:6803/7`,
  })),
});
const asked: string[][] = [];
const locator = new CephLocator({
  bucketMarker: '3f2a.4137.1',
  ceph: async (args) => {
    asked.push([...args]);
    if (args[0] === 'osd' && args[1] === 'dump') return osdDump;
    // The primary of this object is osd.1, on 10.0.0.2.
    return JSON.stringify({
      pool: args[2],
      objname: args[3],
      pgid: '7.1a',
      up: [1, 2, 0],
      up_primary: 1,
      acting: [1, 2, 0],
      acting_primary: 1,
    });
  },
});
const policy = offloadPolicy('thresholds', { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 });
const invocation = { functionName: 'wordcount', objectKey: 'corpus/large.txt', hops: 0 };
const ctx = { now: Date.now(), random: Math.random, heartbeatTtlMs: 3_000 };

test("the primary's host is found from the placement, without asking the storage hosts", async () => {
  const storage = [
    storageNode('s1', '10.0.0.1', 0.1),
    storageNode('s2', '10.0.0.2', 0.5),
    storageNode('s3', '10.0.0.3', 0.2),
  ];
  expect(await primaryHolders(locator, storage, 'corpus/large.txt')).toEqual(new Set(['s2']));
  expect(asked).toContainEqual(['osd', 'map', 'default.rgw.buckets.data', '3f2a.4137.1_corpus/large.txt']);
});

test("the stage goes to the primary's host while its thresholds allow it, though another host is less busy", async () => {
  const storage = [
    storageNode('s1', '10.0.0.1', 0.1),
    storageNode('s2', '10.0.0.2', 0.5),
    storageNode('s3', '10.0.0.3', 0.2),
  ];
  const holders = await primaryHolders(locator, storage, invocation.objectKey);
  expect(policy(storage, invocation, { ...ctx, now: Date.now() }, holders)).toMatchObject({
    kind: 'offload',
    node: { id: 's2' },
  });
  // Without the placement: the least busy host.
  expect(policy(storage, invocation, { ...ctx, now: Date.now() })).toMatchObject({
    kind: 'offload',
    node: { id: 's1' },
  });
});

test("the primary's host over its thresholds: any host the thresholds allow", async () => {
  const storage = [
    storageNode('s1', '10.0.0.1', 0.3),
    storageNode('s2', '10.0.0.2', 0.95),
    storageNode('s3', '10.0.0.3', 0.2),
  ];
  const holders = await primaryHolders(locator, storage, invocation.objectKey);
  expect(policy(storage, invocation, { ...ctx, now: Date.now() }, holders)).toMatchObject({
    kind: 'offload',
    node: { id: 's3' },
  });
});

test('a placement that cannot be read (the CLI fails) falls back to any host', async () => {
  const broken = new CephLocator({ bucketMarker: 'm', ceph: async () => Promise.reject(new Error('no monitor')) });
  expect(await primaryHolders(broken, [storageNode('s1', '10.0.0.1', 0.1)], 'k')).toBeUndefined();
});

describe('the cache: a primary is kept while the OSD map is the same', () => {
  // A ceph CLI whose OSD map is at `epoch`, with osd.1 (10.0.0.2) primary of every object.
  function cli() {
    const state = { epoch: 7, asked: [] as string[][], failDump: false };
    const ceph = async (args: readonly string[]) => {
      state.asked.push([...args]);
      if (args[1] === 'dump') {
        if (state.failDump) throw new Error('no monitor');
        return JSON.stringify({ ...JSON.parse(osdDump), epoch: state.epoch });
      }
      return JSON.stringify({ epoch: state.epoch, objname: args[3], acting_primary: 1 });
    };
    return { state, ceph };
  }
  const count = (asked: string[][], what: string) => asked.filter((args) => args[1] === what).length;

  test('past the ttl the map is read again, and an object is not asked for again while its epoch holds', async () => {
    const { state, ceph } = cli();
    let now = 0;
    const cached = new CephLocator({ bucketMarker: 'm', ceph, ttlMs: 10_000, now: () => now });
    expect(await cached.primaryHost('a')).toBe('10.0.0.2');
    now = 25_000;
    expect(await cached.primaryHost('a')).toBe('10.0.0.2');
    await new Promise((resolve) => setImmediate(resolve)); // the background read of the map
    expect(count(state.asked, 'dump')).toBe(2);
    expect(count(state.asked, 'map')).toBe(1);
  });

  test('a new epoch makes each object be asked for again', async () => {
    const { state, ceph } = cli();
    let now = 0;
    const cached = new CephLocator({ bucketMarker: 'm', ceph, ttlMs: 10_000, now: () => now });
    await cached.primaryHost('a');
    state.epoch = 8;
    now = 25_000;
    await cached.primaryHost('a'); // answers from the epoch-7 map while epoch 8's is read
    await new Promise((resolve) => setImmediate(resolve));
    await cached.primaryHost('a');
    expect(count(state.asked, 'map')).toBe(2);
  });

  test('a failed read of the map keeps the last one, and is tried again a ttl later', async () => {
    const { state, ceph } = cli();
    let now = 0;
    const cached = new CephLocator({ bucketMarker: 'm', ceph, ttlMs: 10_000, now: () => now });
    await cached.primaryHost('a');
    state.failDump = true;
    now = 25_000;
    expect(await cached.primaryHost('a')).toBe('10.0.0.2');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await cached.primaryHost('a')).toBe('10.0.0.2'); // within the ttl of the failure: no new read
    expect(count(state.asked, 'dump')).toBe(2);
  });
});

describe('the placement map the storage tier publishes, and the locator that reads it', () => {
  // The data pool 7 with 8 PGs: PG seed s's primary is osd.(s % 3), on 10.0.0.(s % 3 + 1).
  const pgsBrief = (primaryOf: (seed: number) => number) =>
    JSON.stringify({
      pg_ready: true,
      pg_stats: Array.from({ length: 8 }, (_, seed) => ({
        pgid: `7.${seed.toString(16)}`,
        state: 'active+clean',
        acting_primary: primaryOf(seed),
      })).concat([{ pgid: '1.0', state: 'active+clean', acting_primary: 2 }]), // another pool's PG
    });
  const dumpAt = (epoch: number) =>
    JSON.stringify({
      ...JSON.parse(osdDump),
      epoch,
      pools: [
        { pool: 1, pool_name: '.mgr', pg_num: 1 },
        { pool: 7, pool_name: 'default.rgw.buckets.data', pg_num: 8 },
      ],
    });

  test("the map is each PG's primary's host, for the data pool alone, with the pool's id, pg_num and the bucket's marker", () => {
    const { epoch, map } = placementMapOf(
      dumpAt(12),
      pgsBrief((seed) => seed % 3),
      'default.rgw.buckets.data',
      'mk',
    );
    expect(epoch).toBe(12);
    expect(map).toEqual({
      poolId: 7,
      pgNum: 8,
      bucketMarker: 'mk',
      hosts: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2'],
    });
    // Before Pacific pgs_brief was a bare array; a PG with no primary is unknown ('').
    expect(actingPrimariesOf(JSON.stringify([{ pgid: '7.3', acting_primary: -1 }]), 7).size).toBe(0);
    expect(() =>
      placementMapOf(
        dumpAt(1),
        pgsBrief(() => 0),
        'no-such-pool',
        'mk',
      ),
    ).toThrow(/no-such-pool/);
    // A pool that hashes names with the linux hash (1): the PGs computed here would be wrong, so no map.
    const linux = JSON.stringify({
      ...JSON.parse(dumpAt(1)),
      pools: [{ pool: 7, pool_name: 'p', pg_num: 8, object_hash: 1 }],
    });
    expect(() =>
      placementMapOf(
        linux,
        pgsBrief(() => 0),
        'p',
        'mk',
      ),
    ).toThrow(/not rjenkins/);
  });

  test('the publisher reads the PGs only when the epoch moved (and once more after, for a late manager), and offers the map it has each tick (the store keeps it, or puts it back if lost)', async () => {
    let epoch = 5;
    const asked: string[] = [];
    const published: number[] = [];
    const publisher = new PlacementPublisher({
      ceph: async (args) => {
        asked.push(args.join(' '));
        return args[0] === 'osd' ? dumpAt(epoch) : pgsBrief((seed) => seed % 3);
      },
      bucketMarker: async () => 'mk',
      publish: async (at) => {
        published.push(at);
        return true;
      },
    });
    for (let tick = 0; tick < 4; tick++) await publisher.tick();
    epoch = 6;
    for (let tick = 0; tick < 3; tick++) await publisher.tick();
    expect(asked.filter((command) => command === 'osd dump').length).toBe(7);
    expect(asked.filter((command) => command === 'pg dump pgs_brief').length).toBe(4);
    expect(published).toEqual([5, 5, 5, 5, 6, 6, 6]);
  });

  test('after a move the publisher reads the PGs each tick until two reads agree and every PG has a primary: a manager that trails the epoch by several reports (or still peers) is followed', async () => {
    let epoch = 5;
    // What the manager reports at each read of the PGs, in turn: the old primaries twice after
    // the move, a PG with none (peering), then the new primaries, which stay.
    const reports = [
      (seed: number) => seed % 3,
      (seed: number) => seed % 3,
      (seed: number) => seed % 3,
      (seed: number) => (seed === 0 ? -1 : (seed + 1) % 3),
      (seed: number) => (seed + 1) % 3,
    ];
    let reads = 0;
    const maps: string[] = [];
    const publisher = new PlacementPublisher({
      ceph: async (args) => {
        if (args[0] === 'osd') return dumpAt(epoch);
        return pgsBrief(reports[Math.min(reads++, reports.length - 1)]);
      },
      bucketMarker: async () => 'mk',
      publish: async (_, map) => {
        maps.push(map);
        return true;
      },
    });
    await publisher.tick(); // first read
    await publisher.tick(); // the same: settled
    epoch = 6;
    for (let tick = 0; tick < 6; tick++) await publisher.tick();
    const firstHost = (map: string) => (JSON.parse(map) as PlacementMap).hosts[0];
    // Two reads before the move; the move's tick reads the old primaries again, the next sees
    // PG 0 with none (''), then the new primaries, read once more to see them agree; then no read.
    expect(reads).toBe(6);
    expect(maps.map(firstHost)).toEqual([
      '10.0.0.1',
      '10.0.0.1',
      '10.0.0.1',
      '',
      '10.0.0.2',
      '10.0.0.2',
      '10.0.0.2',
      '10.0.0.2',
    ]);
  });

  /** A store's placement: the versioned map, read as RedisStateStore.placement answers. */
  function store(map: PlacementMap) {
    const state = { version: 1, map: JSON.stringify(map), reads: 0, sent: 0 };
    const read = async (held: string) => {
      state.reads++;
      if (held === String(state.version)) return { version: held };
      state.sent++;
      return { version: String(state.version), map: state.map };
    };
    return { state, read };
  }
  const eight = (host: (seed: number) => string): PlacementMap => ({
    poolId: 7,
    pgNum: 8,
    bucketMarker: 'mk',
    hosts: Array.from({ length: 8 }, (_, seed) => host(seed)),
  });

  test("the locator computes the object's PG and answers its primary's host from the map: no ceph CLI", async () => {
    const { read } = store(eight((seed) => `10.0.0.${seed + 1}`));
    const locator = new PublishedLocator({ read });
    const seed = pgSeed({ poolId: 7, pgNum: 8 }, 'mk_corpus/large.txt');
    expect(await locator.primaryHost('corpus/large.txt')).toBe(`10.0.0.${seed + 1}`);
    const storage = [storageNode('s1', `10.0.0.${seed + 1}`, 0.5), storageNode('s2', '10.9.9.9', 0.1)];
    expect(await primaryHolders(locator, storage, 'corpus/large.txt')).toEqual(new Set(['s1']));
    expect(await locator.primaryHost('_escaped')).toBeUndefined(); // RGW escapes such names: left to the fallback
  });

  test('the version is asked once an interval, and the map comes again only when its version moved', async () => {
    const { state, read } = store(eight(() => '10.0.0.1'));
    let now = 0;
    const locator = new PublishedLocator({ read, intervalMs: 1000, now: () => now });
    for (let i = 0; i < 5; i++) expect(await locator.primaryHost(`k${i}`)).toBe('10.0.0.1');
    expect([state.reads, state.sent]).toEqual([1, 1]);
    now = 1000;
    await locator.primaryHost('a');
    await new Promise((resolve) => setImmediate(resolve));
    expect([state.reads, state.sent]).toEqual([2, 1]); // the version only
    state.version = 2;
    state.map = JSON.stringify(eight(() => '10.0.0.2'));
    now = 2000;
    await locator.primaryHost('a'); // the new map is read beside this request
    await new Promise((resolve) => setImmediate(resolve));
    expect(await locator.primaryHost('a')).toBe('10.0.0.2');
    expect([state.reads, state.sent, locator.version]).toEqual([3, 2, '2']);
  });

  test('no map published, a host unknown, or a malformed map: undefined, and the policy picks among any host', async () => {
    expect(await new PublishedLocator({ read: async () => undefined }).primaryHost('a')).toBeUndefined();
    expect(await new PublishedLocator({ read: store(eight(() => '')).read }).primaryHost('a')).toBeUndefined();
    const malformed = new PublishedLocator({ read: async () => ({ version: '1', map: '{"poolId":7,"pgNum":8}' }) });
    expect(await primaryHolders(malformed, [storageNode('s1', '10.0.0.1', 0.1)], 'a')).toBeUndefined();
  });

  test('a failed read (the store reconnecting) keeps the map held, is heard, and never rejects beside a request', async () => {
    const { state, read } = store(eight(() => '10.0.0.1'));
    let now = 0;
    let failing = false;
    const heard: string[] = [];
    const locator = new PublishedLocator({
      read: (held) => (failing ? Promise.reject(new Error('the state store connection is down')) : read(held)),
      intervalMs: 1000,
      now: () => now,
      onError: (error) => heard.push(error.message),
    });
    expect(await locator.primaryHost('a')).toBe('10.0.0.1');
    failing = true;
    now = 1000;
    expect(await locator.primaryHost('a')).toBe('10.0.0.1'); // the failing read runs beside this one
    await new Promise((resolve) => setImmediate(resolve));
    expect([heard, locator.version, state.sent]).toEqual([['the state store connection is down'], '1', 1]);
    // With no map yet, a failing first read answers undefined (any host), not an error.
    const fresh = new PublishedLocator({ read: () => Promise.reject(new Error('down')) });
    expect(await fresh.primaryHost('a')).toBeUndefined();
  });

  test('--locality state needs a Redis state store; the JSON form still names the bucket marker', () => {
    expect(() => locatorFromFlag('state')).toThrow(/Redis state store/);
    expect(locatorFromFlag('state', async () => undefined)).toBeInstanceOf(PublishedLocator);
    expect(() => locatorFromFlag('{}')).toThrow(/bucketMarker/);
  });
});
