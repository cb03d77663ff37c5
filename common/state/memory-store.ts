import {
  applyIndexed,
  applySelection,
  type FleetColumns,
  type IndexedSelection,
  indexServiceMs,
  isIndexed,
  type NodeView,
  type Selection,
} from '@strata/policy-engine';
import {
  checkPlace,
  checkReport,
  checkTtl,
  DEFAULT_LEASE_MS,
  leaseToken,
  type MemberChange,
  type Membership,
  memberKey,
  memberOf,
  NO_ROOM,
  type NodeReport,
  type QueuePlace,
  queued,
  type Reservation,
  releaseOnce,
  type StateStore,
} from './types';

/** As the Redis store's log (redis-scripts.ts). */
const CHANGE_LOG = 1024;

interface Entry {
  report: NodeReport;
  inFlight: number;
  /** Changes when a node registers anew, so that releases from its previous life do nothing. */
  epoch: number;
  expiresAt: number;
  /** The service time the index ranks it by: its own, or the fleet's median at its last heartbeat. */
  indexServiceMs: number;
}

interface Lease {
  readonly nodeId: string;
  readonly epoch: number;
  readonly deadline: number;
}

/**
 * The state store inside one process: the embedded default for a local run, and the
 * reference the Redis store is tested against. It keeps no index: every decision scans the nodes (applyIndexed),
 * which is plain and, at the sizes it serves, fast. JavaScript runs each call to
 * completion, so every call is atomic without locks.
 */
export class MemoryStateStore implements StateStore {
  private readonly entries = new Map<string, Entry>();
  private readonly leases = new Map<string, Lease>();
  private readonly cursors = new Map<string, number>();
  private readonly members = new Map<string, string>();
  /** The queue's places (QueuePlace), by id: when each waiter arrived and until when its place is held. */
  private readonly waiting = new Map<string, { since: number; heldUntil: number }>();
  /** The last CHANGE_LOG changes, the newest at the end; the last is the one that made `version`. */
  private readonly changes: MemberChange[] = [];
  private epochs = 0;
  private version = 0;

  /** @param now the clock that expires heartbeats and leases, in ms; injectable for tests */
  constructor(private readonly now: () => number = Date.now) {}

  async heartbeat(report: NodeReport, ttlMs: number): Promise<void> {
    checkReport(report);
    checkTtl('ttlMs', ttlMs);
    const now = this.sweep();
    const entry = this.entries.get(report.id) ?? {
      inFlight: 0,
      epoch: ++this.epochs,
      report,
      expiresAt: 0,
      indexServiceMs: 1,
    };
    entry.report = { ...report };
    entry.expiresAt = now + ttlMs;
    this.entries.set(report.id, entry);
    const othersWithHistory = [...this.entries.values()]
      .filter((e) => eligible(e) && e.report.serviceMs !== undefined)
      .map((e) => e.report.serviceMs!);
    entry.indexServiceMs = indexServiceMs(report.serviceMs, othersWithHistory);
    const member = memberKey(memberOf(report));
    if (this.members.get(report.id) !== member) {
      this.members.set(report.id, member);
      this.changed({ id: report.id, member: memberOf(report) });
    }
  }

  async deregister(nodeId: string): Promise<void> {
    this.sweep();
    this.remove(nodeId);
  }

  async liveNodes(): Promise<NodeView[]> {
    this.sweep();
    return this.sorted().map((e) => ({ ...e.report, inFlight: e.inFlight }));
  }

  async storageNodes(): Promise<NodeView[]> {
    return (await this.liveNodes()).filter((node) => node.role === 'storage');
  }

  async membership(knownVersion?: number): Promise<Membership> {
    this.sweep();
    const version = this.version;
    if (knownVersion === version) return { version };
    if (knownVersion !== undefined && knownVersion < version && version - knownVersion <= this.changes.length)
      return { version, changes: this.changes.slice(knownVersion - version) };
    return { version, members: this.sorted().map((e) => memberOf(e.report)) };
  }

