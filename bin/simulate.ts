/**
 * `npm run simulate`: every placement policy over the same simulated fleet and
 * arrivals, driving the real policy engine, with the oracle and random for reference.
 * Writes results.json (every run's figures and its ratios to the oracle's) and charts
 * (latency CDF, p99 against load, per-node utilisation) to DIR.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { latencyCdfChart, latencyVsLoadChart, perNodeChart } from '../bench/charts';
import { PLACEMENTS } from '../bench/simulator/placements';
import {
  type Phase,
  type PlacementSpec,
  type SimulationOptions,
  type SimulationResult,
  simulate,
} from '../bench/simulator/simulate';
import { exitWith, wholeNumber } from '../common/cli';
import { registerPolicyFile } from '../common/plugins';
import { formatTable } from '../common/stats';

const USAGE = `usage: npm run simulate -- [--nodes 100] [--invocations 100000] [--load 0.9[,0.5,...]] [--stale-ms 1000]
  [--speeds heterogeneous|uniform] [--slowdown] [--arrivals poisson|bursty] [--dispatchers 4] [--slots 4]
  [--policies ${Object.keys(PLACEMENTS).join(',')}] [--policy PATH] [--seed 1] [--out DIR]

--speeds heterogeneous: a third of the nodes at speed 0.5, a third at 1, a third at 2.
--slowdown: a noisy neighbour; a third of the nodes slow to half speed when half the
  invocations have arrived ("2nd half" figures are over the invocations after it).
--phases: the workload changes character in four phases of --invocations each: uniform
  service times, heavy-tailed (lognormal) ones, a third of the nodes slowed to half speed,
  bursty arrivals; prints each policy's p99 per phase and over the run, and its ratio to
  the best single strategy of the phase (adaptive is the bandit over strategies).
--policy PATH: a tier-1 plugin (a module exporting definePolicy({...})) runs beside the
  policies, by its file name, with most-slots as its tier-2 policy.
Prints, per load, each policy's figures and its p50, p99 and mean over the oracle's.`;

/** A run's figures over the oracle's at the same load: what the tables print and the targets compare. */
export interface OracleRatios {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  /** p99 over the invocations that arrived in the second half. */
  readonly secondHalfP99: number;
}

