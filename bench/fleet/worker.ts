/**
 * One process of the fleet emulator (bin/bench-fleet.ts), forked with an IPC channel:
 * either a share of the stand-in nodes or the stand-in dispatchers. Each stand-in sends
 * the state store exactly what its real counterpart sends, through RedisStateStore:
 *
 * - a node (NodeBase, MetricsAgent, ComputeNode): a heartbeat each interval, a compute
 *   node's with its view of the storage nodes in the reply (heartbeatWithStorage()); tier-2 decisions at a
 *   given rate, each a peer pick from the index (its node policy's `peer`, itself
 *   excluded) held while the forward runs, then released; tier-3 decisions over the
 *   storage view (no call). Churn: nodes leave (deregister) and join back.
 * - a dispatcher (FleetView): its membership, read again once a second (the version,
 *   or the changes since it), and decisions by the tier-1 strategy, each a reservation
 *   released after the invocation's service time.
 * - the latency probe: one dispatcher at a low rate beside the others, each decision
 *   preceded by a PING on the same connection, and how late its own timer fired: what of
 *   its latency is the round trip and its own process, not the decision.
 *
 * What it does not copy is client-side work that costs Redis nothing (building node views,
 * the HTTP forward itself), so that two shared cores drive as much of the store as they can.
 */
import { getPriority } from 'node:os';
import {
  invocationStrategy,
  type NodeView,
  nodePolicy,
  offloadPolicy,
  type PolicyContext,
} from '@strata/policy-engine';
import { applyMembership, connectStateStore, type FleetMember, RedisStateStore } from '../../common/state';
import { allowedCpus, standInReport } from './probe';

/** Where the store is: its URL, and the cells over a Redis Cluster (`npm run bench:fleet -- --cells`). */
interface Layout {
  readonly url: string;
  /** @default 1 */
  readonly cells?: number;
  /** The URL names a node of a Redis Cluster. @default false */
  readonly cluster?: boolean;
}

export type WorkerConfig = Layout &
  (
    | {
        readonly role: 'nodes';
        readonly ids: readonly string[];
        readonly storageIds: readonly string[];
        readonly connections: number;
        readonly heartbeatMs: number;
        /** A node is gone this many intervals after its last heartbeat. */
        readonly ttlIntervals: number;
        /** Tier-2 decisions per node-second. */
        readonly tier2Rate: number;
        /** Membership changes a second this process makes (a node leaves, or one that left joins back). */
        readonly churnPerSecond: number;
        readonly nodePolicy: string;
        /** Slots each stand-in offers. */
        readonly slots: number;
      }
    | {
        readonly role: 'dispatchers';
        readonly dispatchers: number;
        /** Tier-1 decisions a second, over all of them. */
        readonly decisionsPerSecond: number;
        readonly strategy: string;
        /** How long an invocation holds its reservation. */
        readonly serviceMs: number;
        readonly refreshMs: number;
      }
    | {
        readonly role: 'probe';
        /** Tier-1 decisions a second: low, so that the probe's own process is not what it measures. */
        readonly decisionsPerSecond: number;
        readonly strategy: string;
        readonly serviceMs: number;
        readonly refreshMs: number;
      }
  );

/** What a worker measured over the window between 'start' and 'stop'. */
export interface WorkerReport {
  readonly heartbeats: number;
  /** Heartbeats sent, answered or not yet: what Redis ran, when the stand-ins are slower to read the answers than Redis is to give them. */
  readonly heartbeatsSent: number;
  /** How late each heartbeat finished after it was due, ms. */
  readonly heartbeatLagMs: number[];
  readonly storageReads: number;
  readonly tier2: number;
  readonly tier3: number;
  readonly changes: number;
  readonly decisions: number;
  /** Reservations sent, answered or not yet. */
  readonly decisionsSent: number;
  /** Each decision's round trip (the reservation), ms. */
  readonly decisionMs: number[];
  readonly membershipReads: number;
  /** The probe's decisions' round trips (the reservation), ms: kept apart from the dispatchers'. */
  readonly probeDecisionMs: number[];
  /** The PING round trip on the probe's connection just before each of its decisions, ms. */
  readonly probePingMs: number[];
  /** How late the probe's timer fired for each decision, ms: its own process's delay. */
  readonly probeTimerLagMs: number[];
  /** The probe's reservations that found every node full (a shorter path through the script). */
  readonly probeFull: number;
  /** Heartbeats and decisions not made because the one before was still on its way (a node's, a dispatcher's). */
  readonly missed: number;
  readonly errors: number;
  readonly firstError?: string;
}

