/**
 * Redis's cost per periodic call, by INFO commandstats: the µs Redis spends inside the
 * scripts a call runs (EVALSHA's usec), and, since Redis 7 counts the commands a script
 * calls too, which commands they ran and their share of that time (the rest is Lua's own).
 * One kind of call at a time, from one client or several at once. Redis's CPU (INFO
 * used_cpu) is given beside it: it adds the network (reading each command and writing its
 * reply), which commandstats leaves out; and its main thread's CPU (used_cpu_*_main_thread),
 * the one core that cannot be scaled when I/O threads (`io-threads`) do the reading and
 * writing, as on ElastiCache with enhanced I/O.
 */
import { invocationStrategy } from '@strata/policy-engine';
import type { RedisStateStore } from '../../common/state';
import { commandStats, computeId, dispatcherPlace, redisCpu, registerFleet, standInReport } from './probe';

export interface CallCost {
  /** Redis µs inside scripts per operation (commandstats: EVALSHA usec over the operations). */
  readonly scriptUs: number;
  /** Of scriptUs, the µs inside the commands the scripts called: the rest is Lua's own. */
  readonly innerUs: number;
  /** Redis CPU µs per operation (INFO used_cpu_sys + used_cpu_user): the scripts and the network. */
  readonly cpuUs: number;
  /** Of cpuUs, the main thread's (used_cpu_*_main_thread): all of it without I/O threads. */
  readonly mainUs: number;
  /** Of mainUs, in user space: without the kernel's share (the sockets' reads and writes, which I/O threads take over). */
  readonly mainUserUs: number;
  /** Redis's whole CPU and its main thread's over the window, in cores: how busy it was kept. */
  readonly cores: number;
  readonly mainCores: number;
  /** Client reads on the I/O-thread path per EVALSHA (io_threaded_reads_processed): 0 when the threads stayed off. */
  readonly threadedReads: number;
  /** EVALSHA calls per operation (round trips). */
  readonly evalsha: number;
  /** Commands the scripts called per operation, by command. */
  readonly inner: Record<string, number>;
}

/** Commandstats and CPU over `operations` runs of `work`, spread over the stores (one connection each), all at once. */
async function measure(
  stores: readonly RedisStateStore[],
  operations: number,
  work: (i: number, store: RedisStateStore) => Promise<unknown>,
): Promise<CallCost> {
  const admin = stores[0];
  await admin.command(['CONFIG', 'RESETSTAT']);
  const before = await redisCpu(admin);
  const started = performance.now();
  // Each store its share of the operations, one at a time: as many calls in flight as stores.
  await Promise.all(
    stores.map(async (store, c) => {
      for (let i = c; i < operations; i += stores.length) await work(i, store);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = await redisCpu(admin);
  const stats = await commandStats(admin);
  const per = (value: number) => Math.round((value / operations) * 100) / 100;
  const inner: Record<string, number> = {};
  let innerUsec = 0;
  for (const [name, stat] of stats) {
    if (name === 'evalsha' || name === 'info' || name.startsWith('config')) continue;
    inner[name] = per(stat.calls);
    innerUsec += stat.usec;
  }
  const evalsha = stats.get('evalsha') ?? { calls: 0, usec: 0 };
  return {
    scriptUs: per(evalsha.usec),
    innerUs: per(innerUsec),
    cpuUs: per((after.whole - before.whole) * 1e6),
    mainUs: per((after.main - before.main) * 1e6),
    mainUserUs: per((after.mainUser - before.mainUser) * 1e6),
    cores: Math.round(((after.whole - before.whole) / seconds) * 1000) / 1000,
    mainCores: Math.round(((after.main - before.main) / seconds) * 1000) / 1000,
    threadedReads:
      evalsha.calls > 0 ? Math.round(((after.threadedReads - before.threadedReads) / evalsha.calls) * 100) / 100 : 0,
    evalsha: per(evalsha.calls),
    inner,
  };
}

/**
 * Each periodic operation's cost on a fleet of `n` compute nodes and `storage` storage
 * nodes, registered under the store's key prefix: a compute node's heartbeat with its
 * storage view (its figures moved, its membership not), the view unchanged since its last
 * heartbeat, then changed (sent in the reply); a tier-1 decision (power-of-two:
 * reserve, then release); a dispatcher's membership read while unchanged; a membership
 * change (a node drains, or comes back).
 */
export async function costAt(
  stores: readonly RedisStateStore[],
  n: number,
  options: { storage?: number; operations?: number } = {},
): Promise<Record<string, CallCost>> {
  const { storage = 6, operations = 2000 } = options;
  const [store] = stores;
  const ttlMs = 600_000;
  await registerFleet(store, n, storage, ttlMs);
  const started = Date.now();
  // Each heartbeat's figures differ from the node's last ones, as a real node's do.
  const report = (i: number) => ({
    ...standInReport(computeId(i % n), 'compute', started + i, 20 + (i % 5)),
    load1: (i % 13) / 10,
    cpuBusy: (i % 11) / 10,
  });
  // Every node has sent a heartbeat with its view already, as in a running fleet.
  for (let i = 0; i < Math.min(n, operations); i++) await store.heartbeatWithStorage(report(i), ttlMs);
  const row: Record<string, CallCost> = {};
  row.heartbeatWithStorage = await measure(stores, operations, (i, s) => s.heartbeatWithStorage(report(i), ttlMs));
  // In a fleet the storage nodes' own heartbeats change the view several times a second, so a
  // compute node's heartbeat mostly carries it: the client's version dropped before each call.
  row.heartbeatWithStorageSent = await measure(stores, operations, (i, s) => {
    (s as unknown as { storageView: unknown }).storageView = undefined;
    return s.heartbeatWithStorage(report(i), ttlMs);
  });
  const strategy = invocationStrategy('power-of-two', {});
  row.decision = await measure(stores, operations, async (_, s) => {
    const selection = strategy(
      [],
      { functionName: 'f', hops: 0 },
      { now: Date.now(), random: Math.random, heartbeatTtlMs: ttlMs },
    );
    if (selection.kind !== 'select') throw new Error('power-of-two did not select');
    const reservation = await s.reserve(selection, undefined, dispatcherPlace());
    if (reservation.kind !== 'chosen') throw new Error('the fleet ran out of room');
    await reservation.release();
  });
  const { version } = await store.membership();
  row.membershipUnchanged = await measure(stores, operations, (_, s) => s.membership(version));
  row.membershipChange = await measure(stores, operations, (i, s) =>
    s.heartbeat({ ...report(i), draining: i % 2 === 0 }, ttlMs),
  );
  return row;
}

/** The issue's target load on one primary: heartbeats, decisions, dispatchers' membership reads and changes a second. */
export const TARGET = { heartbeats: 10_000, decisions: 10_000, dispatchers: 500, changes: 1 };

/**
 * Redis cores the target load takes at these costs (by default the scripts' µs, commandstats;
 * or Redis's whole CPU, or its main thread's): each node's heartbeat with the view in its
 * reply, the decisions, each dispatcher's read a second (one change behind or none: both one
 * short script), the changes.
 */
export function targetCores(
  row: Readonly<Record<string, CallCost>>,
  figure: 'scriptUs' | 'cpuUs' | 'mainUs' | 'mainUserUs' = 'scriptUs',
): number {
  return (
    (TARGET.heartbeats * row.heartbeatWithStorageSent[figure] +
      TARGET.decisions * row.decision[figure] +
      TARGET.dispatchers * row.membershipUnchanged[figure] +
      TARGET.changes * row.membershipChange[figure]) /
    1e6
  );
}
