/**
 * Fleet emulator: what a fleet of n nodes and hundreds of dispatchers costs one Redis
 * primary. Light stand-in nodes in a few processes send the store exactly what real
 * nodes send (bench/fleet/worker.ts); stand-in dispatchers make tier-1 decisions beside
 * them; nodes leave and join. For each fleet size, two phases on a real redis-server:
 * the nodes alone (what each node costs), then with the dispatchers (what a decision
 * costs, and its latency under that background). Redis's CPU comes from INFO
 * (used_cpu_sys + used_cpu_user), its commands from INFO commandstats.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUILT_IN_NAMES } from '@strata/policy-engine';
import { type CallCost, costAt, TARGET, targetCores } from '../bench/fleet/cost';
import { allowedCpus, commandStats, computeId, probeFleet, redisCpuSeconds, storageId } from '../bench/fleet/probe';
import type { WorkerConfig, WorkerReport } from '../bench/fleet/worker';
import { exitWith, wholeNumber } from '../common/cli';
import { cellPrefixes, RedisStateStore } from '../common/state';
import { hashSlot, primaryOf } from '../common/state/cluster';
import { RespClient } from '../common/state/resp-client';
import { summarize } from '../common/stats';
import { startRedisCluster } from '../local/redis-cluster';
import { startRedisServer } from '../local/redis-server';

const USAGE = `usage: npm run bench:fleet -- [--nodes 100,1000,10000] [--seconds 10] [--dispatchers 500]
  [--decisions 10000] [--churn 1] [--tier2-rate 0.05] [--heartbeat-ms 1000] [--ttl-intervals 60]
  [--node-processes 2] [--dispatcher-processes 2]
  [--connections 16] [--strategy power-of-two] [--node-policy most-slots] [--service-ms 20]
  [--storage 6] [--slots 4] [--probe-rate 0] [--pin] [--redis URL] [--out FILE]
       npm run bench:fleet -- --cells 1,2,3 [--primaries 3] [--nodes 1000] [other flags as above]
       npm run bench:fleet -- --probe 10,100,1000,5000
       npm run bench:fleet -- --cost 10,1000,10000 [--repeat 3] [--clients 1] [--io-threads 1]

For each fleet size: Redis CPU per node-second with the nodes alone (heartbeat, storage view,
tier-2 picks, churn), then with the dispatchers: Redis CPU per decision, decision p50 and p99,
heartbeat lag, commands per second; the rates reached, and the projection to the full rate where
the machine's cores cannot drive it. --decisions is the target rate over all dispatchers, per
second; --churn the membership changes per second; --tier2-rate the tier-2 decisions per
node-second; --ttl-intervals how many heartbeat intervals a stand-in stays listed without one
(the agents use 3; more here, so that a stand-in the shared cores starve is not taken for gone
and the fleet does not churn by itself). --slots is what each stand-in node offers (a
small fleet with few slots turns most decisions away, a shorter path through the script). --probe-rate adds a latency probe beside the dispatchers:
one more dispatcher, in a process of its own, making that many decisions a second, each after a
PING on its connection (its decision p50/p99 beside its PING's, and its own timer's lateness).
--pin (Linux, two CPUs or more) starts redis-server on CPU 0 (taskset) and the stand-ins on CPU 1
at nice 10, the probe on CPU 1 at normal priority, so that Redis has a core of its own and the probe
is not queued behind the stand-ins. Starts its own redis-server unless --redis is given. --probe prints Redis's own µs
per periodic call at each fleet size (bench/fleet/probe.ts) instead. --cost prints Redis's µs inside
the scripts (INFO commandstats) per heartbeat, decision, membership read and change, and which
commands they ran (bench/fleet/cost.ts), the sizes interleaved --repeat times (the least disturbed
figure of each kept), and the Redis cores of the target load (10,000 heartbeats, 10,000 decisions,
500 dispatchers' reads and 1 change a second), by the scripts' time, Redis's whole CPU and its
main thread's (INFO used_cpu_*_main_thread); --clients that many connections at once, each one call
at a time; --io-threads starts redis-server with that many I/O threads (io-threads-do-reads yes), as
ElastiCache's enhanced I/O, and gives the share of commands read on their path (Redis 7.0 uses them
only while at least twice as many clients wait for a reply: give --clients 16 or more). --cells runs the same on a
Redis Cluster of --primaries primaries it starts (redis-server with cluster-enabled), the fleet
split into each number of cells in turn (common/state/cells.ts), and gives each primary's CPU.
Writes JSON to FILE (default bench/results/fleet.json, fleet-cells.json with --cells, or
fleet-probe.json with --probe, fleet-cost.json with --cost).`;

interface Phase {
  readonly seconds: number;
  /** Redis's CPU over the window, in cores, less its idle cost (measured before the workers start). */
  readonly redisCores: number;
  /** The same with its idle cost in. */
  readonly redisCoresRaw: number;
  /** Redis's wall-clock time inside the scripts (commandstats' EVALSHA usec), in cores: inflated when a busy machine deschedules Redis mid-script, so the CPU figures above are the ones to read. */
  readonly scriptCores: number;
  readonly commandsPerSecond: number;
  readonly evalshaPerSecond: number;
  /** Each command's calls a second (INFO commandstats: those the scripts ran included). */
  readonly commandRates: Readonly<Record<string, number>>;
  readonly heartbeatsPerSecond: number;
  /** Heartbeats sent a second (answered or not): each one node-interval of work for Redis. */
  readonly heartbeatsSentPerSecond: number;
  readonly heartbeatLagP50Ms: number;
  readonly heartbeatLagP99Ms: number;
  readonly storageReadsPerSecond: number;
  readonly tier2PerSecond: number;
  readonly changesPerSecond: number;
  readonly decisionsPerSecond: number;
  readonly decisionsSentPerSecond: number;
  readonly decisionP50Ms: number;
  readonly decisionP99Ms: number;
  readonly membershipReadsPerSecond: number;
  /** The latency probe's decisions (--probe-rate): answered, p50 and p99, ms; NaN without it. */
  readonly probeDecisions: number;
  /** Of them, those that found every node full. */
  readonly probeFull: number;
  readonly probeDecisionP50Ms: number;
  readonly probeDecisionP99Ms: number;
  /** The PING round trip just before each of them, on the same connection. */
  readonly probePingP50Ms: number;
  readonly probePingP99Ms: number;
  /** How late the probe's own timer fired: its process's delay, in its latency only if it reaches the call. */
  readonly probeTimerLagP99Ms: number;
  /** Heartbeats and decisions let pass a second because the one before was still on its way: the stand-ins' cores were short. */
  readonly missedPerSecond: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Each primary's CPU over the window, in cores, less its idle cost: on a Redis Cluster, one per primary. */
  readonly coresByPrimary: readonly number[];
  /** Each primary's scripts a second (EVALSHA calls). */
  readonly scriptsByPrimary: readonly number[];
}

