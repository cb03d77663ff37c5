import { isIndexed, type NodeView, type Selection } from '@strata/policy-engine';
import { hashSlot, SLOTS, stateUrlOptions } from './cluster';
import { RedisStateStore, type RedisStateStoreOptions } from './redis-store';
import type { RespValue } from './resp-client';
import {
  DEFAULT_LEASE_MS,
  type MemberChange,
  type Membership,
  NO_ROOM,
  type NodeReport,
  type NoRoom,
  type QueuePlace,
  type Reservation,
  type StateStore,
} from './types';

/** The most cells a fleet may have: each is a hash tag, and tier 0 looks at every one. */
export const MAX_CELLS = 64;

/**
 * Past one Redis primary, the fleet is split into cells (docs/policies.md, cost model).
 * Each cell is a state store of its own under its own hash tag, so every script stays in
 * one slot and a cell's calls cost what one store's do; on a Redis Cluster the tags are
 * spread over the slots so that the cells sit on different primaries.
 *
 * Cell 0's tag is the store's prefix itself (`{strata}`): one cell is exactly the store
 * without cells, and the functions directory's keys (`{strata}:functions:*`) stay in the
 * slot they always had. Cell k's tag is `{strata-k}`, or `{strata-k.j}` with the first j
 * that puts its slot in the middle of the k-th (after cell 0's) of `cells` equal slot
 * ranges. A cluster of n shards splits its slots into n equal ranges (ElastiCache and
 * `redis-cli --cluster create` both do), so with cells a multiple of shards, each shard
 * holds cells / shards cells. The tags depend only on the prefix and the number of cells,
 * so every dispatcher and node agrees on them without reading anything.
 */
export function cellPrefixes(keyPrefix: string, cells: number): string[] {
  checkCells(cells);
  const range = (slot: number) => Math.floor((slot * cells) / SLOTS);
  const first = range(hashSlot(keyPrefix));
  const prefixes = [keyPrefix];
  for (let k = 1; k < cells; k++) {
    const target = (first + k) % cells;
    const low = (target * SLOTS) / cells;
    const quarter = SLOTS / cells / 4;
    const inMiddle = (name: string) => {
      const slot = hashSlot(name);
      return slot >= low + quarter && slot < low + 3 * quarter;
    };
    let name = `${keyPrefix}-${k}`;
    for (let j = 1; !inMiddle(name); j++) name = `${keyPrefix}-${k}.${j}`;
    prefixes.push(name);
  }
  return prefixes;
}

function checkCells(cells: number): void {
  if (!Number.isInteger(cells) || cells < 1 || cells > MAX_CELLS)
    throw new RangeError(`cells must be a whole number from 1 to ${MAX_CELLS}, got ${cells}`);
}

/**
 * A compute node's cell, by a stable hash of its id (FNV-1a). A hash rather than the
 * emptiest cell at registration: any process finds a node's cell from its id alone (a node
 * that registers again after its heartbeat ran out lands where it was), with no directory
 * to read or to keep right across cells; over a fleet the cells fill evenly, and tier 0
 * sends the decisions where the room is, whichever way the nodes fell. (Storage nodes, 3
 * to 12, are in every cell: each compute node reads their set once an interval, and that
 * read must not all land on one primary.)
 */
