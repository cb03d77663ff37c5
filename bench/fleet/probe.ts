/**
 * The control-plane probe: Redis's own time (INFO commandstats, µs) for each call a node
 * or a dispatcher makes periodically, on a fleet registered as the metrics agents register
 * it, through RedisStateStore. The same probe gives the before and after figures of
 * docs/policies.md's cost model.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisStateStore } from '../../common/state';
import { type NodeReport, PLACE_HOLD_MS, type QueuePlace } from '../../common/state/types';

/** A stand-in node's report, as the metrics agent builds it. */
export function standInReport(id: string, role: 'compute' | 'storage', now: number, serviceMs?: number): NodeReport {
  return {
    id,
    address: `10.${(id.length * 7) % 250}.0.1:8080`,
    role,
    slotsTotal: 4,
    slotsUsed: 1,
    cpuBusy: 0.3,
    memoryUsed: 0.4,
    load1: 0.8,
    load5: 0.7,
    load15: 0.6,
    cores: 2,
    heartbeatAt: now,
    draining: false,
    ...(serviceMs === undefined ? {} : { serviceMs }),
  };
}

/**
 * Redis's CPU per call, in µs, for the `calls` commands `work` sends: INFO's used_cpu_sys +
 * used_cpu_user over them (CPU time: a busy machine that deschedules Redis does not inflate
 * it, as it does commandstats' wall-clock usec).
 */
export async function redisUsPerCall(
  store: RedisStateStore,
  calls: number,
  work: () => Promise<void>,
  idleCores = 0,
): Promise<number> {
  const before = await redisCpuSeconds(store);
  const started = performance.now();
  await work();
  const after = await redisCpuSeconds(store);
  // Less what Redis spends with nothing to do (its timers) over the window: on a slow client it is not small.
  const idle = (idleCores * (performance.now() - started)) / 1000;
  return (Math.max(0, after - before - idle) * 1e6) / calls;
}

/** Redis's CPU with nothing to do, in cores, over `ms`. */
export async function redisIdleCores(store: RedisStateStore, ms = 1000): Promise<number> {
  const before = await redisCpuSeconds(store);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ((await redisCpuSeconds(store)) - before) / ((performance.now() - started) / 1000);
}

/** Redis's CPU seconds so far, system and user (INFO cpu). */
export async function redisCpuSeconds(store: RedisStateStore): Promise<number> {
  const info = String(await store.command(['INFO', 'cpu']));
  return infoField(info, 'used_cpu_sys') + infoField(info, 'used_cpu_user');
}

const infoField = (info: string, name: string) =>
  Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);

/** Redis's CPU so far and how much of its reading and writing its I/O threads took (INFO cpu and stats). */
export interface RedisCpu {
  /** CPU seconds, system and user, all threads (used_cpu_sys + used_cpu_user). */
  readonly whole: number;
  /** CPU seconds of the main thread alone, which runs every command (used_cpu_*_main_thread, Redis 6.2 on). */
  readonly main: number;
  /** Of main, in user space (used_cpu_user_main_thread): the rest is the kernel's, mostly the sockets' reads and writes. */
  readonly mainUser: number;
  /** Clients' reads and writes done on the I/O-thread path (io_threaded_reads_processed, _writes_): 0 while it is off. */
  readonly threadedReads: number;
  readonly threadedWrites: number;
}

export async function redisCpu(store: RedisStateStore): Promise<RedisCpu> {
  const info = `${await store.command(['INFO', 'cpu'])}${await store.command(['INFO', 'stats'])}`;
  const field = (name: string) => infoField(info, name);
  return {
    whole: field('used_cpu_sys') + field('used_cpu_user'),
    main: field('used_cpu_sys_main_thread') + field('used_cpu_user_main_thread'),
    mainUser: field('used_cpu_user_main_thread'),
    threadedReads: field('io_threaded_reads_processed'),
    threadedWrites: field('io_threaded_writes_processed'),
  };
}

export interface CommandStat {
  readonly calls: number;
  readonly usec: number;
}

