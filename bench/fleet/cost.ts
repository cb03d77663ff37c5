/**
 * Redis's cost per periodic call, by INFO commandstats: the µs Redis spends inside the
 * scripts a call runs (EVALSHA's usec), and, since Redis 7 counts the commands a script
 * calls too, which commands they ran and their share of that time (the rest is Lua's own).
 * One client, one call at a time, so each figure is one kind of call alone. Redis's CPU
 * (INFO used_cpu) is given beside it: it adds the network (reading each command and
 * writing its reply), which commandstats leaves out.
 */
import { invocationStrategy } from '@strata/policy-engine';
import type { RedisStateStore } from '../../common/state';
import { commandStats, computeId, redisCpuSeconds, registerFleet, standInReport } from './probe';

export interface CallCost {
  /** Redis µs inside scripts per operation (commandstats: EVALSHA usec over the operations). */
  readonly scriptUs: number;
  /** Of scriptUs, the µs inside the commands the scripts called: the rest is Lua's own. */
  readonly innerUs: number;
  /** Redis CPU µs per operation (INFO used_cpu_sys + used_cpu_user): the scripts and the network. */
  readonly cpuUs: number;
  /** EVALSHA calls per operation (round trips). */
  readonly evalsha: number;
  /** Commands the scripts called per operation, by command. */
  readonly inner: Record<string, number>;
}

/** Commandstats and CPU over `operations` runs of `work`. */
async function measure(
  store: RedisStateStore,
  operations: number,
  work: (i: number) => Promise<unknown>,
): Promise<CallCost> {
  await store.command(['CONFIG', 'RESETSTAT']);
  const cpuBefore = await redisCpuSeconds(store);
  for (let i = 0; i < operations; i++) await work(i);
  const cpuAfter = await redisCpuSeconds(store);
  const stats = await commandStats(store);
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
    cpuUs: per((cpuAfter - cpuBefore) * 1e6),
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
  store: RedisStateStore,
  n: number,
  options: { storage?: number; operations?: number } = {},
): Promise<Record<string, CallCost>> {
  const { storage = 6, operations = 2000 } = options;
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
  row.heartbeatWithStorage = await measure(store, operations, (i) => store.heartbeatWithStorage(report(i), ttlMs));
  // In a fleet the storage nodes' own heartbeats change the view several times a second, so a
  // compute node's heartbeat mostly carries it: the client's version dropped before each call.
  const held = store as unknown as { storageView: unknown };
  row.heartbeatWithStorageSent = await measure(store, operations, (i) => {
    held.storageView = undefined;
    return store.heartbeatWithStorage(report(i), ttlMs);
  });
  const strategy = invocationStrategy('power-of-two', {});
  row.decision = await measure(store, operations, async () => {
    const selection = strategy(
      [],
      { functionName: 'f', hops: 0 },
      { now: Date.now(), random: Math.random, heartbeatTtlMs: ttlMs },
    );
    if (selection.kind !== 'select') throw new Error('power-of-two did not select');
    const reservation = await store.reserve(selection);
    if (reservation.kind !== 'chosen') throw new Error('the fleet ran out of room');
    await reservation.release();
  });
  const { version } = await store.membership();
  row.membershipUnchanged = await measure(store, operations, () => store.membership(version));
  row.membershipChange = await measure(store, operations, (i) =>
    store.heartbeat({ ...report(i), draining: i % 2 === 0 }, ttlMs),
  );
  return row;
}

/** The issue's target load on one primary: heartbeats, decisions, dispatchers' membership reads and changes a second. */
export const TARGET = { heartbeats: 10_000, decisions: 10_000, dispatchers: 500, changes: 1 };

/**
 * Redis cores the target load takes at these costs (scripts' µs, commandstats): each node's
 * heartbeat with the view in its reply, the decisions, each dispatcher's read a second (one
 * change behind or none: both one short script), the changes.
 */
export function targetCores(row: Readonly<Record<string, CallCost>>): number {
  return (
    (TARGET.heartbeats * row.heartbeatWithStorageSent.scriptUs +
      TARGET.decisions * row.decision.scriptUs +
      TARGET.dispatchers * row.membershipUnchanged.scriptUs +
      TARGET.changes * row.membershipChange.scriptUs) /
    1e6
  );
}
