/**
 * Fleet emulator: what a fleet of n nodes and hundreds of dispatchers costs one Redis
 * primary. Light stand-in nodes in a few processes send the store exactly what real
 * nodes send (bench/fleet/worker.ts); stand-in dispatchers make tier-1 decisions beside
 * them; nodes leave and join. For each fleet size, two phases on a real redis-server:
 * the nodes alone (what each node costs), then with the dispatchers (what a decision
 * costs, and its latency under that background). Redis's CPU comes from INFO
 * (used_cpu_sys + used_cpu_user), its commands from INFO commandstats.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUILT_IN_NAMES } from '@strata/policy-engine';
import { type CallCost, costAt, TARGET, targetCores } from '../bench/fleet/cost';
import { commandStats, computeId, probeFleet, redisCpuSeconds, storageId } from '../bench/fleet/probe';
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
  [--storage 6] [--redis URL] [--out FILE]
       npm run bench:fleet -- --cells 1,2,3 [--primaries 3] [--nodes 1000] [other flags as above]
       npm run bench:fleet -- --probe 10,100,1000,5000
       npm run bench:fleet -- --cost 10,1000,10000 [--repeat 3]

For each fleet size: Redis CPU per node-second with the nodes alone (heartbeat, storage view,
tier-2 picks, churn), then with the dispatchers: Redis CPU per decision, decision p50 and p99,
heartbeat lag, commands per second; the rates reached, and the projection to the full rate where
the machine's cores cannot drive it. --decisions is the target rate over all dispatchers, per
second; --churn the membership changes per second; --tier2-rate the tier-2 decisions per
node-second; --ttl-intervals how many heartbeat intervals a stand-in stays listed without one
(the agents use 3; more here, so that a stand-in the shared cores starve is not taken for gone
and the fleet does not churn by itself). Starts its own redis-server unless --redis is given. --probe prints Redis's own µs
per periodic call at each fleet size (bench/fleet/probe.ts) instead. --cost prints Redis's µs inside
the scripts (INFO commandstats) per heartbeat, decision, membership read and change, and which
commands they ran (bench/fleet/cost.ts), the sizes interleaved --repeat times (the least disturbed
figure of each kept), and the Redis cores of the target load (10,000 heartbeats, 10,000 decisions,
500 dispatchers' reads and 1 change a second). --cells runs the same on a
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
        redis: { type: 'string' },
        probe: { type: 'string' },
        cost: { type: 'string' },
        repeat: { type: 'string', default: '1' },
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
  };
  if (values.cells) {
    const cellCounts = values.cells.split(',').map((n) => wholeNumber('cells', n, 1));
    if (cellCounts.some((c) => c > 64))
      exitWith(2, `--cells must be whole numbers from 1 to 64, got "${values.cells}"`);
    const primaries = wholeNumber('primaries', values.primaries, 1);
    if (values.redis) exitWith(2, '--cells starts its own Redis Cluster: leave out --redis');
    return runCells(
      cellCounts,
      primaries,
      values.nodes === '100,1000,10000' ? [1000] : fleets,
      settings,
      values.out ?? join(results, 'fleet-cells.json'),
    );
  }
  const server = values.redis ? undefined : await startRedisServer();
  const url = values.redis ?? server!.url;
  try {
    if (probeSizes) return await probe(url, probeSizes, values.out ?? join(results, 'fleet-probe.json'));
    if (values.cost) {
      const sizes = values.cost.split(',').map((n) => wholeNumber('cost', n, 1));
      const repeat = wholeNumber('repeat', values.repeat, 1);
      return await cost(url, sizes, repeat, values.out ?? join(results, 'fleet-cost.json'));
    }
    console.log(
      'The machine is shared (two cores, other work on it): the emulator, its stand-ins and redis-server share them.',
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
};

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
    const processes = Math.min(s.nodeProcesses, n);
    for (let p = 0; p < processes; p++) {
      workers.push(
        await Worker.start({
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
        }),
      );
    }
    const nodesOnly = await measure(admins, workers, s.seconds, idleCoresByPrimary);
    const dispatcherProcesses = Math.min(s.dispatcherProcesses, s.dispatchers);
    for (let p = 0; p < dispatcherProcesses; p++) {
      const share = (total: number) =>
        Math.floor(total / dispatcherProcesses) + (p < total % dispatcherProcesses ? 1 : 0);
      workers.push(
        await Worker.start({
          role: 'dispatchers',
          ...layout,
          dispatchers: share(s.dispatchers),
          decisionsPerSecond: share(s.decisions),
          strategy: s.strategy,
          serviceMs: s.serviceMs,
          refreshMs: 1000,
        }),
      );
    }
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
    missedPerSecond: sum('missed') / wall,
    errors: sum('errors'),
    coresByPrimary: cpuByPrimary.map((c, i) => Math.max(0, c / wall - idleCoresByPrimary[i])),
    scriptsByPrimary: statsByPrimary.map((p) => (p.get('evalsha')?.calls ?? 0) / wall),
    ...(reports.find((r) => r.firstError) ? { firstError: reports.find((r) => r.firstError)!.firstError } : {}),
  };
}

/** A forked worker process and its IPC. */
class Worker {
  private constructor(private readonly child: ChildProcess) {}

