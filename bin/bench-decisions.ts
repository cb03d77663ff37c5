/**
 * Decision benchmark: decisions per second and decision latency of tier-1 strategies
 * against a real redis-server, for fleets of several sizes, next to
 * `redis-benchmark -t incr` on the same server at the same concurrency, and the round
 * trips per decision (counted by the clients, and as EVALSHA calls by Redis itself).
 *
 * Concurrency C means C dispatchers, each with its own connection and one decision in
 * flight (as C Lambda containers), which is also how redis-benchmark's C clients work.
 * Here all C share one Node.js process and the machine's cores with redis-server, so
 * a second figure isolates Redis's side: redis-benchmark itself sending the very
 * EVALSHA a decision sends, at the same concurrency.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { invocationStrategies, invocationStrategy, type NodeView } from '@strata/policy-engine';
import { exitWith, wholeNumber } from '../common/cli';
import { type NodeReport, RedisStateStore } from '../common/state';
import { startRedisServer } from '../local/redis-server';

const STRATEGIES = ['round-robin', 'least-outstanding', 'power-of-two', 'least-expected-delay', 'prequal'];

const USAGE = `usage: npm run bench:decisions -- [--nodes 10,100,1000,10000] [--concurrency 1,16,64] [--decisions 20000]
  [--strategies ${STRATEGIES.join(',')}] [--repeat 1] [--redis URL] [--out FILE]

For each fleet size, concurrency and strategy: decisions per second, p50 and p99 latency,
redis-benchmark's INCR and the same EVALSHA at the same concurrency, round trips per
decision, and Redis's own time per decision. Starts its own redis-server unless --redis
is given. --repeat N runs the whole grid N times over, interleaved, and keeps each row's
best (on a shared machine, the best is the least disturbed). Writes one JSON row per
measurement to FILE (default bench/results/decisions.json).`;

interface Row {
  strategy: string;
  nodes: number;
  concurrency: number;
  decisions: number;
  decisionsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  incrPerSecond: number;
  ratioToIncr: number;
  /** The decision's EVALSHA sent by redis-benchmark (a C client): Redis's own cost of a decision. */
  scriptPerSecond: number;
  scriptRatioToIncr: number;
  /** Commands the dispatchers sent per decision: the round trips. */
  roundTripsPerDecision: number;
  /** EVALSHA calls per decision as Redis counted them (INFO commandstats). */
  evalshaPerDecision: number;
  /** Redis's own time per decision, in microseconds (INFO commandstats): the script's cost, without the network or the client. */
  redisUsPerDecision: number;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        redis: { type: 'string' },
        decisions: { type: 'string', default: '20000' },
        concurrency: { type: 'string', default: '1,16,64' },
        nodes: { type: 'string', default: '10,100,1000,10000' },
        strategies: { type: 'string', default: STRATEGIES.join(',') },
        repeat: { type: 'string', default: '1' },
        out: { type: 'string', default: join(__dirname, '..', 'bench', 'results', 'decisions.json') },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const decisions = wholeNumber('decisions', values.decisions, 1);
  const fleets = values.nodes.split(',').map((n) => wholeNumber('nodes', n, 1));
  const levels = values.concurrency.split(',').map((c) => wholeNumber('concurrency', c, 1));
  const strategies = values.strategies.split(',');
  const repeat = wholeNumber('repeat', values.repeat, 1);
  const unknown = strategies.find((name) => !(name in invocationStrategies));
  if (unknown)
    exitWith(
      2,
      `--strategies: unknown "${unknown}"; the strategies are ${Object.keys(invocationStrategies).join(', ')}`,
    );

  const server = values.redis ? undefined : await startRedisServer();
  const url = values.redis ?? server!.url;
  const { hostname, port } = new URL(url);
  const rows: Row[] = [];
  try {
    for (let round = 1; round <= repeat; round++) {
      if (repeat > 1) console.log(`round ${round} of ${repeat}`);
      for (const nodeCount of fleets) {
        for (const concurrency of levels) {
          const incrPerSecond = redisBenchmark(hostname, port || '6379', concurrency, decisions, ['-t', 'incr']);
          for (const strategy of strategies) {
            const measured = await measure(url, strategy, concurrency, decisions, nodeCount);
            const scriptPerSecond = redisBenchmark(hostname, port || '6379', concurrency, decisions, measured.command);
            const { command: _command, ...figures } = measured;
            const row: Row = {
              ...figures,
              incrPerSecond,
              ratioToIncr: figures.decisionsPerSecond / incrPerSecond,
              scriptPerSecond,
              scriptRatioToIncr: scriptPerSecond / incrPerSecond,
            };
            printRow(row, rows.length === 0 && round === 1);
            keepBest(rows, row);
          }
        }
      }
    }
    if (repeat > 1) {
      console.log(`\nbest of ${repeat}:`);
      for (const [i, row] of rows.entries()) printRow(row, i === 0);
    }
  } finally {
    await server?.stop();
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify({ at: new Date().toISOString(), decisions, rows }, null, 2));
  console.log(`\nresults: ${values.out}`);
}