type Message = { readonly kind: 'start' } | { readonly kind: 'stop' } | { readonly kind: 'exit' };

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]) as WorkerConfig;
  const stats = emptyStats();
  let measuring = false;
  const record = (fn: (s: Mutable<WorkerReport>) => void) => {
    if (measuring) fn(stats);
  };
  const fail = (error: unknown) => {
    stats.errors++;
    stats.firstError ??= error instanceof Error ? error.message : String(error);
  };
  const stop =
    config.role === 'nodes'
      ? await runNodes(config, record, fail)
      : config.role === 'dispatchers'
        ? await runDispatchers(config, record, fail)
        : await runProbe(config, record, fail);
  process.on('message', async (message: Message) => {
    if (message.kind === 'start') {
      Object.assign(stats, emptyStats());
      measuring = true;
    } else if (message.kind === 'stop') {
      measuring = false;
      process.send!({ kind: 'report', report: stats });
    } else {
      await stop();
      process.exit(0);
    }
  });
  process.send!({ kind: 'ready', placement: placement() });
}

/** Where this process runs: the CPUs it may use (Linux: /proc/self/status) and its nice value. */
function placement(): { cpus: string; nice: number } {
  return { cpus: allowedCpus('self'), nice: getPriority() };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Record_ = (fn: (s: Mutable<WorkerReport>) => void) => void;

function emptyStats(): Mutable<WorkerReport> {
  return {
    heartbeats: 0,
    heartbeatsSent: 0,
    heartbeatLagMs: [],
    storageReads: 0,
    tier2: 0,
    tier3: 0,
    changes: 0,
    decisions: 0,
    decisionsSent: 0,
    decisionMs: [],
    membershipReads: 0,
    probeDecisionMs: [],
    probePingMs: [],
    probeTimerLagMs: [],
    probeFull: 0,
    missed: 0,
    errors: 0,
  };
}

/** `count` stores, each its own connection (one per cell), as that many processes would hold. */
async function connections(layout: Layout, count: number) {
  const connect = () =>
    connectStateStore({ url: layout.url, cells: layout.cells, cluster: layout.cluster, replyTimeoutMs: 60_000 });
  const stores: Awaited<ReturnType<typeof connect>>[] = [];
  for (let i = 0; i < count; i += 50)
    stores.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, connect))));
  return stores;
}

