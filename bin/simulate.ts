/**
 * `npm run simulate`: every placement policy over the same simulated fleet and
 * arrivals, driving the real policy engine, with the oracle and random for reference.
 *
 * Usage: npm run simulate -- [--nodes 100] [--invocations 100000] [--load 0.9[,0.5,...]] [--stale-ms 1000]
 *          [--speeds heterogeneous|uniform] [--arrivals poisson|bursty] [--dispatchers 4] [--slots 4]
 *          [--policies NAME,...] [--seed 1] [--out DIR]
 * Writes results.json and charts (latency CDF, latency against load, per-node utilisation) to DIR.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { latencyCdfChart, latencyVsLoadChart, perNodeChart } from '../bench/charts';
import { parseArgs } from 'node:util';
import { exitWith, wholeNumber } from '../common/cli';
import { PLACEMENTS } from '../bench/simulator/placements';
import { simulate, type SimulationOptions, type SimulationResult } from '../bench/simulator/simulate';
import { formatTable } from '../common/stats';


const USAGE = `usage: npm run simulate -- [--nodes 100] [--invocations 100000] [--load 0.9[,0.5,...]] [--stale-ms 1000]
  [--speeds heterogeneous|uniform] [--arrivals poisson|bursty] [--dispatchers 4] [--slots 4]
  [--policies ${Object.keys(PLACEMENTS).join(',')}] [--seed 1] [--out DIR]`;

export interface SimulationReport {
  readonly options: Omit<SimulationOptions, 'placement' | 'load'>;
  readonly runs: readonly { readonly name: string; readonly load: number; readonly result: Omit<SimulationResult, 'latencies'> }[];
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
        arrivals: { type: 'string', default: 'poisson' },
        dispatchers: { type: 'string', default: '4' },
        slots: { type: 'string', default: '4' },
        policies: { type: 'string', default: Object.keys(PLACEMENTS).join(',') },
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
  if (!loads.every((load) => load > 0 && load < 1.5)) exitWith(2, `--load must be numbers above 0 and below 1.5, got "${values.load}"`);
  if (values.speeds !== 'heterogeneous' && values.speeds !== 'uniform') exitWith(2, `--speeds must be heterogeneous or uniform, got "${values.speeds}"`);
  if (values.arrivals !== 'poisson' && values.arrivals !== 'bursty') exitWith(2, `--arrivals must be poisson or bursty, got "${values.arrivals}"`);
  const names = values.policies.split(',');
  const unknown = names.find((name) => !(name in PLACEMENTS));
  if (unknown) exitWith(2, `--policies: unknown "${unknown}"; the policies are ${Object.keys(PLACEMENTS).join(', ')}`);
  const options: Omit<SimulationOptions, 'placement' | 'load'> = {
    nodes: wholeNumber('nodes', values.nodes, 1),
    invocations: wholeNumber('invocations', values.invocations, 1),
    staleMs: wholeNumber('stale-ms', values['stale-ms'], 1),
    speeds: values.speeds as 'heterogeneous' | 'uniform',
    arrivals: values.arrivals as 'poisson' | 'bursty',
    dispatchers: wholeNumber('dispatchers', values.dispatchers, 1),
    slots: wholeNumber('slots', values.slots, 1),
    seed: wholeNumber('seed', values.seed, 0),
  };
  const out = values.out ?? join(__dirname, '..', 'bench', 'results', `simulation-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  const report: SimulationReport['runs'][number][] = [];
  const cdfRuns: { name: string; latenciesMs: Float64Array }[] = [];
  const utilisation: { policy: string; node: string; value: number }[] = [];
  for (const load of loads) {
    console.log(`\n${options.nodes} nodes (${options.speeds}, ${options.slots} slots), ${options.invocations} invocations, ${options.arrivals} arrivals at ${(load * 100).toFixed(0)}% load, metrics ${options.staleMs} ms stale, ${options.dispatchers} dispatchers`);
    const runs = names.map((name) => {
      const result = simulate({ ...options, load, placement: PLACEMENTS[name] });
      process.stderr.write(`  ${name}: ${(result.wallMs / 1000).toFixed(1)} s\n`);
      return { name, result };
    });
    const oracle = runs.find((run) => run.name === 'oracle');
    console.log(formatTable(
      runs.map(({ name, result }) => ({ name, summary: result.summary, ratio: oracle ? (result.summary.p99Ms / oracle.result.summary.p99Ms).toFixed(2) : undefined })),
      oracle ? 'p99 / oracle' : undefined,
    ));
    for (const { name, result } of runs) {
      const { latencies, ...rest } = result;
      report.push({ name, load, result: rest });
      if (load === loads.at(-1)) {
        cdfRuns.push({ name, latenciesMs: latencies });
        for (const node of result.nodes) utilisation.push({ policy: name, node: node.id, value: node.utilisation });
      }
    }
  }
  writeFileSync(join(out, 'results.json'), JSON.stringify({ options, runs: report } satisfies SimulationReport, null, 2));
  const last = `${(loads.at(-1)! * 100).toFixed(0)}% load`;
  await latencyCdfChart(cdfRuns, join(out, 'latency-cdf.svg'), `Latency CDF, ${options.nodes} simulated nodes, ${last}`);
  await perNodeChart(utilisation, join(out, 'node-utilisation.svg'), `Slot utilisation per node, ${last}`, 'utilisation');
  if (loads.length > 1) {
    await latencyVsLoadChart(report.map(({ name, load, result }) => ({ policy: name, load, latencyMs: result.summary.p99Ms })), join(out, 'p99-vs-load.svg'), 'p99 latency against offered load', 'offered load');
  }
  console.log(`\nresults and charts: ${out}`);
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