export interface SimulationReport {
  readonly options: Omit<SimulationOptions, 'placement' | 'load'>;
  readonly runs: readonly {
    readonly name: string;
    readonly load: number;
    readonly vsOracle?: OracleRatios;
    readonly result: Omit<SimulationResult, 'latencies' | 'nodes'> & { readonly nodes: SimulationResult['nodes'] };
  }[];
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        nodes: { type: 'string', default: '100' },
        invocations: { type: 'string', default: '100000' },
        load: { type: 'string', default: '0.9' },
        'stale-ms': { type: 'string', default: '1000' },
        speeds: { type: 'string', default: 'heterogeneous' },
        slowdown: { type: 'boolean', default: false },
        arrivals: { type: 'string', default: 'poisson' },
        dispatchers: { type: 'string', default: '4' },
        slots: { type: 'string', default: '4' },
        policies: { type: 'string', default: Object.keys(PLACEMENTS).join(',') },
        policy: { type: 'string' },
        phases: { type: 'boolean', default: false },
        seed: { type: 'string', default: '1' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const loads = values.load.split(',').map(Number);
  if (!loads.every((load) => load > 0 && load < 1.5))
    exitWith(2, `--load must be numbers above 0 and below 1.5, got "${values.load}"`);
  if (values.speeds !== 'heterogeneous' && values.speeds !== 'uniform')
    exitWith(2, `--speeds must be heterogeneous or uniform, got "${values.speeds}"`);
  if (values.arrivals !== 'poisson' && values.arrivals !== 'bursty')
    exitWith(2, `--arrivals must be poisson or bursty, got "${values.arrivals}"`);
  const names = values.policies.split(',');
  const unknown = names.find((name) => !(name in PLACEMENTS));
  if (unknown) exitWith(2, `--policies: unknown "${unknown}"; the policies are ${Object.keys(PLACEMENTS).join(', ')}`);
  const placements: Record<string, PlacementSpec> = { ...PLACEMENTS };
  if (values.policy !== undefined) {
    const plugin = await registerPolicyFile(values.policy).catch((error: Error) =>
      exitWith(2, `--policy: ${error.message}`),
    );
    if (plugin.tier !== 'invocation') exitWith(2, `--policy: ${values.policy} is a ${plugin.tier} policy, not tier 1`);
    placements[plugin.name] = { kind: 'strata', strategy: plugin.name, nodePolicy: 'most-slots' };
    names.push(plugin.name);
  }
  const options: Omit<SimulationOptions, 'placement' | 'load'> = {
    nodes: wholeNumber('nodes', values.nodes, 1),
    invocations: wholeNumber('invocations', values.invocations, 1),
    staleMs: wholeNumber('stale-ms', values['stale-ms'], 1),
    speeds: values.speeds as 'heterogeneous' | 'uniform',
    slowdown: values.slowdown,
    arrivals: values.arrivals as 'poisson' | 'bursty',
    dispatchers: wholeNumber('dispatchers', values.dispatchers, 1),
    slots: wholeNumber('slots', values.slots, 1),
    seed: wholeNumber('seed', values.seed, 0),
  };
  if (values.phases) return phased(options, loads[0], names, placements);
  const out =
    values.out ??
    join(__dirname, '..', 'bench', 'results', `simulation-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  const report: SimulationReport['runs'][number][] = [];
  const cdfRuns: { name: string; latenciesMs: Float64Array }[] = [];
  const utilisation: { policy: string; node: string; value: number }[] = [];
  for (const load of loads) {
    console.log(
      `\n${options.nodes} nodes (${options.speeds}${options.slowdown ? ', a third slow to half speed at the middle' : ''}, ${options.slots} slots), ${options.invocations} invocations, ${options.arrivals} arrivals at ${(load * 100).toFixed(0)}% load, metrics ${options.staleMs} ms stale, ${options.dispatchers} dispatchers`,
    );
    const runs = names.map((name) => {
      const result = simulate({ ...options, load, placement: placements[name] });
      process.stderr.write(`  ${name}: ${(result.wallMs / 1000).toFixed(1)} s\n`);
      return { name, result };
    });
    const oracle = runs.find((run) => run.name === 'oracle')?.result;
    const ratios = (result: SimulationResult): OracleRatios | undefined =>
      oracle && {
        p50: result.summary.medianMs / oracle.summary.medianMs,
        p99: result.summary.p99Ms / oracle.summary.p99Ms,
        mean: result.summary.meanMs / oracle.summary.meanMs,
        secondHalfP99: result.secondHalf.p99Ms / oracle.secondHalf.p99Ms,
      };
    const columns: [string, (r: OracleRatios) => number][] = [
      ['p50', (r) => r.p50],
      ['p99', (r) => r.p99],
      ['mean', (r) => r.mean],
      ...(options.slowdown
        ? [['2nd-half p99', (r: OracleRatios) => r.secondHalfP99] as [string, (r: OracleRatios) => number]]
        : []),
    ];
    console.log(
      formatTable(
        runs.map(({ name, result }) => {
          const r = ratios(result);
          return { name, summary: result.summary, ratio: r && columns.map(([, of]) => of(r).toFixed(2)).join(' / ') };
        }),
        oracle ? `${columns.map(([title]) => title).join(' / ')} ÷ oracle` : undefined,
      ),
    );
    console.log(
      `  state store calls per decision / per node-second / node records read per decision: ${runs
        .filter(({ result }) => result.controlPlane.callsPerDecision > 0)
        .map(
          ({ name, result: { controlPlane: c } }) =>
            `${name} ${c.callsPerDecision.toFixed(2)} / ${c.callsPerNodeSecond.toFixed(2)} / ${c.recordsReadPerDecision.toFixed(c.recordsReadPerDecision > 0 ? 2 : 0)}`,
        )
        .join(', ')}`,
    );
    for (const { name, result } of runs) {
      const { latencies, ...rest } = result;
      report.push({ name, load, vsOracle: ratios(result), result: rest });
      if (load === loads.at(-1)) {
        cdfRuns.push({ name, latenciesMs: latencies });
        for (const node of result.nodes) utilisation.push({ policy: name, node: node.id, value: node.utilisation });
      }
    }
  }
  writeFileSync(
    join(out, 'results.json'),
    JSON.stringify({ options, runs: report } satisfies SimulationReport, null, 2),
  );
  const last = `${(loads.at(-1)! * 100).toFixed(0)}% load`;
  await latencyCdfChart(
    cdfRuns,
    join(out, 'latency-cdf.svg'),
    `Latency CDF, ${options.nodes} simulated nodes, ${last}`,
  );
  await perNodeChart(
    utilisation,
    join(out, 'node-utilisation.svg'),
    `Slot utilisation per node, ${last}`,
    'utilisation',
  );
  if (loads.length > 1) {
    await latencyVsLoadChart(
      report.map(({ name, load, result }) => ({ policy: name, load, latencyMs: result.summary.p99Ms })),
      join(out, 'p99-vs-load.svg'),
      'p99 latency against offered load',
      'offered load',
    );
  }
  console.log(`\nresults and charts: ${out}`);
}

/** The four-phase workload: every policy's p99 per phase and overall, against the best single strategy. */
function phased(
  options: Omit<SimulationOptions, 'placement' | 'load'>,
  load: number,
  names: readonly string[],
  placements: Record<string, PlacementSpec>,
): void {
  const each = options.invocations ?? 100_000;
  const phases: Phase[] = [
    { name: 'uniform', invocations: each },
    { name: 'heavy-tailed', invocations: each, work: 'heavy-tailed' },
    { name: 'a third slowed', invocations: each, slowdown: true },
    { name: 'bursty', invocations: each, arrivals: 'bursty' },
  ];
  console.log(
    `${options.nodes} nodes (${options.speeds}, ${options.slots} slots), ${load * 100}% load, four phases of ${each} invocations: p99 in ms (ratio to the best single strategy of the phase)`,
  );
  const runs = names.map((name) => {
    const result = simulate({ ...options, load, phases, placement: placements[name] });
    process.stderr.write(`  ${name}: ${(result.wallMs / 1000).toFixed(1)} s\n`);
    return { name, result };
  });
  // A single strategy: one of Strata's, not the oracle, random or the bandit over them.
  const single = runs.filter((run) => !['oracle', 'random', 'adaptive'].includes(run.name));
  const best = phases.map((_, i) => Math.min(...single.map((run) => run.result.phases![i].summary.p99Ms)));
  const bestOverall = Math.min(...single.map((run) => run.result.summary.p99Ms));
  const header = ['policy', ...phases.map((p) => p.name), 'whole run'];
  const rows = runs.map(({ name, result }) => [
    name,
    ...result.phases!.map((p, i) => `${p.summary.p99Ms.toFixed(0)} (${(p.summary.p99Ms / best[i]).toFixed(2)}x)`),
    `${result.summary.p99Ms.toFixed(0)} (${(result.summary.p99Ms / bestOverall).toFixed(2)}x)`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [header, header.map((_, i) => '-'.repeat(widths[i])), ...rows])
    console.log(`| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`);
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
