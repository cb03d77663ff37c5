import type { NoCapacity, NodeView, Selection } from '@strata/policy-engine';

/** What a node publishes about itself at each heartbeat: its view less the dispatchers' count. */
export type NodeReport = Omit<NodeView, 'inFlight'>;

/** A reserved node and the one way to give it back. `release` may be called more than once. */
export interface Reserved {
  readonly kind: 'chosen';
  readonly nodeId: string;
  /** In-flight count on the node right after this reservation. */
  readonly inFlight: number;
  readonly release: () => Promise<void>;
}

export type Reservation = Reserved | NoCapacity;

/**
 * The state the policies share between decisions and between dispatchers: the node
 * registry with its heartbeats, the in-flight counts, and the round-robin cursors.
 * Every call is one round trip and atomic.
 */
export interface StateStore {
  /** Registers the node or refreshes its figures. It is gone `ttlMs` after its last heartbeat, with its counts. */
  heartbeat(report: NodeReport, ttlMs: number): Promise<void>;
  /** Removes the node at once; reservations on it release to nothing. */
  deregister(nodeId: string): Promise<void>;
  /** The nodes whose heartbeat has not expired, with their live in-flight counts, sorted by id. */
  liveNodes(): Promise<NodeView[]>;
  /** Picks one candidate by the selection's rule and reserves it (in-flight + 1), atomically. */
  reserve(selection: Selection): Promise<Reservation>;
  close(): Promise<void>;
}

/** Builds the release callback a reservation carries: it acts once, however often it is called. */
export function releaseOnce(release: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= release());
}

export const NO_ROOM: NoCapacity = { kind: 'no-capacity', reason: 'every candidate is full or gone' };