/** The stand-in nodes: every node's heartbeat and storage view each interval, spread evenly over it. */
async function runNodes(
  config: Extract<WorkerConfig, { role: 'nodes' }>,
  record: Record_,
  fail: (error: unknown) => void,
): Promise<() => Promise<void>> {
  const stores = await connections(config, config.connections);
  const policy = nodePolicy(config.nodePolicy);
  const offload = offloadPolicy('thresholds');
  const ttlMs = config.ttlIntervals * config.heartbeatMs;
  const all = [
    ...config.ids.map((id) => ({ id, role: 'compute' as const })),
    ...config.storageIds.map((id) => ({ id, role: 'storage' as const })),
  ];
  const left = new Set<string>();
  const pending = new Set<string>();
  const views = new Map<string, readonly NodeView[]>();
  const context = (): PolicyContext => ({ now: Date.now(), random: Math.random, heartbeatTtlMs: ttlMs });
  const store = (i: number) => stores[i % stores.length];
  const standIn = (id: string, role: 'compute' | 'storage', now: number) => ({
    ...standInReport(id, role, now, 20),
    slotsTotal: config.slots,
  });

  // Registered before the run starts, as a fleet that is already up.
  for (let i = 0; i < all.length; i += 500) {
    await Promise.all(
      all.slice(i, i + 500).map((n, j) => store(i + j).heartbeat(standIn(n.id, n.role, Date.now()), ttlMs)),
    );
  }

  const started = Date.now();
  let tick = 0;
  // Node k is due at started + phase_k + m x interval; one timer walks the nodes in due order.
  const timer = setInterval(() => {
    const now = Date.now();
    const intervals = (now - started) / config.heartbeatMs;
    const upTo = Math.floor(intervals * all.length);
    for (; tick < upTo; tick++) {
      const k = tick % all.length;
      const node = all[k];
      if (left.has(node.id)) continue;
      const due = started + (tick / all.length) * config.heartbeatMs;
      const connection = store(k);
      // As the metrics agent, one heartbeat at a time: one still on its way lets this interval's pass.
      if (pending.has(node.id)) {
        record((s) => s.missed++);
        continue;
      }
      pending.add(node.id);
      record((s) => s.heartbeatsSent++);
      // A compute node's storage view comes back in its heartbeat's reply (NodeBase): one call an interval.
      const report = standIn(node.id, node.role, now);
      (node.role === 'compute'
        ? connection.heartbeatWithStorage(report, ttlMs).then((view) => {
            views.set(node.id, view);
            record((s) => s.storageReads++);
          })
        : connection.heartbeat(report, ttlMs)
      )
        .then(() =>
          record((s) => {
            s.heartbeats++;
            s.heartbeatLagMs.push(Date.now() - due);
          }),
        )
        .catch(fail)
        .finally(() => pending.delete(node.id));
      if (node.role !== 'compute') continue;
      // This node's decisions this interval: tier 2 (a peer from the index) and tier 3 (over its view).
      if (Math.random() < config.tier2Rate * (config.heartbeatMs / 1000)) {
        offload(views.get(node.id) ?? [], { functionName: 'wordcount', objectKey: 'k', hops: 0 }, context());
        connection
          .reserve(policy.peer!([node.id], context()), 5_000) // a built-in: it has an index pick
          .then(async (peer) => {
            record((s) => {
              s.tier2++;
              s.tier3++;
            });
            if (peer.kind === 'chosen') await peer.release();
          })
          .catch(fail);
      }
    }
  }, 5);

  // Churn: alternately a node leaves (deregisters, stops its heartbeat) and one that left joins back.
  const churn =
    config.churnPerSecond > 0
      ? setInterval(() => {
          const gone = [...left];
          if (gone.length > 0 && Math.random() < 0.5) {
            const id = gone[0];
            left.delete(id);
            store(0)
              .heartbeat(standIn(id, 'compute', Date.now()), ttlMs)
              .then(() => record((s) => s.changes++))
              .catch(fail);
          } else {
            const id = config.ids[Math.floor(Math.random() * config.ids.length)];
            if (left.has(id)) return;
            left.add(id);
            store(0)
              .deregister(id)
              .then(() => record((s) => s.changes++))
              .catch(fail);
          }
        }, 1000 / config.churnPerSecond)
      : undefined;

  return async () => {
    clearInterval(timer);
    clearInterval(churn);
    await Promise.all(stores.map((s) => s.close()));
  };
}

/** A dispatcher's view of the membership (as FleetView keeps it). */
interface DispatcherView {
  members: readonly FleetMember[];
  version: number | undefined;
  readAt: number;
}

type Store = Awaited<ReturnType<typeof connectStateStore>>;

/** What every stand-in dispatcher decides for. */
const INVOCATION = { functionName: 'wordcount', hops: 0 };

/** What FleetView.liveNodes() sends: nothing within the refresh interval, else the version or the changes since. */
async function refreshed(
  store: Store,
  view: DispatcherView,
  refreshMs: number,
  record: Record_,
): Promise<readonly NodeView[]> {
  if (Date.now() - view.readAt >= refreshMs) {
    view.readAt = Date.now();
    const update = await store.membership(view.version);
    record((s) => s.membershipReads++);
    view.members = applyMembership(view.members, update) ?? view.members;
    view.version = update.version;
  }
  return view.members as readonly NodeView[]; // an indexed strategy reads no figures
}

/**
 * A tier-1 decision as the dispatcher makes it: the strategy over the nodes, then one
 * reservation, released after the service time. Its round trip in ms and whether a node was
 * chosen; undefined when the strategy saw no capacity (nothing sent).
 */
