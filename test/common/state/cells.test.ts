import { randomBytes } from 'node:crypto';
import { standInReport } from '../../../bench/fleet/probe';
import { connectState } from '../../../common/cli';
import {
  applyMembership,
  CellStateStore,
  cellOf,
  cellPrefixes,
  connectStateStore,
  type FleetMember,
  RedisStateStore,
  type Reserved,
} from '../../../common/state';
import { aclFile, STATE_ROLES, type StateRole, stateUser, urlWithUser } from '../../../common/state/access';
import { hashSlot, primaryOf, SlotClient, stateUrlOptions } from '../../../common/state/cluster';
import { RespClient, type RespValue } from '../../../common/state/resp-client';
import { type RedisCluster, startRedisCluster } from '../../../local/redis-cluster';
import { startRedisServer } from '../../../local/redis-server';

// Cells on a real Redis Cluster of three primaries (redis-server with cluster-enabled,
// joined by redis-cli --cluster create). Each cell is one hash tag, so each of its
// scripts runs in one slot; the tags put the cells on different primaries.

let cluster: RedisCluster;
/** One plain connection per primary, to look at what each holds. */
let primaries: RespClient[];
let prefixRun = 0;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  primaries = await Promise.all(cluster.urls.map((url) => RespClient.connect({ url })));
}, 60_000);

afterAll(async () => {
  await Promise.all(primaries?.map((p) => p.close()) ?? []);
  await cluster?.stop();
});

/** Ids of compute nodes that fall in cell `k` of `cells`, `count` of them. */
function idsInCell(k: number, cells: number, count: number, tag: string): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++) if (cellOf(`${tag}-${i}`, cells) === k) ids.push(`${tag}-${i}`);
  return ids;
}

const report = (id: string, slotsTotal: number, role: 'compute' | 'storage' = 'compute') => ({
  ...standInReport(id, role, Date.now()),
  slotsTotal,
  slotsUsed: 0,
});

/** The `host:port` of the primary that serves a slot, from the cluster itself. */
async function primaryOfSlot(slot: number): Promise<string> {
  return primaryOf(await primaries[0].send(['CLUSTER', 'SLOTS']), slot)!;
}

/** The node keys each primary holds (KEYS runs on one node of a cluster: its own keys). */
async function nodeKeysByPrimary(prefixes: readonly string[]): Promise<Map<string, string[]>> {
  const byPrimary = new Map<string, string[]>();
  for (const [i, client] of primaries.entries()) {
    const keys: string[] = [];
    for (const prefix of prefixes) keys.push(...((await client.send(['KEYS', `{${prefix}}:node:*`])) as string[]));
    byPrimary.set(`127.0.0.1:${cluster.ports[i]}`, keys);
  }
  return byPrimary;
}

async function errorStats(): Promise<string> {
  const all = await Promise.all(primaries.map((p) => p.send(['INFO', 'errorstats'])));
  return all.map(String).join('\n');
}

describe('cell tags', () => {
  test('one cell is the store without cells: {strata}, as every key was', () => {
    expect(cellPrefixes('strata', 1)).toEqual(['strata']);
    expect(cellOf('any-node', 1)).toBe(0);
  });

  test('our slot function agrees with the cluster (CLUSTER KEYSLOT) on tags and keys', async () => {
    const keys = [...cellPrefixes('strata', 6).map((p) => `{${p}}:node:c-1`), 'no-tag', 'a{}b{c}', '{}x', '{user1}.x'];
    for (const key of keys) expect(hashSlot(key)).toBe(await primaries[0].send(['CLUSTER', 'KEYSLOT', key]));
  });

  test('three cells sit on three different primaries, six cells two on each', async () => {
    for (const cells of [3, 6]) {
      const owners = await Promise.all(cellPrefixes('strata', cells).map((p) => primaryOfSlot(hashSlot(`{${p}}`))));
      const perPrimary = new Map<string, number>();
      for (const owner of owners) perPrimary.set(owner, (perPrimary.get(owner) ?? 0) + 1);
      expect([...perPrimary.values()]).toEqual([cells / 3, cells / 3, cells / 3]);
    }
  });

  test('compute nodes spread over the cells by their id', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[cellOf(`i-0${i.toString(16)}`, 4)]++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });
});

