/**
 * Decision benchmark: decisions per second and decision latency of each stateful
 * tier-1 strategy against a real redis-server, next to `redis-benchmark -t incr` on the
 * same server at the same concurrency, and the round trips per decision as Redis's own
 * command statistics count them.
 *
 * Concurrency C means C dispatchers, each with its own connection and one decision in
 * flight (as C Lambda containers), which is also how redis-benchmark's C clients work.
 * Here all C share one Node.js process and the machine's cores with redis-server, so
 * a second figure isolates Redis's side: redis-benchmark itself sending the very
 * EVALSHA a decision sends, at the same concurrency.
 *
 * Usage: npm run bench:decisions -- [--redis URL] [--decisions N] [--concurrency 1,16,64] [--nodes 10]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { invocationStrategy, type NodeView } from '@strata/policy-engine';
import { RedisStateStore } from '../common/state';
import { startRedisServer } from '../local/redis-server';
import { exitWith, wholeNumber } from '../common/cli';

const STRATEGIES = ['round-robin', 'least-outstanding', 'power-of-two'];

interface Row {
  strategy: string;
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
  evalshaPerDecision: number;
  /** Top-level commands other than EVALSHA per decision (the script's own HGET/HINCRBY/INCR excluded). */
  otherCommandsPerDecision: number;
}

const USAGE = `usage: npm run bench:decisions -- [--redis URL] [--decisions 20000] [--concurrency 1,16,64] [--nodes 10]

  --redis URL      a redis-server to measure (default: one started on a free loopback port)
  --decisions N    decisions per strategy and concurrency
  --concurrency    dispatchers at once, each with its own connection, comma-separated
  --nodes N        compute nodes registered in the state`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        redis: { type: 'string' },
        decisions: { type: 'string', default: '20000' },
        concurrency: { type: 'string', default: '1,16,64' },
        nodes: { type: 'string', default: '10' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const decisions = wholeNumber('decisions', values.decisions, 1);
  const nodeCount = wholeNumber('nodes', values.nodes, 1);
  const levels = values.concurrency.split(',').map((c) => wholeNumber('concurrency', c, 1));

  const server = values.redis ? undefined : await startRedisServer();
  const url = values.redis ?? server!.url;
  const { hostname, port } = new URL(url);
  const rows: Row[] = [];
  try {
    for (const concurrency of levels) {
      const incrPerSecond = redisBenchmark(hostname, port || '6379', concurrency, decisions, ['-t', 'incr']);
      for (const strategy of STRATEGIES) {
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
        rows.push(row);
        printRow(row, rows.length === 1);
      }
    }
  } finally {
    await server?.stop();
  }
  const outDir = join(__dirname, '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'decisions.json'), JSON.stringify({ at: new Date().toISOString(), decisions, nodes: nodeCount, rows }, null, 2));
  console.log(`\nresults: ${join(outDir, 'decisions.json')}`);
}

/** Runs `decisions` decisions over `concurrency` connections; each decision is the strategy plus one reserve. */
async function measure(url: string, strategyName: string, concurrency: number, decisions: number, nodeCount: number) {
  const keyPrefix = `bench-${strategyName}-${concurrency}-${Date.now()}`;
  const admin = await RedisStateStore.connect({ url, keyPrefix });
  for (let i = 0; i < nodeCount; i++) {
    await admin.heartbeat(benchNode(`node-${String(i).padStart(3, '0')}`), 600_000);
  }
  const dispatchers = await Promise.all(Array.from({ length: concurrency }, () => RedisStateStore.connect({ url, keyPrefix })));
  const nodes = await admin.liveNodes(); // each dispatcher would refresh this in the background, not per decision
  const strategy = invocationStrategy(strategyName);
  const decide = () => strategy(nodes, { functionName: 'wordcount', hops: 0 }, { now: Date.now(), random: Math.random, heartbeatTtlMs: 600_000 });
  const latencies = new Float64Array(decisions);

  const run = async (count: number, record: boolean) => {
    let next = 0;
    await Promise.all(
      dispatchers.map(async (store) => {
        for (let i = next++; i < count; i = next++) {
          const t0 = process.hrtime.bigint();
          const selection = decide();
          if (selection.kind !== 'select' || (await store.reserve(selection)).kind !== 'chosen') throw new Error('benchmark nodes ran out of room');
          if (record) latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
        }
      }),
    );
  };
  await run(Math.min(decisions, 2_000), false); // warm the JIT and the connections; not measured

  await admin.command(['CONFIG', 'RESETSTAT']);
  const started = process.hrtime.bigint();
  await run(decisions, true);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stats = commandStats(String(await admin.command(['INFO', 'commandstats'])));
  const selection = decide();
  const command = selection.kind === 'select' ? admin.reserveCommand(selection) : [];
  await Promise.all([admin, ...dispatchers].map((s) => s.close()));

  latencies.sort();
  // The script's own calls show in the statistics too; clients never send these commands here.
  const insideScript = new Set(['hget', 'hincrby', 'incr', 'evalsha', 'info', 'config|resetstat']);
  const otherCommands = [...stats.entries()].filter(([name]) => !insideScript.has(name)).reduce((sum, [, calls]) => sum + calls, 0);
  return {
    command,
    strategy: strategyName,
    concurrency,
    decisions,
    decisionsPerSecond: decisions / seconds,
    p50Ms: latencies[Math.floor(decisions * 0.5)],
    p99Ms: latencies[Math.min(decisions - 1, Math.floor(decisions * 0.99))],
    evalshaPerDecision: (stats.get('evalsha') ?? 0) / decisions,
    otherCommandsPerDecision: otherCommands / decisions,
  };
}

/** Calls per command from `INFO commandstats` (lines like `cmdstat_evalsha:calls=20000,...`). */
function commandStats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1], Number(match[2]));
  return calls;
}

