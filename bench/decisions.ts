/**
 * One cell of the decision benchmark: decisions per second and latency of a tier-1
 * strategy against a real redis-server, for `npm run bench:decisions` and
 * `npm run policy:check`.
 */
import { invocationStrategy, type NodeView } from '@strata/policy-engine';
import { type NodeReport, RedisStateStore } from '../common/state';
import { dispatcherPlace } from './fleet/probe';

/** Runs `decisions` decisions over `concurrency` connections; each decision is the strategy plus one reserve with its queue place, as the dispatcher's. */
export async function measureDecisions(
  url: string,
  strategyName: string,
  concurrency: number,
  decisions: number,
  nodeCount: number,
  options: Readonly<Record<string, unknown>> = {},
) {
  const prepared = await prepareDecisions(url, strategyName, concurrency, decisions, nodeCount, options);
  await prepared.warm();
  await prepared.run(decisions);
  return prepared.finish();
}

/**
 * A fleet registered and its dispatchers connected, ready to decide in batches: `run`
 * may be called several times (the decision benchmark's --interleave runs two fleets'
 * batches in turn, so that what disturbs the machine meanwhile disturbs both alike), and
 * the figures count only the time inside `run`. Redis's own time is read from the
 * server's commandstats, which `warm` resets: one fleet to a server.
 */
export async function prepareDecisions(
  url: string,
  strategyName: string,
  concurrency: number,
  decisions: number,
  nodeCount: number,
  options: Readonly<Record<string, unknown>> = {},
) {
  const keyPrefix = `bench-${strategyName}-${nodeCount}-${concurrency}-${Date.now()}`;
  const admin = await RedisStateStore.connect({ url, keyPrefix });
  // Registered in batches: the heartbeats are pipelined, each still one round trip.
  for (let i = 0; i < nodeCount; i += 256) {
    await Promise.all(
      Array.from({ length: Math.min(256, nodeCount - i) }, (_, j) => admin.heartbeat(benchNode(i + j), 600_000)),
    );
  }
  const dispatchers = await Promise.all(
    Array.from({ length: concurrency }, () => RedisStateStore.connect({ url, keyPrefix })),
  );
  const strategy = invocationStrategy(strategyName, options);
  // What a dispatcher refreshes in the background, not per decision: the membership, or every node for a custom strategy.
  const nodes: readonly NodeView[] = strategy.reads === 'membership' ? [] : await admin.liveNodes();
  const decide = () =>
    strategy(
      nodes,
      { functionName: 'wordcount', hops: 0 },
      { now: Date.now(), random: Math.random, heartbeatTtlMs: 600_000 },
    );
  const latencies = new Float64Array(decisions);
  let done = 0;
  let nanoseconds = 0n;
  let sentBefore = 0;

  const decideAll = async (count: number, record: boolean) => {
    let next = 0;
    await Promise.all(
      dispatchers.map(async (store) => {
        for (let i = next++; i < count; i = next++) {
          const t0 = process.hrtime.bigint();
          const selection = decide();
          if (
            selection.kind !== 'select' ||
            (await store.reserve(selection, undefined, dispatcherPlace())).kind !== 'chosen'
          )
            throw new Error('benchmark nodes ran out of room');
          if (record) latencies[done + i] = Number(process.hrtime.bigint() - t0) / 1e6;
        }
      }),
    );
  };
  return {
    /** Decisions not measured, to warm the JIT and the connections; then Redis's counters start from zero. */
    async warm(): Promise<void> {
      await decideAll(Math.min(decisions, 2_000), false);
      await admin.command(['CONFIG', 'RESETSTAT']);
      sentBefore = dispatchers.reduce((sum, s) => sum + s.commandsSent, 0);
    },
    /** `count` more measured decisions (of the `decisions` prepared for). */
    async run(count: number): Promise<void> {
      const n = Math.min(count, decisions - done);
      const started = process.hrtime.bigint();
      await decideAll(n, true);
      nanoseconds += process.hrtime.bigint() - started;
      done += n;
    },
    /** The figures over the measured decisions; closes the connections. */
    async finish() {
      const seconds = Number(nanoseconds) / 1e9;
      const sent = dispatchers.reduce((sum, s) => sum + s.commandsSent, 0) - sentBefore;
      const evalsha = commandStats(String(await admin.command(['INFO', 'commandstats']))).get('evalsha') ?? {
        calls: 0,
        usec: 0,
      };
      const selection = decide();
      const command = selection.kind === 'select' ? admin.reserveCommand(selection, undefined, dispatcherPlace()) : [];
      await Promise.all([admin, ...dispatchers].map((s) => s.close()));
      const measured = latencies.subarray(0, done).sort();
      return {
        command,
        strategy: strategyName,
        nodes: nodeCount,
        concurrency,
        decisions: done,
        decisionsPerSecond: done / seconds,
        p50Ms: measured[Math.floor(done * 0.5)],
        p99Ms: measured[Math.min(done - 1, Math.floor(done * 0.99))],
        roundTripsPerDecision: sent / done,
        evalshaPerDecision: evalsha.calls / done,
        redisUsPerDecision: evalsha.usec / Math.max(1, evalsha.calls),
      };
    },
  };
}

/** Calls and time per command from `INFO commandstats` (lines like `cmdstat_evalsha:calls=20000,usec=123456,...`). */
function commandStats(info: string): Map<string, { calls: number; usec: number }> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
  return stats;
}

/** A node with slots enough that no decision is refused (this measures the decision, not capacity) and a service time of its own. */
function benchNode(i: number): NodeReport {
  const id = `node-${String(i).padStart(5, '0')}`;
  return {
    id,
    address: '127.0.0.1:0',
    role: 'compute',
    slotsTotal: 1e9,
    slotsUsed: 0,
    cpuBusy: 0,
    memoryUsed: 0,
    load1: (i % 7) / 7,
    load5: 0,
    load15: 0,
    cores: 2,
    heartbeatAt: Date.now(),
    draining: false,
    serviceMs: 50 + (i % 3) * 50,
  };
}