interface Row {
  readonly nodes: number;
  /** Where redis-server and each worker ran: the CPUs each may use (Linux), and the workers' nice values. */
  readonly placement: { readonly redisCpus: string; readonly workers: readonly (Placement & { role: string })[] };
  /** Cells the fleet was split into (1: the store without cells). */
  readonly cells: number;
  /** Each primary's CPU with nothing to do, in cores (one for a single redis-server). */
  readonly idleCoresByPrimary: readonly number[];
  /** Redis's CPU with nothing to do, in cores: taken off each phase's. */
  readonly idleCores: number;
  readonly nodesOnly: Phase;
  readonly withDispatchers: Phase;
  /** Redis CPU µs per node-second, from the nodes-only phase, at the heartbeat rate it reached. */
  readonly redisUsPerNodeSecond: number;
  /** Redis CPU µs per decision (its reservation, release and the membership reads), over what the nodes cost. */
  readonly redisUsPerDecision: number;
  /** Redis cores for this fleet heartbeating at full rate plus `decisions` a second, from the two figures above. */
  readonly projectedCores: number;
  /** The same three from the scripts' wall-clock time (commandstats): see Phase.scriptCores. */
  readonly scriptUsPerNodeSecond: number;
  readonly scriptUsPerDecision: number;
  readonly projectedScriptCores: number;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        nodes: { type: 'string', default: '100,1000,10000' },
        seconds: { type: 'string', default: '10' },
        dispatchers: { type: 'string', default: '500' },
        decisions: { type: 'string', default: '10000' },
        churn: { type: 'string', default: '1' },
        'tier2-rate': { type: 'string', default: '0.05' },
        'heartbeat-ms': { type: 'string', default: '1000' },
        'ttl-intervals': { type: 'string', default: '60' },
        'node-processes': { type: 'string', default: '2' },
        'dispatcher-processes': { type: 'string', default: '2' },
        connections: { type: 'string', default: '16' },
        strategy: { type: 'string', default: 'power-of-two' },
        'node-policy': { type: 'string', default: 'most-slots' },
        'service-ms': { type: 'string', default: '20' },
        storage: { type: 'string', default: '6' },
        slots: { type: 'string', default: '4' },
        redis: { type: 'string' },
        probe: { type: 'string' },
        cost: { type: 'string' },
        repeat: { type: 'string', default: '1' },
        clients: { type: 'string', default: '1' },
        'io-threads': { type: 'string', default: '1' },
        'probe-rate': { type: 'string', default: '0' },
        pin: { type: 'boolean', default: false },
        cells: { type: 'string' },
        primaries: { type: 'string', default: '3' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const results = join(__dirname, '..', 'bench', 'results');
  const probeSizes = values.probe?.split(',').map((n) => wholeNumber('probe', n, 1));
  const fleets = values.nodes.split(',').map((n) => wholeNumber('nodes', n, 1));
  const tier2Rate = Number(values['tier2-rate']);
  if (!(tier2Rate >= 0 && tier2Rate <= 1000))
    exitWith(2, `--tier2-rate must be a number from 0 to 1000, got "${values['tier2-rate']}"`);
  // The built-ins: each tier-2 one picks its peer over the index, which is what this measures.
  if (!BUILT_IN_NAMES.invocation.includes(values.strategy))
    exitWith(2, `--strategy must be one of ${BUILT_IN_NAMES.invocation.join(', ')}, got "${values.strategy}"`);
  if (!BUILT_IN_NAMES.node.includes(values['node-policy']))
    exitWith(2, `--node-policy must be one of ${BUILT_IN_NAMES.node.join(', ')}, got "${values['node-policy']}"`);
  const settings = {
    seconds: wholeNumber('seconds', values.seconds, 1),
    dispatchers: wholeNumber('dispatchers', values.dispatchers, 1),
    decisions: wholeNumber('decisions', values.decisions, 0),
    churn: wholeNumber('churn', values.churn, 0),
    tier2Rate,
    heartbeatMs: wholeNumber('heartbeat-ms', values['heartbeat-ms'], 10),
    ttlIntervals: wholeNumber('ttl-intervals', values['ttl-intervals'], 2),
    nodeProcesses: wholeNumber('node-processes', values['node-processes'], 1),
    dispatcherProcesses: wholeNumber('dispatcher-processes', values['dispatcher-processes'], 1),
    connections: wholeNumber('connections', values.connections, 1),
    strategy: values.strategy,
    nodePolicy: values['node-policy'],
    serviceMs: wholeNumber('service-ms', values['service-ms'], 0),
    storage: wholeNumber('storage', values.storage, 0),
    slots: wholeNumber('slots', values.slots, 1),
    probeRate: wholeNumber('probe-rate', values['probe-rate'], 0),
    pin: values.pin,
  };
  const ioThreads = wholeNumber('io-threads', values['io-threads'], 1);
  if (ioThreads > 128) exitWith(2, `--io-threads must be a whole number from 1 to 128, got "${values['io-threads']}"`);
  if (settings.probeRate > 1000)
    exitWith(2, `--probe-rate must be a whole number from 0 to 1000, got "${values['probe-rate']}"`);
  if (values.redis && (ioThreads > 1 || values.pin))
    exitWith(2, '--io-threads and --pin start their own redis-server: leave out --redis');
  if (values.pin && availableParallelism() < 2)
    exitWith(2, '--pin needs two CPUs or more: one for Redis, one for the rest');
  if (values.cells) {
    const cellCounts = values.cells.split(',').map((n) => wholeNumber('cells', n, 1));
    if (cellCounts.some((c) => c > 64))
      exitWith(2, `--cells must be whole numbers from 1 to 64, got "${values.cells}"`);
    const primaries = wholeNumber('primaries', values.primaries, 1);
    if (values.redis) exitWith(2, '--cells starts its own Redis Cluster: leave out --redis');
    if (values.pin || settings.probeRate > 0 || ioThreads > 1)
      exitWith(2, '--pin, --probe-rate and --io-threads are for one redis-server: leave them out with --cells');
    return runCells(
      cellCounts,
      primaries,
      values.nodes === '100,1000,10000' ? [1000] : fleets,
      settings,
      values.out ?? join(results, 'fleet-cells.json'),
    );
  }
  // Checked before the server starts: exitWith ends the process without stopping it.
  const costSizes = values.cost?.split(',').map((n) => wholeNumber('cost', n, 1));
  const repeat = wholeNumber('repeat', values.repeat, 1);
  const clients = wholeNumber('clients', values.clients, 1);
  // Each client holds a reservation at a time: the smallest fleet's slots (4 a node) must cover them.
  if (costSizes && clients > 4 * Math.min(...costSizes))
    exitWith(2, `--clients must be at most 4 x the smallest --cost fleet (its slots), got "${values.clients}"`);
  const server = values.redis
    ? undefined
    : await startRedisServer({
        flags: ioThreads > 1 ? ['--io-threads', String(ioThreads), '--io-threads-do-reads', 'yes'] : [],
        ...(values.pin ? { commandPrefix: ['taskset', '-c', String(REDIS_CPU)] } : {}),
      });
  const url = values.redis ?? server!.url;
  try {
    if (probeSizes) return await probe(url, probeSizes, values.out ?? join(results, 'fleet-probe.json'));
    if (costSizes)
      return await cost(url, costSizes, repeat, clients, ioThreads, values.out ?? join(results, 'fleet-cost.json'));
    console.log(
      values.pin
        ? `Pinned: redis-server on CPU ${REDIS_CPU} (taskset); the stand-ins on CPU ${REST_CPU} at nice 10, the latency probe on CPU ${REST_CPU} at nice 0.`
        : 'The machine is shared (two cores, other work on it): the emulator, its stand-ins and redis-server share them.',
    );
    const rows: Row[] = [];
    for (const n of fleets) {
      const row = await runFleet({ url, adminUrls: [url], cells: 1, cluster: false }, n, settings, !values.redis);
      rows.push(row);
      printRow(row, settings.decisions);
    }
    printTargets(rows, settings.decisions);
    const out = values.out ?? join(results, 'fleet.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), settings, rows }, null, 2));
    console.log(`\nresults: ${out}`);
  } finally {
    await server?.stop();
  }
}

type Settings = {
  seconds: number;
  dispatchers: number;
  decisions: number;
  churn: number;
  tier2Rate: number;
  heartbeatMs: number;
  ttlIntervals: number;
  nodeProcesses: number;
  dispatcherProcesses: number;
  connections: number;
  strategy: string;
  nodePolicy: string;
  serviceMs: number;
  storage: number;
  slots: number;
  probeRate: number;
  pin: boolean;
};

/** With --pin: Redis's CPU, and the CPU of everything else the run starts. */
const REDIS_CPU = 0;
const REST_CPU = 1;

/** Where the fleet's store is: the URL its stand-ins connect with, one admin URL per primary, and its cells. */
interface Target {
  readonly url: string;
  readonly adminUrls: readonly string[];
  readonly cells: number;
  readonly cluster: boolean;
}

async function runFleet(target: Target, n: number, s: Settings, ownServer: boolean): Promise<Row> {
  // One plain connection per primary, for INFO, FLUSHALL and CONFIG (each runs on the node it is sent to).
  const admins = await Promise.all(
    target.adminUrls.map((url) => RedisStateStore.connect({ url, cluster: false, replyTimeoutMs: 60_000 })),
  );
  const admin = admins[0];
  const layout = { url: target.url, cells: target.cells, cluster: target.cluster };
  const workers: Worker[] = [];
  try {
    if (ownServer) await Promise.all(admins.map((a) => a.command(['FLUSHALL'])));
    else if (Number(await admin.command(['EXISTS', '{strata}:expiry'])) > 0)
      throw new Error(`the Redis at --redis already holds a fleet under {strata}: give an empty one`);
    await Promise.all(admins.map((a) => a.command(['CONFIG', 'SET', 'maxclients', '20000']).catch(() => undefined)));
    // Redis's own cost with nothing to do (its timers): taken off every phase, so that what is left is the fleet's.
    const idleStart = performance.now();
    const idleCpu = await Promise.all(admins.map(redisCpuSeconds));
    await sleep(2000);
    const idleSeconds = (performance.now() - idleStart) / 1000;
    const idleCoresByPrimary = (await Promise.all(admins.map(redisCpuSeconds))).map(
      (cpu, i) => (cpu - idleCpu[i]) / idleSeconds,
    );
    const idleCores = idleCoresByPrimary.reduce((a, b) => a + b, 0);
    // Pinned, the stand-ins yield to the probe on their core, so that it measures Redis, not their queue.
    const background = s.pin ? { cpu: REST_CPU, nice: 10 } : {};
    const processes = Math.min(s.nodeProcesses, n);
    for (let p = 0; p < processes; p++) {
      workers.push(
        await Worker.start(
          {
            role: 'nodes',
            ...layout,
            ids: Array.from({ length: n }, (_, i) => i)
              .filter((i) => i % processes === p)
              .map(computeId),
            storageIds: p === 0 ? Array.from({ length: s.storage }, (_, i) => storageId(i)) : [],
            connections: s.connections,
            heartbeatMs: s.heartbeatMs,
            ttlIntervals: s.ttlIntervals,
            tier2Rate: s.tier2Rate,
            churnPerSecond: p === 0 ? s.churn : 0,
            nodePolicy: s.nodePolicy,
            slots: s.slots,
          },
          background,
        ),
      );
    }
    const nodesOnly = await measure(admins, workers, s.seconds, idleCoresByPrimary);
    const dispatcherProcesses = Math.min(s.dispatcherProcesses, s.dispatchers);
    for (let p = 0; p < dispatcherProcesses; p++) {
      const share = (total: number) =>
        Math.floor(total / dispatcherProcesses) + (p < total % dispatcherProcesses ? 1 : 0);
      workers.push(
        await Worker.start(
          {
            role: 'dispatchers',
            ...layout,
            dispatchers: share(s.dispatchers),
            decisionsPerSecond: share(s.decisions),
            strategy: s.strategy,
            serviceMs: s.serviceMs,
            refreshMs: 1000,
          },
          background,
        ),
      );
    }
    if (s.probeRate > 0)
      workers.push(
        await Worker.start(
          {
            role: 'probe',
            url: target.url,
            decisionsPerSecond: s.probeRate,
            strategy: s.strategy,
            serviceMs: s.serviceMs,
            refreshMs: 1000,
          },
          s.pin ? { cpu: REST_CPU, nice: 0 } : {},
        ),
      );
    const withDispatchers = await measure(admins, workers, s.seconds, idleCoresByPrimary);
    // Normalised by what the stand-ins sent (Redis ran it at once: it is far from busy), not by the answers
    // they got round to reading: on shared cores they read late, which is their lag, not Redis's cost.
    const perHeartbeat = (phase: Phase, cores: number) => (cores * 1e6) / phase.heartbeatsSentPerSecond;
    const redisUsPerNodeSecond = perHeartbeat(nodesOnly, nodesOnly.redisCores) * (1000 / s.heartbeatMs);
    const nodesShare = (redisUsPerNodeSecond * withDispatchers.heartbeatsSentPerSecond * (s.heartbeatMs / 1000)) / 1e6;
    const redisUsPerDecision =
      withDispatchers.decisionsSentPerSecond > 0
        ? ((withDispatchers.redisCores - nodesShare) * 1e6) / withDispatchers.decisionsSentPerSecond
        : Number.NaN;
    const projectedCores = (redisUsPerNodeSecond * n + redisUsPerDecision * s.decisions) / 1e6;
    const scriptUsPerNodeSecond = perHeartbeat(nodesOnly, nodesOnly.scriptCores) * (1000 / s.heartbeatMs);
    const scriptNodesShare =
      (scriptUsPerNodeSecond * withDispatchers.heartbeatsSentPerSecond * (s.heartbeatMs / 1000)) / 1e6;
    const scriptUsPerDecision =
      withDispatchers.decisionsSentPerSecond > 0
        ? ((withDispatchers.scriptCores - scriptNodesShare) * 1e6) / withDispatchers.decisionsSentPerSecond
        : Number.NaN;
    const projectedScriptCores = (scriptUsPerNodeSecond * n + scriptUsPerDecision * s.decisions) / 1e6;
    return {
      placement: { redisCpus: await cpusOf(admin), workers: workers.map((w) => w.placement) },
      scriptUsPerNodeSecond,
      scriptUsPerDecision,
      projectedScriptCores,
      nodes: n,
      cells: target.cells,
      idleCores,
      idleCoresByPrimary,
      nodesOnly,
      withDispatchers,
      redisUsPerNodeSecond,
      redisUsPerDecision,
      projectedCores,
    };
  } finally {
    await Promise.all(workers.map((w) => w.exit()));
    await Promise.all(admins.map((a) => a.close()));
  }
}

/** Waits 2 s for the rates to settle, then one window of `seconds`: Redis's CPU and commands, and what the workers saw. */
async function measure(
  admins: readonly RedisStateStore[],
  workers: readonly Worker[],
  seconds: number,
  idleCoresByPrimary: readonly number[],
): Promise<Phase> {
  await sleep(2000);
  await Promise.all(admins.map((a) => a.command(['CONFIG', 'RESETSTAT'])));
  const cpuBefore = await Promise.all(admins.map(redisCpuSeconds));
  const started = performance.now();
  await Promise.all(workers.map((w) => w.start()));
  await sleep(seconds * 1000);
  const reports = await Promise.all(workers.map((w) => w.stop()));
  const wall = (performance.now() - started) / 1000;
  const cpuByPrimary = (await Promise.all(admins.map(redisCpuSeconds))).map((cpu, i) => cpu - cpuBefore[i]);
  const cpu = cpuByPrimary.reduce((a, b) => a + b, 0);
  const idleCores = idleCoresByPrimary.reduce((a, b) => a + b, 0);
  const statsByPrimary = await Promise.all(admins.map(commandStats));
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const primary of statsByPrimary)
    for (const [name, c] of primary) {
      const sum = stats.get(name) ?? { calls: 0, usec: 0 };
      stats.set(name, { calls: sum.calls + c.calls, usec: sum.usec + c.usec });
    }
  const sum = (key: keyof WorkerReport) => reports.reduce((total, r) => total + (r[key] as number), 0);
  const lag = summarize(
    reports.flatMap((r) => r.heartbeatLagMs),
    0,
    wall,
  );
  const decisions = summarize(
    reports.flatMap((r) => r.decisionMs),
    0,
    wall,
  );
  const probe = (key: 'probeDecisionMs' | 'probePingMs' | 'probeTimerLagMs') =>
    summarize(
      reports.flatMap((r) => r[key]),
      0,
      wall,
    );
  const probeDecisions = probe('probeDecisionMs');
  const probePing = probe('probePingMs');
  const adminCalls = 2 * admins.length; // INFO cpu and this INFO commandstats are counted too, on each primary
  const commands = [...stats.values()].reduce((total, c) => total + c.calls, 0) - adminCalls;
  return {
    seconds: wall,
    redisCores: Math.max(0, cpu / wall - idleCores),
    redisCoresRaw: cpu / wall,
    scriptCores: (stats.get('evalsha')?.usec ?? 0) / 1e6 / wall,
    commandsPerSecond: commands / wall,
    evalshaPerSecond: (stats.get('evalsha')?.calls ?? 0) / wall,
    commandRates: Object.fromEntries([...stats].map(([name, c]) => [name, Math.round(c.calls / wall)])),
    heartbeatsPerSecond: sum('heartbeats') / wall,
    heartbeatsSentPerSecond: sum('heartbeatsSent') / wall,
    heartbeatLagP50Ms: lag.medianMs,
    heartbeatLagP99Ms: lag.p99Ms,
    storageReadsPerSecond: sum('storageReads') / wall,
    tier2PerSecond: sum('tier2') / wall,
    changesPerSecond: sum('changes') / wall,
    decisionsPerSecond: sum('decisions') / wall,
    decisionsSentPerSecond: sum('decisionsSent') / wall,
    decisionP50Ms: decisions.medianMs,
    decisionP99Ms: decisions.p99Ms,
    membershipReadsPerSecond: sum('membershipReads') / wall,
    probeDecisions: probeDecisions.completed,
    probeFull: sum('probeFull'),
    probeDecisionP50Ms: probeDecisions.medianMs,
    probeDecisionP99Ms: probeDecisions.p99Ms,
    probePingP50Ms: probePing.medianMs,
    probePingP99Ms: probePing.p99Ms,
    probeTimerLagP99Ms: probe('probeTimerLagMs').p99Ms,
    missedPerSecond: sum('missed') / wall,
    errors: sum('errors'),
    coresByPrimary: cpuByPrimary.map((c, i) => Math.max(0, c / wall - idleCoresByPrimary[i])),
    scriptsByPrimary: statsByPrimary.map((p) => (p.get('evalsha')?.calls ?? 0) / wall),
    ...(reports.find((r) => r.firstError) ? { firstError: reports.find((r) => r.firstError)!.firstError } : {}),
  };
}

interface Placement {
  readonly cpus: string;
  readonly nice: number;
}

/** A forked worker process and its IPC. */
class Worker {
  private constructor(
    private readonly child: ChildProcess,
    /** Where it runs, as it reported it: its role, the CPUs it may use and its nice value. */
    readonly placement: Placement & { role: string },
  ) {}