export function cellOf(id: string, cells: number): number {
  if (cells === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return hash % cells;
}

export interface CellStateStoreOptions extends RedisStateStoreOptions {
  /** How many cells the fleet is split into. @default the URL's `cells=N` (stateUrlOptions), else 1 */
  readonly cells?: number;
  /** How long tier 0 trusts a cell's free-slot count before it reads it again (each reservation refreshes its own cell's). @default 1000 */
  readonly roomRefreshMs?: number;
  /** Tier 0's random draw, in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * Connects the state store: one Redis store for one cell (the default, and exactly the
 * store without cells), else a CellStateStore over the cells, as the options or the URL's
 * query (`?cells=3&cluster=yes`) say.
 */
export async function connectStateStore(options: CellStateStoreOptions): Promise<RedisStateStore | CellStateStore> {
  const cells = options.cells ?? stateUrlOptions(options.url).cells;
  if (cells === 1) return RedisStateStore.connect(options);
  return CellStateStore.connect({ ...options, cells });
}

/**
 * The state store over cells: a compute node's calls go to its own cell (one round trip,
 * as without cells); a storage node's heartbeat goes to every cell, and the storage view is
 * read from each cell in turn. A decision first picks a cell (tier 0), then the cell's reserve script
 * decides inside it, by the same rule. Tier 0 draws a cell with a chance in proportion to
 * its free slots (`P:room`, which every reservation and membership read answers with; a
 * cell not heard from in `roomRefreshMs` is asked), so dispatchers that share a stale view do not all
 * crowd the same cell; an affinity rule (hash-affinity) starts at the cell its hash
 * names, so a function keeps its nodes. When the first cell has no room, the others are
 * tried, the roomiest first. Candidate rules get each cell's share of their candidates.
 */
export class CellStateStore implements StateStore {
  private readonly rooms: { room: number; at: number }[];
  /** The cell versions behind the last version membership() answered, to catch up from it cell by cell. */
  private lastMembership: { version: number; versions: number[] } | undefined;
  /** The cell the next storage view is read from. */
  private storageTurn = 0;
  /** The cells each queue place asked through this store stands in, until its hold runs out there. */
  private readonly placesHeld = new Map<string, { cells: Set<number>; until: number }>();

  private constructor(
    readonly cells: readonly RedisStateStore[],
    private readonly roomRefreshMs: number,
    private readonly random: () => number,
  ) {
    this.rooms = cells.map(() => ({ room: 0, at: Number.NEGATIVE_INFINITY }));
  }

  static async connect(options: CellStateStoreOptions): Promise<CellStateStore> {
    const prefixes = cellPrefixes(options.keyPrefix ?? 'strata', options.cells ?? stateUrlOptions(options.url).cells);
    const cells: RedisStateStore[] = [];
    try {
      for (const keyPrefix of prefixes) cells.push(await RedisStateStore.connect({ ...options, keyPrefix }));
    } catch (error) {
      await Promise.all(cells.map((cell) => cell.close()));
      throw error;
    }
    return new CellStateStore(cells, options.roomRefreshMs ?? 1000, options.random ?? Math.random);
  }

  /** The cell a compute node belongs to. */
  cellOf(id: string): number {
    return cellOf(id, this.cells.length);
  }

  /** The last connection error of any cell, for health reports. */
  get lastError(): Error | undefined {
    return this.cells.find((cell) => cell.lastError)?.lastError;
  }

  get commandsSent(): number {
    return this.cells.reduce((total, cell) => total + cell.commandsSent, 0);
  }

  /** Any command, on cell 0's connection: the functions directory's keys are in its slot. */
  command(args: readonly string[]): Promise<RespValue> {
    return this.cells[0].command(args);
  }

  async heartbeat(report: NodeReport, ttlMs: number): Promise<void> {
    if (report.role === 'compute') return this.cells[this.cellOf(report.id)].heartbeat(report, ttlMs);
    await Promise.all(this.cells.map((cell) => cell.heartbeat(report, ttlMs)));
  }

  /** A compute node's in one round trip to its cell (which holds the storage set too); a storage node's to every cell, then a view. */
  async heartbeatWithStorage(report: NodeReport, ttlMs: number): Promise<NodeView[]> {
    if (report.role === 'compute') return this.cells[this.cellOf(report.id)].heartbeatWithStorage(report, ttlMs);
    await this.heartbeat(report, ttlMs);
    return this.storageNodes();
  }

  /** The storage tier's placement map into every cell, as the storage set is, so that each compute node reads its own cell's; true if any cell's was replaced. */
  async publishPlacement(epoch: number, map: string): Promise<boolean> {
    return (await Promise.all(this.cells.map((cell) => cell.publishPlacement(epoch, map)))).some(Boolean);
  }

  /** In every cell: the role of the node is not known here, and a storage node is in all of them (a leave is rare). */
  async deregister(nodeId: string): Promise<void> {
    await Promise.all(this.cells.map((cell) => cell.deregister(nodeId)));
  }

  async liveNodes(): Promise<NodeView[]> {
    return distinctById((await Promise.all(this.cells.map((cell) => cell.liveNodes()))).flat());
  }

  /** From each cell in turn: every cell holds the storage nodes, and no primary takes every compute node's read. */
  storageNodes(): Promise<NodeView[]> {
    return this.cells[this.storageTurn++ % this.cells.length].storageNodes();
  }

  /**
   * One version for the fleet, the sum of the cells' (each only grows, so the sum moves
   * with every change). A caller at the version this store last answered catches up cell by
   * cell, O(changes). A caller at a version this store did not answer (another process's)
   * that is still current is told so, after one GET of each cell's version, and this store
   * keeps those. Any other caller, or a cell whose log no longer reaches back, reads every
   * cell's members.
   */
  async membership(knownVersion?: number): Promise<Membership> {
    if (knownVersion !== undefined && knownVersion !== this.lastMembership?.version) {
      const versions = await Promise.all(this.cells.map((cell) => cell.membershipVersion()));
      if (versions.reduce((a, b) => a + b, 0) === knownVersion) {
        this.lastMembership = { version: knownVersion, versions };
        return { version: knownVersion };
      }
    }
    const last = this.lastMembership;
    const known = last && knownVersion === last.version ? last.versions : undefined;
    const read = (versions?: readonly number[]) =>
      Promise.all(
        this.cells.map(async (cell, k) => {
          const { membership, room } = await cell.membershipInCell(versions?.[k]);
          this.rooms[k] = { room, at: Date.now() };
          return membership;
        }),
      );
    let updates = await read(known);
    if (known && updates.some((update) => update.members)) updates = await read();
    const versions = updates.map((update) => update.version);
    const version = versions.reduce((a, b) => a + b, 0);
    this.lastMembership = { version, versions };
    if (!known) {
      return { version, members: distinctById(updates.flatMap((update) => update.members ?? [])) };
    }
    const changes: MemberChange[] = updates.flatMap((update) => update.changes ?? []);
    return changes.length === 0 && version === knownVersion ? { version } : { version, changes };
  }

  /**
   * With a place, the caller queues in each cell it tries. Placed in one, it takes its place
   * out of the others it stood in (asked through this store), so that it does not count as a
   * waiter ahead there for the rest of its hold; a place not taken out runs out on its own.
   */
  async reserve(selection: Selection, leaseMs = DEFAULT_LEASE_MS, place?: QueuePlace): Promise<Reservation> {
    let refused: NoRoom = NO_ROOM;
    const now = Date.now();
    for (const [id, held] of this.placesHeld) if (held.until <= now) this.placesHeld.delete(id);
    for (const k of await this.tier0(selection)) {
      const inCell = this.restrict(selection, k);
      if (!inCell) continue;
      const { reservation, room } = await this.cells[k].reserveInCell(inCell, leaseMs, place);
      if (Number.isFinite(room)) this.rooms[k] = { room, at: Date.now() };
      if (reservation.kind === 'chosen') {
        const held = place && this.placesHeld.get(place.id);
        if (place && held) {
          this.placesHeld.delete(place.id);
          // A place that could not be taken out runs out on its own: the reservation stands.
          const others = [...held.cells].filter((j) => j !== k);
          await Promise.all(others.map((j) => this.cells[j].dropPlace(place.id).catch(() => undefined)));
        }
        return reservation;
      }
      if (place && reservation.ahead !== undefined) {
        const held = this.placesHeld.get(place.id) ?? { cells: new Set<number>(), until: 0 };
        held.cells.add(k);
        held.until = Date.now() + place.holdMs;
        this.placesHeld.set(place.id, held);
      }
      // The shortest queue it stands in: the caller asks again by it.
      if (reservation.ahead !== undefined && reservation.ahead < (refused.ahead ?? Infinity)) refused = reservation;
    }
    return refused;
  }

  /** Tier 0: the cells in the order to try them. */
  async tier0(selection: Selection): Promise<number[]> {
    await this.refreshRooms();
    const order = this.cells.map((_, k) => k).sort((a, b) => this.rooms[b].room - this.rooms[a].room || a - b);
    let first: number;
    if (selection.rule === 'hash-affinity') {
      // Mixed first: the rule inside the cell takes hash mod its size, which must not follow the cell.
      first = (Math.imul(selection.hash, 0x9e3779b1) >>> 0) % this.cells.length;
    } else {
      const total = order.reduce((sum, k) => sum + Math.max(0, this.rooms[k].room), 0);
      let draw = this.random() * total;
      first = order[0];
      for (const k of order) {
        draw -= Math.max(0, this.rooms[k].room);
        if (draw < 0) {
          first = k;
          break;
        }
      }
    }
    return [first, ...order.filter((k) => k !== first)];
  }

  async close(): Promise<void> {
    await Promise.all(this.cells.map((cell) => cell.close()));
  }

  /** Reads, all at once, the free slots of the cells tier 0 has not heard from within roomRefreshMs. */
  private async refreshRooms(): Promise<void> {
    const now = Date.now();
    const stale = this.cells.map((_, k) => k).filter((k) => now - this.rooms[k].at >= this.roomRefreshMs);
    if (stale.length === 0) return;
    const rooms = await Promise.all(stale.map((k) => this.cells[k].room().catch(() => 0)));
    stale.forEach((k, i) => {
      this.rooms[k] = { room: rooms[i], at: now };
    });
  }

  /** The selection as cell k sees it: a candidate rule's candidates in that cell (undefined if none). */
  private restrict(selection: Selection, k: number): Selection | undefined {
    if (isIndexed(selection)) return selection;
    const candidates = selection.candidates.filter((c) => this.cellOf(c.id) === k);
    return candidates.length === 0 ? undefined : { ...selection, candidates };
  }
}

/** Sorted by id, each id once (a storage node is in every cell). */
function distinctById<T extends { readonly id: string }>(items: T[]): T[] {
  items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return items.filter((item, i) => i === 0 || items[i - 1].id !== item.id);
}
