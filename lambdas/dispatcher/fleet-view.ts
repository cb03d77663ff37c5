import { type NodeView, type PolicyContext, type Selection, ZERO_FIGURES } from '@strata/policy-engine';
import type { FleetMember, MemberChange, QueuePlace, Reservation, StateStore } from '../../common/state';
import { LastKnownFleet } from './last-known-fleet';

export interface FleetViewOptions {
  /** Connects to the shared state; called again after a failure, at most once per refresh interval. */
  readonly connect: () => Promise<StateStore>;
  /**
   * What the strategy looks at now: the members only (it decides over the store's index)
   * or every node's figures. Asked at each refresh: the strategy may be switched while it
   * runs (strata policy set), and a change is read at once.
   */
  readonly reads: () => 'membership' | 'figures';
  /** How old the node list may grow before it is read again. @default 1000 */
  readonly refreshMs?: number;
  /** A node whose heartbeat is older is not chosen. @default 3000 */
  readonly heartbeatTtlMs?: number;
  /** Told once when the shared state becomes unreachable, with why. */
  readonly onDegraded?: (reason: string) => void;
  readonly now: () => number;
  readonly random?: () => number;
}

/**
 * The dispatcher's view of the fleet: the node list it reads from the shared state (at
 * most once per refresh interval) and the reservations it makes there. When the shared
 * state cannot be reached it is degraded: it keeps the last list, judged as of when it
 * was read, and reserves over it with counts of its own (LastKnownFleet), trying the
 * store again once per refresh interval.
 */
export class FleetView {
  /** The one connection to the shared state, shared by concurrent calls; cleared if it fails, to try again later. */
  private store: Promise<StateStore> | undefined;
  /** Sorted by id. Changed in place by a membership update: a caller uses the list it gets before its next await. */
  private nodes: NodeView[] = [];
  private readAt = Number.NEGATIVE_INFINITY;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** The membership version `nodes` was read at, for a strategy that reads only membership. */
  private membershipVersion: number | undefined;
  /** What the list was last read for. */
  private readFor: 'membership' | 'figures' | undefined;
  private readonly lastKnown = new LastKnownFleet();
  private reason: string | undefined;

  constructor(private readonly options: FleetViewOptions) {}

  /** Why the shared state is away, while it is. */
  get degradedReason(): string | undefined {
    return this.reason;
  }

  get degraded(): boolean {
    return this.reason !== undefined;
  }

  /**
   * The node list, read again once it is older than refreshMs; on failure the last one.
   * A strategy that decides over the store's index gets the membership only, which
   * costs one version check while nobody joins or leaves and O(changes) after; a strategy that orders the
   * nodes itself gets every node's figures, O(n) per refresh.
   */
  async liveNodes(): Promise<readonly NodeView[]> {
    const { now } = this.options;
    const refreshMs = this.options.refreshMs ?? 1000;
    const reads = this.options.reads();
    if (reads !== this.readFor) {
      // The strategy was switched to one that reads otherwise: read the list again now, in full.
      this.readFor = reads;
      this.readAt = Number.NEGATIVE_INFINITY;
      this.lastAttemptAt = Number.NEGATIVE_INFINITY;
      this.membershipVersion = undefined;
    }
    // Healthy: read again once the list is older than refreshMs. Degraded: try the store again as often, keeping the last list.
    if (now() - (this.degraded ? this.lastAttemptAt : this.readAt) < refreshMs) return this.nodes;
    this.lastAttemptAt = now();
    try {
      this.store ??= this.options.connect().catch((error: unknown) => {
        this.store = undefined;
        throw error;
      });
      const store = await this.store;
      if (reads === 'membership') {
        // After a change: the changes since the version in hand (O(changes) in Redis), applied to the
        // list in place (O(changes) here too: a view per changed member, none rebuilt for the others).
        const update = await store.membership(this.membershipVersion);
        if (update.members) {
          this.nodes = update.members.map((m) => memberView(m, now()));
          this.lastKnown.remember(update.members);
        } else if (update.changes) {
          this.applyChanges(update.changes, now());
          this.lastKnown.change(update.changes);
        }
        this.membershipVersion = update.version;
      } else {
        this.nodes = await store.liveNodes();
        this.lastKnown.remember(this.nodes);
      }
      this.readAt = now();
      this.reason = undefined;
    } catch (error) {
      this.degrade(error);
    }
    return this.nodes;
  }

  /**
   * Reserves in the shared state, with the caller's place in its queue; while it is away
   * (or if this call finds it so), over the last known fleet, where nothing queues.
   */
  async reserve(selection: Selection, leaseMs: number, place?: QueuePlace): Promise<Reservation> {
    if (this.store && !this.degraded) {
      try {
        return await (await this.store).reserve(selection, leaseMs, place);
      } catch (error) {
        this.degrade(error);
      }
    }
    return this.lastKnown.reserve(selection);
  }

  /** What the strategy decides with. While degraded, heartbeats are judged as of the last read: nothing newer can arrive. */
  context(): PolicyContext {
    const now = this.degraded && Number.isFinite(this.readAt) ? this.readAt : this.options.now();
    return {
      now,
      random: this.options.random ?? Math.random,
      heartbeatTtlMs: this.options.heartbeatTtlMs ?? 3000,
    };
  }

  /** Closes the connection to the shared state, if it made one. */
  async close(): Promise<void> {
    const store = await this.store?.catch(() => undefined);
    await store?.close();
  }

  /** Each change by a binary search in the id order: a view made for a member that joined or changed, one taken out for one that left. */
  private applyChanges(changes: readonly MemberChange[], readAt: number): void {
    const nodes = this.nodes;
    for (const { id, member } of changes) {
      let low = 0;
      let high = nodes.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (nodes[middle].id < id) low = middle + 1;
        else high = middle;
      }
      const present = low < nodes.length && nodes[low].id === id;
      if (member) nodes.splice(low, present ? 1 : 0, memberView(member, readAt));
      else if (present) nodes.splice(low, 1);
    }
  }

  private degrade(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    if (!this.degraded) this.options.onDegraded?.(reason);
    this.reason = reason;
  }
}

/**
 * A member as the node view a strategy that reads membership gets (InvocationStrategy's
 * contract): no figures, since it decides over the store's index, and a heartbeat as of
 * the read that brought it (the store lists only live members; such a strategy reads no
 * figures, the heartbeat included).
 */
function memberView(member: FleetMember, readAt: number): NodeView {
  return { ...member, ...ZERO_FIGURES, heartbeatAt: readAt };
}
