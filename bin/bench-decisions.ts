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
import { policyNames } from '@strata/policy-engine';
import { measureDecisions, prepareDecisions } from '../bench/decisions';
import { exitWith, wholeNumber } from '../common/cli';
import { registerPolicyFile } from '../common/plugins';
import { type RedisServer, startRedisServer } from '../local/redis-server';

const STRATEGIES = ['round-robin', 'least-outstanding', 'power-of-two', 'least-expected-delay', 'prequal'];

const USAGE = `usage: npm run bench:decisions -- [--nodes 10,100,1000,10000] [--concurrency 1,16,64] [--decisions 20000]
  [--strategies ${STRATEGIES.join(',')}] [--policy PATH] [--repeat 1] [--interleave BATCH] [--redis URL] [--out FILE]

For each fleet size, concurrency and strategy: decisions per second, p50 and p99 latency,
redis-benchmark's INCR and the same EVALSHA at the same concurrency, round trips per
decision, and Redis's own time per decision. Starts its own redis-server unless --redis
is given. --policy PATH adds a tier-1 plugin (a module exporting definePolicy({...})),
by its file name, to the strategies. --repeat N runs the whole grid N times over, and keeps each row's best (on a
shared machine, the best is the least disturbed); each strategy's fleet sizes run back to
back (in turn first), and the largest against the smallest is printed for each round.
--interleave BATCH gives each fleet size a redis-server of its own and runs the sizes'
decisions in turns of BATCH, so that what disturbs a shared machine meanwhile disturbs
every size alike (each size's figures count only its own turns). Writes one JSON row per
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
        policy: { type: 'string' },
        repeat: { type: 'string', default: '1' },
        interleave: { type: 'string' },
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
  if (values.policy !== undefined) {
    const plugin = await registerPolicyFile(values.policy).catch((error: Error) =>
      exitWith(2, `--policy: ${error.message}`),
    );
    if (plugin.tier !== 'invocation') exitWith(2, `--policy: ${values.policy} is a ${plugin.tier} policy, not tier 1`);
    strategies.push(plugin.name);
  }
  const repeat = wholeNumber('repeat', values.repeat, 1);
  const interleave = values.interleave === undefined ? undefined : wholeNumber('interleave', values.interleave, 1);
  if (interleave !== undefined && values.redis !== undefined)
    exitWith(2, '--interleave starts a redis-server for each fleet size, so it takes no --redis');
  const unknown = strategies.find((name) => !policyNames('invocation').includes(name));
  if (unknown)
    exitWith(2, `--strategies: unknown "${unknown}"; the strategies are ${policyNames('invocation').join(', ')}`);

  const server = values.redis ? undefined : await startRedisServer();
  const url = values.redis ?? server!.url;
  const { hostname, port } = new URL(url);
  const rows: Row[] = [];
  const ratios: SizeRatio[] = [];
  try {
    for (let round = 1; round <= repeat; round++) {
      if (repeat > 1) console.log(`round ${round} of ${repeat}`);
      for (const concurrency of levels) {
        const incrPerSecond = redisBenchmark(hostname, port || '6379', concurrency, decisions, ['-t', 'incr']);
        for (const strategy of strategies) {
          // The sizes of one strategy back to back (and in turn first), so that what disturbs the
          // shared machine for a while disturbs each size alike: their ratio is what is compared.
          const sizes = round % 2 === 1 ? fleets : [...fleets].reverse();
          const measuredRows: Row[] = [];
          // With --interleave every size is measured first, each on its own server, stopped below.
          const together =
            interleave === undefined ? [] : await interleaved(sizes, strategy, concurrency, decisions, interleave);
          try {
            for (const [i, nodeCount] of sizes.entries()) {
              const {
                measured,
                host,
                port: serverPort,
              } = interleave === undefined
                ? {
                    measured: await measureDecisions(url, strategy, concurrency, decisions, nodeCount),
                    host: hostname,
                    port: port || '6379',
                  }
                : together[i];
              const scriptPerSecond = redisBenchmark(host, serverPort, concurrency, decisions, measured.command);
              const { command: _command, ...figures } = measured;
              const row: Row = {
                ...figures,
                incrPerSecond,
                ratioToIncr: figures.decisionsPerSecond / incrPerSecond,
                scriptPerSecond,
                scriptRatioToIncr: scriptPerSecond / incrPerSecond,
              };
              printRow(row, rows.length === 0 && round === 1 && measuredRows.length === 0);
              measuredRows.push(row);
              keepBest(rows, row);
            }
          } finally {
            await Promise.all(together.map(({ server }) => server.stop()));
          }
          if (fleets.length > 1) ratios.push(sizeRatio(round, measuredRows));
        }
      }
    }
    if (repeat > 1) {
      console.log(`\nbest of ${repeat}:`);
      for (const [i, row] of rows.entries()) printRow(row, i === 0);
    }
    if (ratios.length > 0) {
      console.log(
        `\nthe largest fleet against the smallest, measured ${interleave === undefined ? 'back to back' : `in turns of ${interleave}`}, each round:`,
      );
      for (const r of ratios)
        console.log(
          `round ${r.round}  ${r.strategy.padEnd(20)}  C ${r.concurrency}  ${r.largest} ÷ ${r.smallest} nodes: decisions/s ${(r.decisionsRatio * 100).toFixed(0)} %, Redis µs a decision ${(r.redisUsRatio * 100).toFixed(0)} %`,
        );
    }
  } finally {
    await server?.stop();
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify({ at: new Date().toISOString(), decisions, rows, ratios }, null, 2));
  console.log(`\nresults: ${values.out}`);
}

/**
 * The sizes' decisions in turns of `batch` (the order reversed each pass), each fleet on a
 * redis-server of its own; the servers stay up for redis-benchmark's run of the same script.
 */
async function interleaved(
  sizes: readonly number[],
  strategy: string,
  concurrency: number,
  decisions: number,
  batch: number,
) {
  const servers: RedisServer[] = [];
  try {
    for (const _ of sizes) servers.push(await startRedisServer()); // one at a time: a failed start leaves none behind
    const prepared = await Promise.all(
      sizes.map((nodeCount, i) => prepareDecisions(servers[i].url, strategy, concurrency, decisions, nodeCount)),
    );
    for (const fleet of prepared) await fleet.warm();
    for (let done = 0, pass = 0; done < decisions; done += batch, pass++) {
      const order = pass % 2 === 0 ? prepared : [...prepared].reverse();
      for (const fleet of order) await fleet.run(batch);
    }
    const measured = [];
    for (const [i, fleet] of prepared.entries()) {
      const figures = await fleet.finish();
      const { hostname, port } = new URL(servers[i].url);
      measured.push({ measured: figures, host: hostname, port, server: servers[i] });
    }
    return measured;
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    throw error;
  }
}

/** One strategy's largest fleet against its smallest, from rows measured back to back in one round. */
interface SizeRatio {
  round: number;
  strategy: string;
  concurrency: number;
  smallest: number;
  largest: number;
  /** Decisions a second at the largest fleet ÷ at the smallest. */
  decisionsRatio: number;
  /** Redis's own µs a decision (commandstats) at the largest fleet ÷ at the smallest. */
  redisUsRatio: number;
}

function sizeRatio(round: number, measured: readonly Row[]): SizeRatio {
  const bySize = [...measured].sort((a, b) => a.nodes - b.nodes);
  const [smallest, largest] = [bySize[0], bySize[bySize.length - 1]];
  return {
    round,
    strategy: smallest.strategy,
    concurrency: smallest.concurrency,
    smallest: smallest.nodes,
    largest: largest.nodes,
    decisionsRatio: largest.decisionsPerSecond / smallest.decisionsPerSecond,
    redisUsRatio: largest.redisUsPerDecision / smallest.redisUsPerDecision,
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