/** INFO commandstats as a map from command (lower case) to its calls and µs. */
export async function commandStats(store: RedisStateStore): Promise<Map<string, CommandStat>> {
  const info = String(await store.command(['INFO', 'commandstats']));
  const stats = new Map<string, CommandStat>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** Registers `n` compute nodes and `storage` storage nodes, ids c00001... and s01..., half with a service time. */
export async function registerFleet(store: RedisStateStore, n: number, storage: number, ttlMs: number): Promise<void> {
  const now = Date.now();
  const reports: NodeReport[] = [];
  for (let i = 0; i < n; i++)
    reports.push(standInReport(computeId(i), 'compute', now, i % 2 ? 20 + (i % 7) : undefined));
  for (let i = 0; i < storage; i++) reports.push(standInReport(storageId(i), 'storage', now));
  for (let i = 0; i < reports.length; i += 200) {
    await Promise.all(reports.slice(i, i + 200).map((r) => store.heartbeat(r, ttlMs)));
  }
}

/**
 * The place in the tier-1 queue that the dispatcher sends with every reservation (one per
 * invocation: lambdas/dispatcher/dispatcher.ts): while nobody waits, it costs the reserve
 * script one EXISTS, which the benchmarks count as a dispatcher's decision does.
 */
export const dispatcherPlace = (): QueuePlace => ({ id: randomUUID(), since: Date.now(), holdMs: PLACE_HOLD_MS });

export const computeId = (i: number) => `c${String(i).padStart(6, '0')}`;
export const storageId = (i: number) => `s${String(i).padStart(2, '0')}`;

/**
 * Each periodic call's Redis µs at one fleet size (the fleet registered under the store's
 * own key prefix, then each call timed alone): a heartbeat; a node's periodic view
 * (`liveNodes()` before, the storage nodes after); a tier-2 peer pick (reserve and release,
 * itself excluded); a dispatcher's catch-up one change behind.
 */
export async function probeFleet(store: RedisStateStore, n: number, storage = 6): Promise<Record<string, number>> {
  const ttlMs = 600_000;
  await registerFleet(store, n, storage, ttlMs);
  const calls = 500;
  const wholeReads = Math.max(5, Math.min(500, Math.floor(200_000 / n))); // liveNodes() is O(n): fewer of them
  const idle = await redisIdleCores(store);
  const now = Date.now();
  const row: Record<string, number> = {};
  row.heartbeat = await redisUsPerCall(
    store,
    calls,
    async () => {
      for (let i = 0; i < calls; i++) await store.heartbeat(standInReport(computeId(i % n), 'compute', now, 21), ttlMs);
    },
    idle,
  );
  row.liveNodes = await redisUsPerCall(
    store,
    wholeReads,
    async () => {
      for (let i = 0; i < wholeReads; i++) await store.liveNodes();
    },
    idle,
  );
  const withStorage = store as RedisStateStore & { storageNodes?: () => Promise<unknown> };
  if (withStorage.storageNodes) {
    row.storageNodes = await redisUsPerCall(store, calls, async () => {
      for (let i = 0; i < calls; i++) await withStorage.storageNodes!();
    });
  }
  // What a compute node sends now, once an interval: the heartbeat with the storage view in its reply.
  if (store.heartbeatWithStorage) {
    row.heartbeatWithStorage = await redisUsPerCall(
      store,
      calls,
      async () => {
        for (let i = 0; i < calls; i++)
          await store.heartbeatWithStorage(standInReport(computeId(i % n), 'compute', now, 21), ttlMs);
      },
      idle,
    );
  }
  // Tier 2 as the index answers it: the most free slots but this node (two EVALSHAs: reserve, release).
  row.peerPick = await redisUsPerCall(
    store,
    calls,
    async () => {
      for (let i = 0; i < calls; i++) {
        const peer = await store.reserve({ kind: 'select', rule: 'most-slots', exclude: [computeId(i % n)] });
        if (peer.kind === 'chosen') await peer.release();
      }
    },
    idle,
  );
  // A dispatcher one change behind: a node drains or comes back (one change), then the reader catches up.
  // Measured as the pair less the change alone, so that each call is timed over many.
  const change = (i: number) =>
    store.heartbeat({ ...standInReport(computeId(i % n), 'compute', now, 21), draining: i % 2 === 0 }, ttlMs);
  const changeAlone = await redisUsPerCall(
    store,
    calls,
    async () => {
      for (let i = 0; i < calls; i++) await change(i);
    },
    idle,
  );
  let { version } = await store.membership();
  const pair = await redisUsPerCall(
    store,
    calls,
    async () => {
      for (let i = calls; i < 2 * calls; i++) {
        await change(i);
        version = (await store.membership(version)).version;
      }
    },
    idle,
  );
  row.membershipOneChangeBehind = pair - changeAlone;
  return row;
}

/** The CPUs a process may use (Linux: `Cpus_allowed_list` in /proc/PID/status); 'unknown' where that cannot be read. */
export function allowedCpus(pid: number | string | undefined): string {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown'; // another machine's process, or not Linux
  }
}