  static async start(config: WorkerConfig): Promise<Worker> {
    const child = fork(join(__dirname, '..', 'bench', 'fleet', 'worker.ts'), [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) =>
        reject(new Error(`a ${config.role} worker exited with ${code} before it was ready`)),
      );
    });
    return new Worker(child);
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
      `${f(b.decisionsSentPerSecond)} decisions sent/s of ${decisions}, ${f(b.decisionsPerSecond)} answered (p50 ${f(b.decisionP50Ms, 2)} ms, p99 ${f(b.decisionP99Ms, 2)} ms), ` +
      `${f(b.membershipReadsPerSecond)} membership reads/s, ${f(b.heartbeatsPerSecond)} heartbeats/s (lag p99 ${f(b.heartbeatLagP99Ms, 1)} ms); ${f(b.missedPerSecond)} missed/s; errors ${b.errors}` +
      ((b.firstError ?? a.firstError) ? ` (first: ${b.firstError ?? a.firstError})` : ''),
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

async function cost(url: string, sizes: readonly number[], repeat: number, out: string): Promise<void> {
  console.log(
    "Redis µs inside the scripts per operation (INFO commandstats), one call at a time; CPU (INFO used_cpu) adds the network's share.",
  );
  const best = new Map<number, Record<string, CallCost>>();
  const runs: { nodes: number; run: number; row: Record<string, CallCost> }[] = [];
  for (let run = 1; run <= repeat; run++) {
    for (const n of sizes) {
      const store = await RedisStateStore.connect({ url, keyPrefix: `cost-${n}-${run}-${Date.now()}` });
      try {
        const row = await costAt(store, n);
        runs.push({ nodes: n, run, row });
        const kept = best.get(n) ?? {};
        for (const [op, figures] of Object.entries(row))
          if (!kept[op] || figures.scriptUs < kept[op].scriptUs) kept[op] = figures;
        best.set(n, kept);
        console.log(
          `run ${run}, ${n} nodes: ${Object.entries(row)
            .map(([op, f]) => `${op} ${f.scriptUs.toFixed(1)} µs (cpu ${f.cpuUs.toFixed(1)})`)
            .join(', ')}; target ${targetCores(row).toFixed(2)} cores`,
        );
      } finally {
        await store.close();
      }
    }
  }
  console.log('\n| nodes | operation | µs in scripts (best) | of which in commands | Redis CPU µs | commands it ran |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [n, row] of best) {
    for (const [op, f] of Object.entries(row)) {
      const commands = Object.entries(f.inner)
        .filter(([, count]) => count > 0)
        .map(([name, count]) => `${name} ${count}`)
        .join(', ');
      console.log(
        `| ${n} | ${op} | ${f.scriptUs.toFixed(1)} | ${f.innerUs.toFixed(1)} | ${f.cpuUs.toFixed(1)} | ${commands} |`,
      );
    }
  }
  for (const [n, row] of best)
    console.log(
      `${n} nodes: the target load (${TARGET.heartbeats} heartbeats, ${TARGET.decisions} decisions, ${TARGET.dispatchers} dispatchers' reads, ${TARGET.changes} change a second) takes ${targetCores(row).toFixed(2)} Redis cores in scripts`,
    );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ at: new Date().toISOString(), target: TARGET, best: Object.fromEntries(best), runs }, null, 2),
  );
  console.log(`\nresults: ${out}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