describe('a fleet over three cells on a three-primary Redis Cluster', () => {
  let keyPrefix: string;
  let store: CellStateStore;

  beforeEach(async () => {
    keyPrefix = `cells-${++prefixRun}`;
    store = (await connectStateStore({ url: cluster.url, cluster: true, cells: 3, keyPrefix })) as CellStateStore;
  });

  afterEach(async () => {
    await store.close();
  });

  test('compute nodes in different cells land on different primaries, each in its cell slot; storage nodes in every cell', async () => {
    const prefixes = cellPrefixes(keyPrefix, 3);
    const ids = [0, 1, 2].flatMap((k) => idsInCell(k, 3, 4, 'c'));
    for (const id of ids) await store.heartbeat(report(id, 4), 60_000);
    await store.heartbeat(report('s-1', 4, 'storage'), 60_000);

    const byPrimary = await nodeKeysByPrimary(prefixes);
    // Every primary holds the nodes of exactly one cell, and it is the primary of that cell's slot.
    for (const [k, prefix] of prefixes.entries()) {
      const owner = await primaryOfSlot(hashSlot(`{${prefix}}`));
      const expected = [...idsInCell(k, 3, 4, 'c').map((id) => `{${prefix}}:node:${id}`), `{${prefix}}:node:s-1`];
      expect(byPrimary.get(owner)!.sort()).toEqual(expected.sort());
    }
    for (const keys of byPrimary.values()) expect(keys.length).toBeGreaterThan(0);

    expect((await store.liveNodes()).map((n) => n.id)).toEqual([...ids, 's-1'].sort());
    // Each cell holds the storage set, which the store reads from each cell in turn.
    for (const cell of store.cells) expect((await cell.storageNodes()).map((n) => n.id)).toEqual(['s-1']);
    for (let i = 0; i < 3; i++) expect((await store.storageNodes()).map((n) => n.id)).toEqual(['s-1']);
    await store.deregister('s-1');
    for (const cell of store.cells) expect(await cell.storageNodes()).toEqual([]);
    expect(await errorStats()).not.toMatch(/CROSSSLOT|MOVED/);
  });

  test("the placement map goes into every cell, each on its own primary, so that a compute node reads its own cell's", async () => {
    expect(await store.publishPlacement(7, 'map-7')).toBe(true);
    expect(await store.publishPlacement(7, 'map-7')).toBe(false);
    for (const cell of store.cells) expect((await cell.placement())?.map).toBe('map-7');
    expect(await errorStats()).not.toMatch(/CROSSSLOT|MOVED/);
  });

  test('a decision falls back to another cell when the first it picks is full', async () => {
    // One node of one slot in each cell.
    const nodes = [0, 1, 2].map((k) => idsInCell(k, 3, 1, 'f')[0]);
    for (const id of nodes) await store.heartbeat(report(id, 1), 60_000);
    const selection = { kind: 'select', rule: 'least-outstanding' } as const;

    // Dispatcher A looks at the cells (one free slot each) and keeps that view for a minute.
    const a = await CellStateStore.connect({
      url: cluster.url,
      cluster: true,
      cells: 3,
      keyPrefix,
      roomRefreshMs: 60_000,
      random: () => 0,
    });
    try {
      expect(await a.tier0(selection)).toEqual([0, 1, 2]);
      // Dispatcher B takes cell 0's only slot.
      const b = await store.cells[0].reserve(selection);
      expect(b).toMatchObject({ kind: 'chosen', nodeId: expect.any(String) });
      const taken = (b as { nodeId: string }).nodeId;
      const takenCell = nodes.indexOf(taken);
      expect(takenCell).toBe(0);

      // A still believes every cell has room; whichever it tries first, full or not, it gets a node.
      const chosen: string[] = [];
      for (let i = 0; i < 2; i++) {
        const reservation = await a.reserve(selection);
        expect(reservation.kind).toBe('chosen');
        chosen.push((reservation as { nodeId: string }).nodeId);
      }
      expect(new Set([taken, ...chosen])).toEqual(new Set(nodes)); // each cell's node once: the full cells were passed over
      expect(await a.reserve(selection)).toMatchObject({ kind: 'no-capacity' });
      // Cell 0 was A's first pick and B had filled it: A's first decision fell back to another cell.
      expect(nodes.indexOf(chosen[0])).not.toBe(0);
    } finally {
      await a.close();
    }
    expect(await errorStats()).not.toMatch(/CROSSSLOT|MOVED/);
  });

  test('a waiter queues in each cell it tries and is told its shortest queue; a slot freed in any cell goes to the first waiter, who then leaves the other queues', async () => {
    const nodes = [0, 1, 2].map((k) => idsInCell(k, 3, 1, 'q')[0]);
    for (const id of nodes) await store.heartbeat(report(id, 1), 60_000);
    const selection = { kind: 'select', rule: 'least-outstanding' } as const;
    const held = await Promise.all(nodes.map((_, k) => store.cells[k].reserve(selection)));
    const ask = (id: string, since: number) => store.reserve(selection, undefined, { id, since, holdMs: 5_000 });
    expect(await ask('w1', 1)).toMatchObject({ kind: 'no-capacity', ahead: 0 });
    expect(await ask('w2', 2)).toMatchObject({ kind: 'no-capacity', ahead: 1 });
    await (held[2] as Reserved).release();
    expect(await ask('w2', 2)).toMatchObject({ kind: 'no-capacity', ahead: 1 });
    // A cell that cannot be told (here cell 1) does not undo the placement: the place there runs out on its own.
    const cell1 = store.cells[1];
    const dropPlace = cell1.dropPlace;
    cell1.dropPlace = () => Promise.reject(new Error('connection lost'));
    expect(await ask('w1', 1)).toMatchObject({ kind: 'chosen', nodeId: nodes[2] });
    cell1.dropPlace = dropPlace;
    // Placed, w1 left the queues of the cells it stood in: a slot freed there goes to w2 at once.
    await (held[0] as Reserved).release();
    expect(await ask('w2', 2)).toMatchObject({ kind: 'chosen', nodeId: nodes[0] });
    expect(await errorStats()).not.toMatch(/CROSSSLOT|MOVED/);
  });

  test("tier 0 reads each cell's free slots, which reservations and releases keep", async () => {
    const counts = [3, 1, 2];
    for (const [k, count] of counts.entries())
      for (const id of idsInCell(k, 3, count, `r${k}`)) await store.heartbeat(report(id, 2), 60_000);
    expect(await Promise.all(store.cells.map((cell) => cell.room()))).toEqual([6, 2, 4]);
    // Drawn by room: the roomiest first, then the others, roomiest first.
    const drawn = await CellStateStore.connect({
      url: cluster.url,
      cluster: true,
      cells: 3,
      keyPrefix,
      random: () => 0.99,
    });
    try {
      // 0.99 of 12 free slots, counted roomiest first (6, 4, 2), falls in cell 1's 2; then the others by room.
      expect(await drawn.tier0({ kind: 'select', rule: 'least-outstanding' })).toEqual([1, 0, 2]);
    } finally {
      await drawn.close();
    }
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await store.reserve({ kind: 'select', rule: 'least-outstanding' }));
    const rooms = await Promise.all(store.cells.map((cell) => cell.room()));
    expect(rooms.reduce((a, b) => a + b, 0)).toBe(12 - 5);
    for (const r of held) if (r.kind === 'chosen') await r.release();
    expect(await Promise.all(store.cells.map((cell) => cell.room()))).toEqual([6, 2, 4]);
    // A drain takes a node's free slots out, a resize changes them, a leave takes them out.
    const [first] = idsInCell(0, 3, 1, 'r0');
    await store.heartbeat({ ...report(first, 2), draining: true }, 60_000);
    expect(await store.cells[0].room()).toBe(4);
    await store.heartbeat(report(first, 5), 60_000);
    expect(await store.cells[0].room()).toBe(9);
    await store.deregister(idsInCell(1, 3, 1, 'r1')[0]);
    expect(await store.cells[1].room()).toBe(0);
  });

  test('membership: one version for the fleet, caught up cell by cell with only the changes', async () => {
    const ids = [0, 1, 2].flatMap((k) => idsInCell(k, 3, 2, 'm'));
    for (const id of ids) await store.heartbeat(report(id, 2), 60_000);
    const first = await store.membership();
    expect(first.members!.map((m) => m.id)).toEqual([...ids].sort());
    let known: readonly FleetMember[] = first.members!;
    expect(await store.membership(first.version)).toEqual({ version: first.version });

    const joined = idsInCell(2, 3, 3, 'm')[2];
    await store.heartbeat(report(joined, 2), 60_000);
    await store.deregister(ids[0]);
    const update = await store.membership(first.version);
    expect(update.members).toBeUndefined();
    expect(update.changes!.map((c) => [c.id, c.member !== undefined]).sort()).toEqual(
      [
        [ids[0], false],
        [joined, true],
      ].sort(),
    );
    known = applyMembership(known, update)!;
    expect(known.map((m) => m.id)).toEqual([...ids.slice(1), joined].sort());
  });

  test('membership: a version another process read is taken as current, then caught up by its changes', async () => {
    const ids = [0, 1, 2].flatMap((k) => idsInCell(k, 3, 2, 'o'));
    for (const id of ids) await store.heartbeat(report(id, 2), 60_000);
    const { version, members } = await store.membership();
    const other = await CellStateStore.connect({ url: cluster.url, cluster: true, cells: 3, keyPrefix });
    try {
      expect(await other.membership(version)).toEqual({ version });
      const joined = idsInCell(1, 3, 3, 'o')[2];
      await store.heartbeat(report(joined, 2), 60_000);
      const update = await other.membership(version);
      expect(update.members).toBeUndefined();
      expect(update.changes!.map((c) => c.id)).toEqual([joined]);
      expect(applyMembership(members!, update)!.map((m) => m.id)).toEqual([...ids, joined].sort());
      // A version that is neither current nor one this store answered: every member.
      expect((await other.membership(version - 1)).members).toHaveLength(ids.length + 1);
    } finally {
      await other.close();
    }
  });

  test('an affinity decision starts at the cell its hash names, every time', async () => {
    for (const k of [0, 1, 2])
      for (const id of idsInCell(k, 3, 2, `h${k}`)) await store.heartbeat(report(id, 8), 60_000);
    const selection = { kind: 'select', rule: 'hash-affinity', hash: 12345, stepSeed: 1 } as const;
    const chosen = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const r = await store.reserve(selection);
      if (r.kind === 'chosen') chosen.add(store.cellOf(r.nodeId));
    }
    expect(chosen.size).toBe(1);
  });
});