/** Requests per second from redis-benchmark with C clients, one request in flight each: `-t incr`, or a command. */
function redisBenchmark(host: string, port: string, concurrency: number, requests: number, test: readonly string[]): number {
  const args = ['-h', host, '-p', port, '-c', String(concurrency), '-n', String(requests), '--csv', ...test];
  const result = spawnSync('redis-benchmark', args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) throw new Error(`redis-benchmark failed: ${result.error?.message ?? result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  const rps = Number(lines[lines.length - 1].split('","')[1]);
  if (!(rps > 0)) throw new Error(`unexpected redis-benchmark output:\n${result.stdout}`);
  return rps;
}

function benchNode(id: string): Omit<NodeView, 'inFlight'> {
  // Enough slots that no decision is refused: this measures the decision, not capacity.
  return { id, address: '127.0.0.1:0', role: 'compute', slotsTotal: 1e9, slotsUsed: 0, cpuBusy: 0, memoryUsed: 0, load1: 0, load5: 0, load15: 0, cores: 2, heartbeatAt: Date.now(), draining: false };
}

function printRow(row: Row, header: boolean): void {
  const columns: [string, (r: Row) => string][] = [
    ['strategy', (r) => r.strategy.padEnd(18)],
    ['conc', (r) => String(r.concurrency).padStart(4)],
    ['decisions/s', (r) => r.decisionsPerSecond.toFixed(0).padStart(11)],
    ['p50 ms', (r) => r.p50Ms.toFixed(3).padStart(7)],
    ['p99 ms', (r) => r.p99Ms.toFixed(3).padStart(7)],
    ['INCR/s', (r) => r.incrPerSecond.toFixed(0).padStart(8)],
    ['vs INCR', (r) => `${(r.ratioToIncr * 100).toFixed(0)}%`.padStart(7)],
    ['script/s (C client)', (r) => r.scriptPerSecond.toFixed(0).padStart(19)],
    ['vs INCR', (r) => `${(r.scriptRatioToIncr * 100).toFixed(0)}%`.padStart(7)],
    ['EVALSHA/dec', (r) => r.evalshaPerDecision.toFixed(2).padStart(11)],
    ['other/dec', (r) => r.otherCommandsPerDecision.toFixed(2).padStart(9)],
  ];
  if (header) console.log(columns.map(([name, cell]) => name.padStart(cell(row).length)).join('  '));
  console.log(columns.map(([, cell]) => cell(row)).join('  '));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
