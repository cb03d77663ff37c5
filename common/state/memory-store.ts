import { applySelection, byId, type NodeView, type Selection } from '@strata/policy-engine';
import { NO_ROOM, releaseOnce, type NodeReport, type Reservation, type StateStore } from './types';

interface Entry {
  report: NodeReport;
  inFlight: number;
  /** Changes when a node registers anew, so that releases from its previous life do nothing. */
  epoch: number;
  expiresAt: number;
}

/**
 * The state store inside one process: the embedded default for a local run and the
 * twin of the Redis store in tests. JavaScript runs each call to completion, so every
 * call is atomic without locks.
 */
export class MemoryStateStore implements StateStore {
  private readonly entries = new Map<string, Entry>();
  private readonly cursors = new Map<string, number>();
  private epochs = 0;

  /** @param now the clock that expires heartbeats, in ms; injectable for tests */
  constructor(private readonly now: () => number = Date.now) {}

  async heartbeat(report: NodeReport, ttlMs: number): Promise<void> {
    const entry = this.live(report.id) ?? { inFlight: 0, epoch: ++this.epochs, report, expiresAt: 0 };
    entry.report = { ...report };
    entry.expiresAt = this.now() + ttlMs;
    this.entries.set(report.id, entry);
  }

  async deregister(nodeId: string): Promise<void> {
    this.entries.delete(nodeId);
  }

  async liveNodes(): Promise<NodeView[]> {
    const nodes: NodeView[] = [];
    for (const id of [...this.entries.keys()]) {
      const entry = this.live(id);
      if (entry) nodes.push({ ...entry.report, inFlight: entry.inFlight });
    }
    return nodes.sort(byId);
  }

  async reserve(selection: Selection): Promise<Reservation> {
    let cursor = 0;
    if (selection.rule === 'rotate') {
      cursor = (this.cursors.get(selection.cursor) ?? 0) + 1;
      this.cursors.set(selection.cursor, cursor);
    }
    const index = applySelection(selection, (id) => this.live(id)?.inFlight, cursor);
    if (index === -1) return NO_ROOM;
    const nodeId = selection.candidates[index].id;
    const entry = this.live(nodeId)!;
    entry.inFlight += 1;
    const { epoch } = entry;
    return {
      kind: 'chosen',
      nodeId,
      inFlight: entry.inFlight,
      release: releaseOnce(async () => {
        const current = this.live(nodeId);
        if (current && current.epoch === epoch && current.inFlight > 0) current.inFlight -= 1;
      }),
    };
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  /** The node's entry while its heartbeat holds; an expired one is dropped with its counts. */
  private live(nodeId: string): Entry | undefined {
    const entry = this.entries.get(nodeId);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(nodeId);
      return undefined;
    }
    return entry;
  }
}