describe('the layout in the state store URL', () => {
  test('cells and cluster mode travel in the query; bad values name themselves', () => {
    expect(stateUrlOptions('rediss://:t@h:6380')).toEqual({ cells: 1, cluster: false });
    expect(stateUrlOptions('rediss://:t@h:6380?cells=6&cluster=yes')).toEqual({ cells: 6, cluster: true });
    expect(() => stateUrlOptions('redis://h?cells=0')).toThrow(
      `the state store URL's cells must be a whole number from 1 to 64, got "0"`,
    );
    expect(() => stateUrlOptions('redis://h?cells=2.5')).toThrow(/cells must be a whole number/);
    expect(() => stateUrlOptions('redis://h?cluster=true')).toThrow(
      `the state store URL's cluster must be yes or no, got "true"`,
    );
    expect(() => stateUrlOptions('redis://h?cell=2')).toThrow(
      `the state store URL's query takes cells and cluster, got "cell"`,
    );
  });

  test('a URL with ?cells=3&cluster=yes connects a node (the CLI, the nodes) to three cells on the cluster', async () => {
    const store = await connectState(`${cluster.url}?cells=3&cluster=yes`);
    try {
      expect(store).toBeInstanceOf(CellStateStore);
      expect((store as CellStateStore).cells).toHaveLength(3);
    } finally {
      await store.close();
    }
  });
});