/** Runs `decisions` decisions over `concurrency` connections; each decision is the strategy plus one reserve. */
async function measure(url: string, strategyName: string, concurrency: number, decisions: number, nodeCount: number) {
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
  const strategy = invocationStrategy(strategyName);
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

/** Keeps one row per strategy, fleet and concurrency: the fastest run, with the least Redis time seen. */
function keepBest(rows: Row[], row: Row): void {
  const at = rows.findIndex(
    (r) => r.strategy === row.strategy && r.nodes === row.nodes && r.concurrency === row.concurrency,
  );
  if (at === -1) return void rows.push(row);
  const best = row.decisionsPerSecond > rows[at].decisionsPerSecond ? row : rows[at];
  const scriptPerSecond = Math.max(row.scriptPerSecond, rows[at].scriptPerSecond);
  rows[at] = {
    ...best,
    scriptPerSecond,
    scriptRatioToIncr: scriptPerSecond / best.incrPerSecond,
    redisUsPerDecision: Math.min(row.redisUsPerDecision, rows[at].redisUsPerDecision),
  };
}

/** Calls and time per command from `INFO commandstats` (lines like `cmdstat_evalsha:calls=20000,usec=123456,...`). */
function commandStats(info: string): Map<string, { calls: number; usec: number }> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
  return stats;
}

/** Requests per second from redis-benchmark with C clients, one request in flight each: `-t incr`, or a command. */
function redisBenchmark(
  host: string,
  port: string,
  concurrency: number,
  requests: number,
  test: readonly string[],
): number {
  const args = ['-h', host, '-p', port, '-c', String(concurrency), '-n', String(requests), '--csv', ...test];
  const result = spawnSync('redis-benchmark', args, { encoding: 'utf8' });
  if (result.error || result.status !== 0)
    throw new Error(`redis-benchmark failed: ${result.error?.message ?? result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  const rps = Number(lines[lines.length - 1].split('","')[1]);
  if (!(rps > 0)) throw new Error(`unexpected redis-benchmark output:\n${result.stdout}`);
  return rps;
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

function printRow(row: Row, header: boolean): void {
  const columns: [string, (r: Row) => string][] = [
    ['strategy', (r) => r.strategy.padEnd(20)],
    ['nodes', (r) => String(r.nodes).padStart(6)],
    ['conc', (r) => String(r.concurrency).padStart(4)],
    ['decisions/s', (r) => r.decisionsPerSecond.toFixed(0).padStart(11)],
    ['p50 ms', (r) => r.p50Ms.toFixed(3).padStart(7)],
    ['p99 ms', (r) => r.p99Ms.toFixed(3).padStart(7)],
    ['INCR/s', (r) => r.incrPerSecond.toFixed(0).padStart(8)],
    ['vs INCR', (r) => `${(r.ratioToIncr * 100).toFixed(0)}%`.padStart(7)],
    ['script/s (C client)', (r) => r.scriptPerSecond.toFixed(0).padStart(19)],
    ['vs INCR', (r) => `${(r.scriptRatioToIncr * 100).toFixed(0)}%`.padStart(7)],
    ['trips/dec', (r) => r.roundTripsPerDecision.toFixed(2).padStart(9)],
    ['EVALSHA/dec', (r) => r.evalshaPerDecision.toFixed(2).padStart(11)],
    ['Redis µs/dec', (r) => r.redisUsPerDecision.toFixed(1).padStart(12)],
  ];
  if (header) console.log(columns.map(([name, cell]) => name.padStart(cell(row).length)).join('  '));
  console.log(columns.map(([, cell]) => cell(row)).join('  '));
}

main().catch((error: unknown) => exitWith(1, error instanceof Error ? error.message : String(error)));