  /** Forks the worker; with `cpu`, on that CPU alone (taskset), at `nice`. */
  static async start(config: WorkerConfig, place: { cpu?: number; nice?: number } = {}): Promise<Worker> {
    const script = join(__dirname, '..', 'bench', 'fleet', 'worker.ts');
    const child =
      place.cpu === undefined
        ? fork(script, [JSON.stringify(config)], {
            execArgv: ['--import', 'tsx'],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          })
        : spawn(
            'taskset',
            [
              ...['-c', String(place.cpu), 'nice', '-n', String(place.nice ?? 0)],
              ...[process.execPath, '--import', 'tsx', script, JSON.stringify(config)],
            ],
            { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
          );
    const ready = await new Promise<{ placement: Placement }>((resolve, reject) => {
      child.once('message', (message: { placement: Placement }) => resolve(message));
      child.once('exit', (code) =>
        reject(new Error(`a ${config.role} worker exited with ${code} before it was ready`)),
      );
    });
    return new Worker(child, { role: config.role, ...ready.placement });
  }

  start(): void {
    this.child.send({ kind: 'start' });
  }

  stop(): Promise<WorkerReport> {
    return new Promise((resolve) => {
      this.child.once('message', (message: { report: WorkerReport }) => resolve(message.report));
      this.child.send({ kind: 'stop' });
    });
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ kind: 'exit' });
    await Promise.race([exited, sleep(5000).then(() => this.child.kill('SIGKILL'))]);
  }
}