describe('the slot client', () => {
  test('follows its slot to another primary (MOVED) and keeps its one round trip per call after', async () => {
    const keyPrefix = `moving-${++prefixRun}`;
    const slot = hashSlot(`{${keyPrefix}}`);
    const store = await RedisStateStore.connect({ url: cluster.url, cluster: true, keyPrefix });
    try {
      await store.heartbeat(report('n-1', 2), 60_000);
      const from = await primaryOfSlot(slot);
      const to = `127.0.0.1:${cluster.ports.find((p) => `127.0.0.1:${p}` !== from)}`;
      await moveSlot(slot, from, to);
      // The store's connection still points at the old primary: its next call is MOVED, then sent on.
      expect((await store.liveNodes()).map((n) => n.id)).toEqual(['n-1']);
      expect(await primaryOfSlot(slot)).toBe(to);
      const sent = store.commandsSent;
      await store.heartbeat(report('n-1', 2), 60_000);
      expect(store.commandsSent - sent).toBe(1);
    } finally {
      await store.close();
    }
  });

  test('a plain redis-server and one cell: exactly the store without cells', async () => {
    const server = await startRedisServer();
    try {
      const store = await connectStateStore({ url: server.url, cells: 1 });
      expect(store).toBeInstanceOf(RedisStateStore);
      await store.heartbeat(report('plain-1', 2), 60_000);
      const client = await RespClient.connect({ url: server.url });
      expect(((await client.send(['KEYS', '*node:*'])) as RespValue[]).sort()).toEqual(['{strata}:node:plain-1']);
      await client.close();
      await store.close();
      await expect(SlotClient.connect({ url: server.url }, 0)).rejects.toThrow(/not a Redis Cluster/);
    } finally {
      await server.stop();
    }
  });
});