async function reserveOnce(
  store: Store,
  nodes: readonly NodeView[],
  strategy: ReturnType<typeof invocationStrategy>,
  serviceMs: number,
  record: Record_,
  fail: (error: unknown) => void,
): Promise<{ ms: number; chosen: boolean } | undefined> {
  const selection = strategy(nodes, INVOCATION, { now: Date.now(), random: Math.random, heartbeatTtlMs: 3000 });
  if (selection.kind === 'no-capacity') return undefined;
  const started = performance.now();
  record((s) => s.decisionsSent++);
  // Without a queue place: the dispatcher, refused, keeps asking in arrival order until placed; a
  // stand-in does not, and places dropped at the first refusal held back every later reservation.
  const reservation = await store.reserve(selection);
  const ms = performance.now() - started;
  if (reservation.kind === 'chosen') setTimeout(() => void reservation.release().catch(fail), serviceMs);
  return { ms, chosen: reservation.kind === 'chosen' };
}

/** The stand-in dispatchers: each its own connection, its membership read at most once per refresh, decisions at an even rate. */
async function runDispatchers(
  config: Extract<WorkerConfig, { role: 'dispatchers' }>,
  record: Record_,
  fail: (error: unknown) => void,
): Promise<() => Promise<void>> {
  const stores = await connections(config, config.dispatchers);
  const strategy = invocationStrategy(config.strategy);
  const views: DispatcherView[] = stores.map(() => ({ members: [], version: undefined, readAt: -Infinity }));

  async function decide(d: number): Promise<void> {
    const nodes = await refreshed(stores[d], views[d], config.refreshMs, record);
    const decided = await reserveOnce(stores[d], nodes, strategy, config.serviceMs, record, fail);
    if (decided)
      record((s) => {
        s.decisions++;
        s.decisionMs.push(decided.ms);
      });
  }

  // Warm containers: each has read the membership before the run starts. One read stands for all of
  // them (the list is never changed in place), so that hundreds of full reads of a large fleet do not
  // spend the shared cores before the run; what is measured is the catch-up after that.
  const first = await stores[0].membership();
  for (const view of views)
    Object.assign(view, { members: first.members ?? [], version: first.version, readAt: Date.now() });

  // A Lambda container handles one invocation at a time: a dispatcher still busy lets its turn pass (counted as missed).
  const busy = new Array<boolean>(stores.length).fill(false);
  const started = Date.now();
  let made = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * config.decisionsPerSecond);
    for (; made < due; made++) {
      const d = made % stores.length;
      if (busy[d]) {
        record((s) => s.missed++);
        continue;
      }
      busy[d] = true;
      decide(d)
        .catch(fail)
        .finally(() => {
          busy[d] = false;
        });
    }
  }, 5);
  return async () => {
    clearInterval(timer);
    await Promise.all(stores.map((s) => s.close()));
  };
}

/**
 * The latency probe: one dispatcher, its decisions at an even low rate, one at a time; before
 * each, a PING on the same connection (the round trip with no script: the client, the kernel
 * and Redis's queue), and the lateness of its own timer (its process, starved or not).
 */
async function runProbe(
  config: Extract<WorkerConfig, { role: 'probe' }>,
  record: Record_,
  fail: (error: unknown) => void,
): Promise<() => Promise<void>> {
  const store = await RedisStateStore.connect({ url: config.url, replyTimeoutMs: 60_000 });
  const strategy = invocationStrategy(config.strategy);
  const first = await store.membership();
  const view: DispatcherView = { members: first.members ?? [], version: first.version, readAt: Date.now() };
  const periodMs = 1000 / config.decisionsPerSecond;
  let due = performance.now() + periodMs;
  let busy = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function decide(lagMs: number): Promise<void> {
    const nodes = await refreshed(store, view, config.refreshMs, record);
    const pingStarted = performance.now();
    await store.command(['PING']);
    const pingMs = performance.now() - pingStarted;
    const decided = await reserveOnce(store, nodes, strategy, config.serviceMs, record, fail);
    if (decided)
      record((s) => {
        s.probeDecisionMs.push(decided.ms);
        s.probePingMs.push(pingMs);
        s.probeTimerLagMs.push(lagMs);
        if (!decided.chosen) s.probeFull++;
      });
  }

  // Each tick due at an even pace; one still on its way lets its turn pass (counted as missed).
  const tick = () => {
    if (stopped) return;
    const lagMs = performance.now() - due;
    due += periodMs;
    timer = setTimeout(tick, Math.max(0, due - performance.now()));
    if (busy) return record((s) => s.missed++);
    busy = true;
    decide(lagMs)
      .catch(fail)
      .finally(() => {
        busy = false;
      });
  };
  timer = setTimeout(tick, periodMs);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await store.close();
  };
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