function printRow(row: Row, decisions: number): void {
  const a = row.nodesOnly;
  const b = row.withDispatchers;
  const f = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
  console.log(`\n${row.nodes} nodes`);
  console.log(
    `  nodes alone:      Redis ${f(a.redisCores * 100, 1)} % of a core (${f(a.redisCoresRaw * 100, 1)} % with its idle ${f(row.idleCores * 100, 1)} %), ${f(a.commandsPerSecond)} commands/s (${f(a.evalshaPerSecond)} scripts/s); ` +
      `${f(a.heartbeatsSentPerSecond)} heartbeats sent/s, ${f(a.heartbeatsPerSecond)} answered (lag p50 ${f(a.heartbeatLagP50Ms, 1)} ms, p99 ${f(a.heartbeatLagP99Ms, 1)} ms), ` +
      `${f(a.storageReadsPerSecond)} storage views/s, ${f(a.tier2PerSecond)} tier-2 picks/s, ${f(a.changesPerSecond, 1)} changes/s; errors ${a.errors}`,
  );
  console.log(
    `  with dispatchers: Redis ${f(b.redisCores * 100, 1)} % of a core, ${f(b.commandsPerSecond)} commands/s; ` +
      `${f(b.decisionsSentPerSecond)} decisions sent/s of ${decisions}${b.probeDecisions > 0 ? " (the probe's among them)" : ''}, ${f(b.decisionsPerSecond)} answered (p50 ${f(b.decisionP50Ms, 2)} ms, p99 ${f(b.decisionP99Ms, 2)} ms), ` +
      `${f(b.membershipReadsPerSecond)} membership reads/s, ${f(b.heartbeatsPerSecond)} heartbeats/s (lag p99 ${f(b.heartbeatLagP99Ms, 1)} ms); ${f(b.missedPerSecond)} missed/s; errors ${b.errors}` +
      ((b.firstError ?? a.firstError) ? ` (first: ${b.firstError ?? a.firstError})` : ''),
  );
  if (row.placement.redisCpus !== 'unknown')
    console.log(
      `  placement:        redis-server on CPUs ${row.placement.redisCpus}; ${row.placement.workers.map((w) => `${w.role} on CPUs ${w.cpus} at nice ${w.nice}`).join(', ')}`,
    );
  if (b.probeDecisions > 0)
    console.log(
      `  latency probe:    ${b.probeDecisions} decisions (${b.probeFull} found the fleet full), p50 ${f(b.probeDecisionP50Ms, 2)} ms, p99 ${f(b.probeDecisionP99Ms, 2)} ms; ` +
        `PING before each p50 ${f(b.probePingP50Ms, 2)} ms, p99 ${f(b.probePingP99Ms, 2)} ms; its timer late by ${f(b.probeTimerLagP99Ms, 2)} ms at p99`,
    );
  if (b.coresByPrimary.length > 1)
    console.log(
      `  each primary, % of a core: nodes alone ${a.coresByPrimary.map((c) => f(c * 100, 1)).join(' / ')}; with dispatchers ${b.coresByPrimary.map((c) => f(c * 100, 1)).join(' / ')} (scripts/s ${b.scriptsByPrimary.map((c) => f(c)).join(' / ')})`,
    );
  console.log(
    `  Redis µs per node-second ${f(row.redisUsPerNodeSecond, 1)}, per decision ${f(row.redisUsPerDecision, 1)}; ` +
      `projected at full rate (${row.nodes} heartbeats/s + ${decisions} decisions/s): ${f(row.projectedCores, 3)} cores`,
  );
}