/** Moves a slot and its keys between two primaries, as a resharding does (CLUSTER SETSLOT, MIGRATE). */
async function moveSlot(slot: number, from: string, to: string): Promise<void> {
  const connect = (address: string) => RespClient.connect({ url: `redis://${address}` });
  const [source, target] = await Promise.all([connect(from), connect(to)]);
  try {
    const [sourceId, targetId] = await Promise.all([
      source.send(['CLUSTER', 'MYID']),
      target.send(['CLUSTER', 'MYID']),
    ]);
    await target.send(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', String(sourceId)]);
    await source.send(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', String(targetId)]);
    for (;;) {
      const keys = (await source.send(['CLUSTER', 'GETKEYSINSLOT', String(slot), '100'])) as string[];
      if (keys.length === 0) break;
      const [host, port] = to.split(':');
      await source.send(['MIGRATE', host, port, '', '0', '5000', 'KEYS', ...keys]);
    }
    for (const client of [...primaries, source, target])
      await client.send(['CLUSTER', 'SETSLOT', String(slot), 'NODE', String(targetId)]);
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}

describe('cells on a Redis Cluster whose nodes have the roles users (common/state/access.ts)', () => {
  test('the dispatcher, a compute node and a storage node run their calls through the cells, each as its own user', async () => {
    const cells = 3;
    const passwords = Object.fromEntries(STATE_ROLES.map((role) => [role, randomBytes(24).toString('hex')])) as Record<
      StateRole,
      string
    >;
    const secured = await startRedisCluster(3, { acl: aclFile(passwords, 'strata', cells) });
    const stores: CellStateStore[] = [];
    const connectAs = async (role: StateRole) => {
      const url = urlWithUser(secured.url, stateUser(role), passwords[role]);
      const store = await CellStateStore.connect({ url, cluster: true, cells });
      stores.push(store);
      return store;
    };
    try {
      // Nobody without a user of its own gets in: the default user is off.
      await expect(CellStateStore.connect({ url: secured.url, cluster: true, cells })).rejects.toThrow();
      const storage = await connectAs('storage');
      const compute = await connectAs('compute');
      const dispatcher = await connectAs('dispatcher');
      await storage.heartbeat(report('acl-storage', 1, 'storage'), 60_000);
      // One compute node in each cell, each heartbeat with the storage view of its cell in the reply.
      const ids = [0, 1, 2].flatMap((k) => idsInCell(k, cells, 1, 'acl'));
      for (const id of ids)
        expect((await compute.heartbeatWithStorage(report(id, 2), 60_000)).map((n) => n.id)).toEqual(['acl-storage']);
      const { members } = await dispatcher.membership();
      expect(members!.map((m) => m.id).sort()).toEqual(['acl-storage', ...ids].sort());
      // Decisions until every slot is taken (2 a node): tier 0 goes to each cell, then the releases.
      const held: Reserved[] = [];
      for (let i = 0; i < 6; i++) {
        const reservation = await dispatcher.reserve({ kind: 'select', rule: 'least-outstanding' });
        expect(reservation.kind).toBe('chosen');
        if (reservation.kind === 'chosen') held.push(reservation);
      }
      expect([...new Set(held.map((r) => r.nodeId))].sort()).toEqual([...ids].sort());
      for (const reservation of held) await reservation.release();
      // A tier-2 peer pick by the compute node, itself excluded.

      const peer = await compute.reserve({ kind: 'select', rule: 'most-slots', exclude: [ids[0]] });
      expect(peer.kind).toBe('chosen');
      if (peer.kind === 'chosen') await peer.release();
      await storage.deregister('acl-storage');
      expect(await compute.heartbeatWithStorage(report(ids[0], 2), 60_000)).toEqual([]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await secured.stop();
    }
  }, 60_000);
});
