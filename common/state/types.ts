import { randomBytes } from 'node:crypto';
import type { NoCapacity, NodeRole, NodeView, Selection } from '@strata/policy-engine';

/** What a node publishes about itself at each heartbeat: its view less the dispatchers' count. */
export type NodeReport = Omit<NodeView, 'inFlight'>;

/** A reserved node and the one way to give it back. `release` may be called more than once. */
export interface Reserved {
  readonly kind: 'chosen';
  readonly nodeId: string;
  /** Where to send the invocation: the node's address as the store knows it now. */
  readonly address: string;
  /** In-flight count on the node right after this reservation. */
  readonly inFlight: number;
  readonly release: () => Promise<void>;
}

/**
 * No node was reserved. `ahead` is set when the caller asked with a place in the queue
 * (QueuePlace) and the store kept it: how many waiters it serves first.
 */
export type NoRoom = NoCapacity & { readonly ahead?: number };

export type Reservation = Reserved | NoRoom;

/**
 * A tier-1 invocation's place in the store's queue, for when every node is full. The store
 * serves waiters in the order they arrived (`since`, ms since the epoch): a reservation
 * with a place and waiters ahead of it is refused while they are as many as the free
 * slots; the first asks the rule as any reservation does, and waits if nothing fits while
 * every node is full. A refused caller keeps its place for `holdMs`: it asks again within
 * that, or its place is dropped (a dispatcher that died holds none). A reservation without
 * a place (tier 2's, for an invocation already admitted) does not queue.
 */
export interface QueuePlace {
  /** Unique to the invocation, printable ASCII (at most 200 characters). */
  readonly id: string;
  readonly since: number;
  readonly holdMs: number;
}

/** Who is in the fleet: what changes only when a node joins, leaves, drains or is resized. */
export interface FleetMember {
  readonly id: string;
  readonly address: string;
  readonly role: NodeRole;
  readonly slotsTotal: number;
  readonly draining: boolean;
}

/** One change of membership: a member that joined or changed, or (`member` absent) the id of one that left. */
export interface MemberChange {
  readonly id: string;
  readonly member?: FleetMember;
}

/**
 * The fleet's members and a version that changes by one with each change of them. Both
 * lists are absent when the caller's version is current.
 */
export interface Membership {
  readonly version: number;
  /** Every member, sorted by id: for a caller that knew no version, or one too old for the store's log. */
  readonly members?: readonly FleetMember[];
  /** The changes since the caller's version, oldest first: what a caller that keeps up reads, O(changes). */
  readonly changes?: readonly MemberChange[];
}

/** A reservation's lease when the caller gives none: past API Gateway's 29 s, no invocation still needs it. */
export const DEFAULT_LEASE_MS = 30_000;

/** How long the store keeps a dispatcher's refused invocation's place: the dispatcher's longest pause (250 ms), and time for its next ask to arrive. */
export const PLACE_HOLD_MS = 750;

/**
 * The state the policies share between decisions and between dispatchers: the node
 * registry with its heartbeats, the in-flight counts with their leases, the round-robin
 * cursors, and the index a strategy's IndexedSelection is applied over. Every call is
 * one round trip and atomic. Expired nodes and leases are swept at the start of every
 * call, so nothing expired is ever chosen or counted.
 */
export interface StateStore {
  /** Registers the node or refreshes its figures. It is gone `ttlMs` after its last heartbeat, with its counts. */
  heartbeat(report: NodeReport, ttlMs: number): Promise<void>;
  /**
   * The heartbeat, and the live storage nodes (as storageNodes()) in its reply: a compute
   * node's one call an interval. A store that cannot answer both in one round trip leaves
   * it out; `heartbeatWithStorage()` below then makes the two calls.
   */
  heartbeatWithStorage?(report: NodeReport, ttlMs: number): Promise<NodeView[]>;
  /** Removes the node at once; reservations on it release to nothing. */
  deregister(nodeId: string): Promise<void>;
  /** The nodes whose heartbeat has not expired, with their live in-flight counts, sorted by id. O(n): for node views and custom strategies. */
  liveNodes(): Promise<NodeView[]>;
  /** The live storage nodes, with their figures, sorted by id: O(storage nodes), whatever the fleet's size. */
  storageNodes(): Promise<NodeView[]>;
  /**
   * What changed since `knownVersion`: nothing while it is current (O(1)), the changes
   * since it while the store's log holds them (O(changes)), else every member (O(n)).
   * `applyMembership` brings a caller's list up to date from either.
   */
  membership(knownVersion?: number): Promise<Membership>;
  /**
   * Picks a node by the selection's rule and reserves it (in-flight + 1), atomically.
   * The reservation is a lease: if it is not released within `leaseMs`, the store
   * releases it itself, whatever became of the caller. With a `place`, the caller queues
   * behind the waiters that arrived before it (QueuePlace).
   */
  reserve(selection: Selection, leaseMs?: number, place?: QueuePlace): Promise<Reservation>;
  close(): Promise<void>;
}

/** The heartbeat and the storage view: in one round trip where the store can, else a heartbeat and a read. */
export async function heartbeatWithStorage(store: StateStore, report: NodeReport, ttlMs: number): Promise<NodeView[]> {
  if (store.heartbeatWithStorage) return store.heartbeatWithStorage(report, ttlMs);
  await store.heartbeat(report, ttlMs);
  return store.storageNodes();
}