function printTargets(rows: readonly Row[], decisions: number): void {
  if (rows.length === 0) return;
  const perNode = rows.map((r) => r.redisUsPerNodeSecond);
  const largest = rows.reduce((a, b) => (b.nodes > a.nodes ? b : a));
  const smallest = rows.reduce((a, b) => (b.nodes < a.nodes ? b : a));
  const p99Ratio = largest.withDispatchers.decisionP99Ms / smallest.withDispatchers.decisionP99Ms;
  console.log('\ntargets');
  console.log(
    `  Redis CPU per node-second, ${smallest.nodes} to ${largest.nodes} nodes: ${perNode.map((x) => x.toFixed(1)).join(' / ')} µs, ` +
      `largest / smallest ${(Math.max(...perNode) / Math.min(...perNode)).toFixed(2)}x (target: within 1.5x)`,
  );
  console.log(
    `  ${largest.nodes} nodes + ${decisions} decisions/s: measured ${(largest.withDispatchers.redisCores * 100).toFixed(1)} % of a core at the rates reached ` +
      `(${largest.withDispatchers.heartbeatsSentPerSecond.toFixed(0)} heartbeats/s, ${largest.withDispatchers.decisionsSentPerSecond.toFixed(0)} decisions/s sent); ` +
      `projected at the full rate ${largest.projectedCores.toFixed(3)} cores (target: within 1)`,
  );
  console.log(
    `  tier-1 decision p99 at ${largest.nodes} nodes / at ${smallest.nodes}: ${largest.withDispatchers.decisionP99Ms.toFixed(2)} / ${smallest.withDispatchers.decisionP99Ms.toFixed(2)} ms = ${p99Ratio.toFixed(2)}x (target: at most 2x; the client's own latency on shared cores is in it)`,
  );
  const [big, small] = [largest.withDispatchers, smallest.withDispatchers];
  if (big.probeDecisions > 0 && small.probeDecisions > 0)
    console.log(
      `  the latency probe's decision p99 at ${largest.nodes} nodes / at ${smallest.nodes}: ${big.probeDecisionP99Ms.toFixed(2)} / ${small.probeDecisionP99Ms.toFixed(2)} ms = ${(big.probeDecisionP99Ms / small.probeDecisionP99Ms).toFixed(2)}x ` +
        `(PING p99 ${big.probePingP99Ms.toFixed(2)} / ${small.probePingP99Ms.toFixed(2)} ms; background ${big.heartbeatsSentPerSecond.toFixed(0)} / ${small.heartbeatsSentPerSecond.toFixed(0)} heartbeats/s, ` +
        `${big.decisionsSentPerSecond.toFixed(0)} / ${small.decisionsSentPerSecond.toFixed(0)} decisions/s sent, Redis ${(big.redisCores * 100).toFixed(0)} / ${(small.redisCores * 100).toFixed(0)} % of a core)`,
    );
}

