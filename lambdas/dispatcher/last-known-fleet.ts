import {
  applyIndexed,
  applySelection,
  type CandidateSelection,
  type FleetColumns,
  type IndexedSelection,
  indexServiceMs,
  isIndexed,
  type NodeView,
  type Selection,
} from '@strata/policy-engine';
import { type FleetMember, type MemberChange, NO_ROOM, type Reservation, releaseOnce } from '../../common/state';

/**
 * What the dispatcher decides over while the shared state is away: the fleet as it was
 * last read, and the invocations this dispatcher has in flight on each node (it cannot
 * see the other dispatchers' while the state is away). Its counts live in this process
 * only, so they need no lease: they go when the process goes.
 *
 * A fleet read as membership only (for a strategy over the store's index) carries no
 * figures: its index ranks the nodes by this dispatcher's counts alone, every node alike
 * in load and service time. A fleet read with its figures ranks by them as last read.
 */
export class LastKnownFleet {
  private readonly inFlight = new Map<string, number>();
  private readonly cursors = new Map<string, number>();
  private byId = new Map<string, FleetMember | NodeView>();

  /** Takes the fleet as just read; the counts of nodes still in it are kept. */
  remember(nodes: readonly (FleetMember | NodeView)[]): void {
    this.byId = new Map(nodes.map((node) => [node.id, node]));
    for (const id of this.inFlight.keys()) if (!this.byId.has(id)) this.inFlight.delete(id);
  }

  /** Applies membership changes to the fleet in hand, O(changes): a node that left takes its counts with it. */
  change(changes: readonly MemberChange[]): void {
    for (const { id, member } of changes) {
      if (member) {
        this.byId.set(id, member);
      } else {
        this.byId.delete(id);
        this.inFlight.delete(id);
      }
    }
  }

  /** Picks a node by the selection's rule, as the state store would, and counts it in flight here. */
  reserve(selection: Selection): Reservation {
    const nodeId = isIndexed(selection) ? this.pickIndexed(selection) : this.pickCandidate(selection);
    const node = nodeId === undefined ? undefined : this.byId.get(nodeId);
    if (!node) return NO_ROOM;
    const inFlight = this.count(node.id) + 1;
    this.inFlight.set(node.id, inFlight);
    return {
      kind: 'chosen',
      nodeId: node.id,
      address: node.address,
      inFlight,
      release: releaseOnce(async () => {
        const count = this.inFlight.get(node.id);
        if (count !== undefined && count > 0) this.inFlight.set(node.id, count - 1);
      }),
    };
  }

  private count(id: string): number {
    return this.inFlight.get(id) ?? 0;
  }

  private pickCandidate(selection: CandidateSelection): string | undefined {
    const { candidates } = selection;
    if (candidates.length === 0) return undefined;
    const index = applySelection(
      selection,
      (id) => (this.byId.has(id) ? this.count(id) : undefined),
      selection.rule === 'rotate' ? this.advance(selection.cursor) : 0,
    );
    return index === -1 ? undefined : candidates[index].id;
  }

  private pickIndexed(selection: IndexedSelection): string | undefined {
    const cursor = selection.rule === 'round-robin' ? this.advance(selection.cursor) : 0;
    const excluded = new Set(selection.exclude ?? []);
    const nodes = [...this.byId.values()]
      .filter((n) => n.role === 'compute' && !n.draining && !excluded.has(n.id))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const fleet = this.columns(nodes);
    const index = applyIndexed(selection, fleet, cursor);
    return index === -1 ? undefined : fleet.ids[index];
  }

  /** The index's columns over the eligible nodes: figures as last read, or none for a membership read. */
  private columns(nodes: readonly (FleetMember | NodeView)[]): FleetColumns {
    const figures = nodes.map((n) => ('heartbeatAt' in n ? n : undefined));
    const history = figures.flatMap((f) => (f?.serviceMs === undefined ? [] : [f.serviceMs]));
    return {
      ids: nodes.map((n) => n.id),
      inFlight: nodes.map((n) => this.count(n.id)),
      slots: nodes.map((n) => n.slotsTotal),
      slotsUsed: figures.map((f) => f?.slotsUsed ?? 0),
      loadPerCore: figures.map((f) => (f ? f.load1 / Math.max(1, f.cores) : 0)),
      serviceMs: figures.map((f) => indexServiceMs(f?.serviceMs, history)),
    };
  }

  private advance(cursor: string): number {
    const value = (this.cursors.get(cursor) ?? 0) + 1;
    this.cursors.set(cursor, value);
    return value;
  }
}