/** A lease id's secret part: 128 random bits, so that no other client can name, and so release, a reservation. */
export function leaseToken(): string {
  return randomBytes(16).toString('hex');
}

/** Builds the release callback a reservation carries: it acts once, however often it is called. */
export function releaseOnce(release: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= release());
}

export const NO_ROOM: NoCapacity = { kind: 'no-capacity', reason: 'every candidate is full or gone' };

/** The answer to a caller whose place the store keeps, `ahead` waiters behind the first. */
export function queued(ahead: number): NoRoom {
  return { kind: 'no-capacity', reason: `every node is full; ${ahead} invocations queued ahead of this one`, ahead };
}

/** Checks a queue place, naming the field that is wrong. */
export function checkPlace(place: QueuePlace): QueuePlace {
  if (typeof place.id !== 'string' || !NODE_ID.test(place.id))
    throw new RangeError(`queue place id must be 1 to 200 printable ASCII characters, got ${JSON.stringify(place.id)}`);
  if (!Number.isSafeInteger(place.since) || place.since < 0)
    throw new RangeError(`queue place since must be a whole number of ms at least 0, got ${place.since}`);
  checkTtl('queue place holdMs', place.holdMs);
  return place;
}

/** A node report's numeric fields: checked on the way in, and parsed back from Redis's strings. */
export const NUMBER_FIELDS = [
  'slotsTotal',
  'slotsUsed',
  'cpuBusy',
  'memoryUsed',
  'load1',
  'load5',
  'load15',
  'cores',
  'heartbeatAt',
] as const satisfies readonly (keyof NodeReport)[];
/** Node ids: printable ASCII, so that both stores order them the same way (by byte). */
const NODE_ID = /^[\x21-\x7e]{1,200}$/;

/** Throws a RangeError naming the field of a report that no store can keep. */
export function checkReport(report: NodeReport): NodeReport {
  if (typeof report.id !== 'string' || !NODE_ID.test(report.id))
    throw new RangeError(
      `node report id must be 1 to 200 printable ASCII characters, got ${JSON.stringify(report.id)}`,
    );
  if (report.role !== 'compute' && report.role !== 'storage')
    throw new RangeError(`node report role must be compute or storage, got ${JSON.stringify(report.role)}`);
  for (const key of NUMBER_FIELDS) {
    if (!Number.isFinite(report[key]))
      throw new RangeError(`node report ${key} must be a finite number, got ${report[key]}`);
  }
  if (!Number.isInteger(report.slotsTotal) || report.slotsTotal < 0)
    throw new RangeError(`node report slotsTotal must be a whole number, got ${report.slotsTotal}`);
  const times: [string, number | undefined][] = [
    ['serviceMs', report.serviceMs],
    ...Object.entries(report.functionServiceMs ?? {}).map(([name, ms]): [string, number] => [
      `functionServiceMs.${name}`,
      ms,
    ]),
  ];
  for (const [key, ms] of times) {
    if (ms !== undefined && !(Number.isFinite(ms) && ms >= 0))
      throw new RangeError(`node report ${key} must be a number of at least 0, got ${ms}`);
  }
  return report;
}

export function checkTtl(name: string, ms: number): number {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`${name} must be above 0, got ${ms}`);
  return ms;
}

export function memberOf(report: NodeReport): FleetMember {
  return {
    id: report.id,
    address: report.address,
    role: report.role,
    slotsTotal: report.slotsTotal,
    draining: report.draining,
  };
}

/** What makes a membership change, as one string: role, draining, slots, address (last: it may hold any character). */
export function memberKey(member: FleetMember): string {
  return `${member.role}|${member.draining ? 1 : 0}|${member.slotsTotal}|${member.address}`;
}

/**
 * The members after an update from `membership()`: the update's full list, or `known`
 * with its changes applied (a few each by a binary search in the id order, many at once
 * by id). Undefined when the update carries neither (the caller's version was current).
 */
export function applyMembership(known: readonly FleetMember[], update: Membership): readonly FleetMember[] | undefined {
  if (update.members) return update.members;
  if (!update.changes) return undefined;
  if (update.changes.length > 16) {
    const byId = new Map(known.map((member) => [member.id, member]));
    for (const { id, member } of update.changes) {
      if (member) byId.set(id, member);
      else byId.delete(id);
    }
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  const members = [...known];
  for (const { id, member } of update.changes) {
    let low = 0;
    let high = members.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (members[middle].id < id) low = middle + 1;
      else high = middle;
    }
    const present = low < members.length && members[low].id === id;
    if (member) members.splice(low, present ? 1 : 0, member);
    else if (present) members.splice(low, 1);
  }
  return members;
}

/** A member from its id and its memberKey, as the stores keep it. */
export function parseMember(id: string, key: string): FleetMember {
  const [role, draining, slotsTotal, ...address] = key.split('|');
  return {
    id,
    address: address.join('|'),
    role: role as FleetMember['role'],
    slotsTotal: Number(slotsTotal),
    draining: draining === '1',
  };
}