/**
 * The fleet on a Redis Cluster of `primaries` primaries, split into each number of cells in
 * turn: decisions a second, and each primary's CPU, as cells are added.
 */
async function runCells(
  cellCounts: readonly number[],
  primaries: number,
  fleets: readonly number[],
  s: Settings,
  out: string,
): Promise<void> {
  console.log(
    `A Redis Cluster of ${primaries} primaries on this machine; the machine is shared (two cores): the stand-ins, the dispatchers and every primary share them.`,
  );
  const cluster = await startRedisCluster(primaries);
  const rows: (Row & { cellPrimaries: string[] })[] = [];
  try {
    const seed = await RespClient.connect({ url: cluster.url });
    const slots = await seed.send(['CLUSTER', 'SLOTS']);
    await seed.close();
    for (const n of fleets) {
      for (const cells of cellCounts) {
        const cellPrimaries = cellPrefixes('strata', cells).map((p) => primaryOf(slots, hashSlot(`{${p}}`))!);
        const row = await runFleet({ url: cluster.url, adminUrls: cluster.urls, cells, cluster: true }, n, s, true);
        rows.push({ ...row, cellPrimaries });
        printRow(row, s.decisions);
        console.log(`  cells on primaries: ${cellPrimaries.join(', ')}`);
      }
    }
  } finally {
    await cluster.stop();
  }
  printCells(
    rows,
    cluster.urls.map((u) => new URL(u).host),
    s.decisions,
  );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), primaries, settings: s, rows }, null, 2));
  console.log(`\nresults: ${out}`);
}