  async reserve(selection: Selection, leaseMs = DEFAULT_LEASE_MS, place?: QueuePlace): Promise<Reservation> {
    checkTtl('leaseMs', leaseMs);
    if (place) checkPlace(place);
    const now = this.sweep();
    // With waiters ahead of it, refused while they are as many as the free slots; the first asks the rule.
    let ahead = 0;
    if (place) for (const other of this.waiting.values()) if (other.since < place.since) ahead++;
    const wait = () => {
      this.waiting.set(place!.id, { since: place!.since, heldUntil: now + place!.holdMs });
      return queued(ahead);
    };
    if (place && ahead > 0 && ahead >= this.room()) return wait();
    const nodeId = isIndexed(selection) ? this.pickIndexed(selection) : this.pickCandidate(selection);
    if (place && nodeId === undefined && ahead >= this.room()) return wait(); // first, and every node is full
    // Placed, or nothing fits it while there is room for others: it waits without holding them back.
    if (place) this.waiting.delete(place.id);
    if (nodeId === undefined) return NO_ROOM;
    const entry = this.entries.get(nodeId)!;
    entry.inFlight += 1;
    const leaseId = leaseToken();
    this.leases.set(leaseId, { nodeId, epoch: entry.epoch, deadline: now + leaseMs });
    return {
      kind: 'chosen',
      nodeId,
      address: entry.report.address,
      inFlight: entry.inFlight,
      release: releaseOnce(async () => {
        this.sweep();
        const lease = this.leases.get(leaseId);
        if (lease && this.leases.delete(leaseId)) this.giveBack(lease);
      }),
    };
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private pickCandidate(selection: Exclude<Selection, IndexedSelection>): string | undefined {
    if (selection.candidates.length === 0) return undefined;
    const index = applySelection(
      selection,
      (id) => this.entries.get(id)?.inFlight,
      selection.rule === 'rotate' ? this.advance(selection.cursor) : 0,
    );
    return index === -1 ? undefined : selection.candidates[index].id;
  }

  private pickIndexed(selection: IndexedSelection): string | undefined {
    const cursor = selection.rule === 'round-robin' ? this.advance(selection.cursor) : 0;
    const excluded = new Set(selection.exclude ?? []);
    const fleet = columns(this.sorted().filter((e) => eligible(e) && !excluded.has(e.report.id)));
    const index = applyIndexed(selection, fleet, cursor);
    return index === -1 ? undefined : fleet.ids[index];
  }

  private advance(cursor: string): number {
    const value = (this.cursors.get(cursor) ?? 0) + 1;
    this.cursors.set(cursor, value);
    return value;
  }

  /** The free slots of the eligible compute nodes (the Redis store's `P:room`). */
  private room(): number {
    let room = 0;
    for (const entry of this.entries.values())
      if (eligible(entry)) room += Math.max(0, entry.report.slotsTotal - entry.inFlight);
    return room;
  }

  /** Drops the nodes whose heartbeat expired, the places no longer held, and gives back the leases that ran out; answers now. */
  private sweep(): number {
    const now = this.now();
    for (const [id, place] of this.waiting) if (place.heldUntil <= now) this.waiting.delete(id);
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.remove(id);
    for (const [id, lease] of this.leases) {
      if (lease.deadline > now) continue;
      this.leases.delete(id);
      this.giveBack(lease);
    }
    return now;
  }

  private giveBack(lease: Lease): void {
    const entry = this.entries.get(lease.nodeId);
    if (entry && entry.epoch === lease.epoch && entry.inFlight > 0) entry.inFlight -= 1;
  }

  private remove(nodeId: string): void {
    this.entries.delete(nodeId);
    if (this.members.delete(nodeId)) this.changed({ id: nodeId });
  }

  private changed(change: MemberChange): void {
    this.version++;
    this.changes.push(change);
    if (this.changes.length > CHANGE_LOG) this.changes.shift();
  }

  private sorted(): Entry[] {
    return [...this.entries.values()].sort((a, b) => (a.report.id < b.report.id ? -1 : 1));
  }
}

function eligible(entry: Entry): boolean {
  return entry.report.role === 'compute' && !entry.report.draining;
}

function columns(entries: readonly Entry[]): FleetColumns {
  return {
    ids: entries.map((e) => e.report.id),
    inFlight: entries.map((e) => e.inFlight),
    slots: entries.map((e) => e.report.slotsTotal),
    slotsUsed: entries.map((e) => e.report.slotsUsed),
    loadPerCore: entries.map((e) => e.report.load1 / Math.max(1, e.report.cores)),
    serviceMs: entries.map((e) => e.indexServiceMs),
  };
}
