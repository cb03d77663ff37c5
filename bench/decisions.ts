/**
 * One cell of the decision benchmark: decisions per second and latency of a tier-1
 * strategy against a real redis-server, for `npm run bench:decisions` and
 * `npm run policy:check`.
 */
import { invocationStrategy, type NodeView } from '@strata/policy-engine';
import { type NodeReport, RedisStateStore } from '../common/state';

/** Runs `decisions` decisions over `concurrency` connections; each decision is the strategy plus one reserve. */
export async function measureDecisions(
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

  const run = async (count: number, record: boolean) => {
    let next = 0;
    await Promise.all(
      dispatchers.map(async (store) => {
        for (let i = next++; i < count; i = next++) {
          const t0 = process.hrtime.bigint();
          const selection = decide();
          if (selection.kind !== 'select' || (await store.reserve(selection)).kind !== 'chosen')
            throw new Error('benchmark nodes ran out of room');
          if (record) latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
        }
      }),
    );
  };
  await run(Math.min(decisions, 2_000), false); // warm the JIT and the connections; not measured

  await admin.command(['CONFIG', 'RESETSTAT']);
  const sentBefore = dispatchers.reduce((sum, s) => sum + s.commandsSent, 0);
  const started = process.hrtime.bigint();
  await run(decisions, true);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sent = dispatchers.reduce((sum, s) => sum + s.commandsSent, 0) - sentBefore;
  const evalsha = commandStats(String(await admin.command(['INFO', 'commandstats']))).get('evalsha') ?? {
    calls: 0,
    usec: 0,
  };
  const selection = decide();
  const command = selection.kind === 'select' ? admin.reserveCommand(selection) : [];
  await Promise.all([admin, ...dispatchers].map((s) => s.close()));

  latencies.sort();
  return {
    command,
    strategy: strategyName,
    nodes: nodeCount,
    concurrency,
    decisions,
    decisionsPerSecond: decisions / seconds,
    p50Ms: latencies[Math.floor(decisions * 0.5)],
    p99Ms: latencies[Math.min(decisions - 1, Math.floor(decisions * 0.99))],
    roundTripsPerDecision: sent / decisions,
    evalshaPerDecision: evalsha.calls / decisions,
    redisUsPerDecision: evalsha.usec / Math.max(1, evalsha.calls),
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