/** The cells table: what each primary spends as the fleet is split into more cells. */
function printCells(
  rows: readonly (Row & { cellPrimaries: string[] })[],
  primaries: readonly string[],
  decisions: number,
): void {
  const f = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
  console.log('\ncells');
  console.log(
    `| nodes | cells | decisions/s answered | p50 / p99 ms | Redis % of a core, each primary (${primaries.join(', ')}) | all primaries | busiest primary at full rate (${decisions} decisions/s), cores |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    const b = row.withDispatchers;
    const total = b.coresByPrimary.reduce((x, y) => x + y, 0);
    const busiest = total > 0 ? (row.projectedCores * Math.max(...b.coresByPrimary)) / total : Number.NaN;
    console.log(
      `| ${row.nodes} | ${row.cells} | ${f(b.decisionsPerSecond)} | ${f(b.decisionP50Ms, 2)} / ${f(b.decisionP99Ms, 2)} | ${b.coresByPrimary.map((c) => f(c * 100, 1)).join(' / ')} | ${f(total * 100, 1)} | ${f(busiest, 3)} |`,
    );
  }
}

async function probe(url: string, sizes: readonly number[], out: string): Promise<void> {
  const rows: Record<string, number>[] = [];
  console.log(
    'Redis CPU µs per call (INFO used_cpu_sys + used_cpu_user over many calls); the machine is shared, so figures move by tens of %.',
  );
  for (const n of sizes) {
    const store = await RedisStateStore.connect({ url, keyPrefix: `probe-${n}-${Date.now()}` });
    try {
      const row = { nodes: n, ...(await probeFleet(store, n)) };
      rows.push(row);
      console.log(
        Object.entries(row)
          .map(([k, v]) => `${k} ${k === 'nodes' ? v : v.toFixed(0)}`)
          .join('  '),
      );
    } finally {
      await store.close();
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), rows }, null, 2));
  console.log(`\nresults: ${out}`);
}

async function cost(
  url: string,
  sizes: readonly number[],
  repeat: number,
  clients: number,
  ioThreads: number,
  out: string,
): Promise<void> {
  console.log(
    `Redis µs inside the scripts per operation (INFO commandstats), ${clients === 1 ? 'one call at a time' : `${clients} clients at once`}; ` +
      "CPU (INFO used_cpu) adds the network's share; main: the main thread's CPU alone (used_cpu_*_main_thread).",
  );
  const admin = await RedisStateStore.connect({ url });
  const configured = (await admin.command(['CONFIG', 'GET', 'io-threads'])) as string[];
  await admin.close();
  console.log(
    `redis-server io-threads ${configured[1]}${ioThreads > 1 ? ', io-threads-do-reads yes' : ''} (Redis 7.0 turns its I/O threads off while fewer than twice as many clients wait for a reply: "threaded" below is the share of commands read on their path)`,
  );
  const best = new Map<number, Record<string, CallCost>>();
  const runs: { nodes: number; run: number; row: Record<string, CallCost> }[] = [];
  for (let run = 1; run <= repeat; run++) {
    for (const n of sizes) {
      const keyPrefix = `cost-${n}-${run}-${Date.now()}`;
      const stores: RedisStateStore[] = [];
      try {
        for (let c = 0; c < clients; c++) stores.push(await RedisStateStore.connect({ url, keyPrefix }));
        const row = await costAt(stores, n);
        runs.push({ nodes: n, run, row });
        // The least disturbed of the runs: each of the three times the least of them (the main thread's user share
        // from the same run as its total), the rest from the run with the least script time.
        const kept = best.get(n) ?? {};
        for (const [op, figures] of Object.entries(row)) {
          const was = kept[op];
          const base = !was || figures.scriptUs < was.scriptUs ? figures : was;
          const leastMain = !was || figures.mainUs < was.mainUs ? figures : was;
          kept[op] = {
            ...base,
            cpuUs: Math.min(was?.cpuUs ?? figures.cpuUs, figures.cpuUs),
            mainUs: leastMain.mainUs,
            mainUserUs: leastMain.mainUserUs,
          };
        }
        best.set(n, kept);
        console.log(
          `run ${run}, ${n} nodes: ${Object.entries(row)
            .map(
              ([op, f]) =>
                `${op} ${f.scriptUs.toFixed(1)} µs (cpu ${f.cpuUs.toFixed(1)}, main ${f.mainUs.toFixed(1)}, of it user ${f.mainUserUs.toFixed(1)}, threaded ${(f.threadedReads * 100).toFixed(0)} %, Redis ${f.cores.toFixed(2)} / main ${f.mainCores.toFixed(2)} cores)`,
            )
            .join(
              ', ',
            )}; target ${targetCores(row).toFixed(2)} cores in scripts, ${targetCores(row, 'cpuUs').toFixed(2)} CPU, ${targetCores(row, 'mainUs').toFixed(2)} main thread (${targetCores(row, 'mainUserUs').toFixed(2)} of it user)`,
        );
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }
  }
  console.log(
    '\n| nodes | operation | µs in scripts (least) | of which in commands | Redis CPU µs (least) | main thread µs (least) | of it user | threaded reads | commands it ran |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [n, row] of best) {
    for (const [op, f] of Object.entries(row)) {
      const commands = Object.entries(f.inner)
        .filter(([, count]) => count > 0)
        .map(([name, count]) => `${name} ${count}`)
        .join(', ');
      console.log(
        `| ${n} | ${op} | ${f.scriptUs.toFixed(1)} | ${f.innerUs.toFixed(1)} | ${f.cpuUs.toFixed(1)} | ${f.mainUs.toFixed(1)} | ${f.mainUserUs.toFixed(1)} | ${(f.threadedReads * 100).toFixed(0)} % | ${commands} |`,
      );
    }
  }
  const projections = [...best].map(([n, row]) => ({
    nodes: n,
    scriptCores: targetCores(row),
    cpuCores: targetCores(row, 'cpuUs'),
    mainThreadCores: targetCores(row, 'mainUs'),
    mainThreadUserCores: targetCores(row, 'mainUserUs'),
  }));
  for (const p of projections)
    console.log(
      `${p.nodes} nodes: the target load (${TARGET.heartbeats} heartbeats, ${TARGET.decisions} decisions, ${TARGET.dispatchers} dispatchers' reads, ${TARGET.changes} change a second) takes ` +
        `${p.scriptCores.toFixed(2)} Redis cores in scripts, ${p.cpuCores.toFixed(2)} of Redis's whole CPU, ${p.mainThreadCores.toFixed(2)} of its main thread's (${p.mainThreadUserCores.toFixed(2)} of them in user space)`,
    );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        clients,
        ioThreads: Number(configured[1]),
        target: TARGET,
        projections,
        best: Object.fromEntries(best),
        runs,
      },
      null,
      2,
    ),
  );
  console.log(`\nresults: ${out}`);
}

/** The CPUs the redis-server behind `store` may use, when it runs on this machine (Linux): from its pid in INFO. */
async function cpusOf(store: RedisStateStore): Promise<string> {
  return allowedCpus(/^process_id:(\d+)/m.exec(String(await store.command(['INFO', 'server'])))?.[1]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
