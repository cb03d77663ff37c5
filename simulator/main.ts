/**
 * `npm run simulate`: every placement policy over the same simulated fleet and
 * arrivals, driving the real policy engine, with the oracle and random for reference.
 *
 * Usage: npm run simulate -- [--nodes 100] [--invocations 100000] [--load 0.9] [--stale-ms 1000]
 *          [--speeds heterogeneous|uniform] [--arrivals poisson|bursty] [--dispatchers 4] [--slots 4]
 *          [--policies NAME,...] [--seed 1] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { exitWith, wholeNumber } from '../runtime/cli';
import { simulate, type PlacementSpec, type SimulationOptions, type SimulationResult } from './simulate';
import { formatTable } from './stats';

/** The placements compared, by the name the tables use. */
export const PLACEMENTS: Record<string, PlacementSpec> = {
  oracle: { kind: 'oracle' },
  random: { kind: 'random' },
  'autondp-before': { kind: 'strata', strategy: 'single-entry', nodePolicy: 'id-order' },
  'autondp-after': { kind: 'strata', strategy: 'round-robin', nodePolicy: 'id-order' },
  'round-robin': { kind: 'strata', strategy: 'round-robin', nodePolicy: 'most-slots' },
  'least-outstanding': { kind: 'strata', strategy: 'least-outstanding', nodePolicy: 'most-slots' },
  'power-of-two': { kind: 'strata', strategy: 'power-of-two', nodePolicy: 'most-slots' },
  'most-slots': { kind: 'strata', strategy: 'most-slots', nodePolicy: 'most-slots' },
  'least-load': { kind: 'strata', strategy: 'least-load', nodePolicy: 'least-load' },
  'hash-affinity': { kind: 'strata', strategy: 'hash-affinity', nodePolicy: 'most-slots' },
};

const USAGE = `usage: npm run simulate -- [--nodes 100] [--invocations 100000] [--load 0.9] [--stale-ms 1000]
  [--speeds heterogeneous|uniform] [--arrivals poisson|bursty] [--dispatchers 4] [--slots 4]
  [--policies ${Object.keys(PLACEMENTS).join(',')}] [--seed 1] [--json FILE]`;

export interface SimulationReport {
  readonly options: Omit<SimulationOptions, 'placement'>;
  readonly runs: readonly { readonly name: string; readonly result: Omit<SimulationResult, 'latencies'> }[];
}

function main(): void {
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
        json: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const load = Number(values.load);
  if (!(load > 0 && load < 1.5)) exitWith(2, `--load must be a number above 0 and below 1.5, got "${values.load}"`);
  if (values.speeds !== 'heterogeneous' && values.speeds !== 'uniform') exitWith(2, `--speeds must be heterogeneous or uniform, got "${values.speeds}"`);
  if (values.arrivals !== 'poisson' && values.arrivals !== 'bursty') exitWith(2, `--arrivals must be poisson or bursty, got "${values.arrivals}"`);
  const names = values.policies.split(',');
  const unknown = names.find((name) => !(name in PLACEMENTS));
  if (unknown) exitWith(2, `--policies: unknown "${unknown}"; the policies are ${Object.keys(PLACEMENTS).join(', ')}`);
  const options: Omit<SimulationOptions, 'placement'> = {
    nodes: wholeNumber('nodes', values.nodes, 1),
    invocations: wholeNumber('invocations', values.invocations, 1),
    load,
    staleMs: wholeNumber('stale-ms', values['stale-ms'], 1),
    speeds: values.speeds as 'heterogeneous' | 'uniform',
    arrivals: values.arrivals as 'poisson' | 'bursty',
    dispatchers: wholeNumber('dispatchers', values.dispatchers, 1),
    slots: wholeNumber('slots', values.slots, 1),
    seed: wholeNumber('seed', values.seed, 0),
  };
  console.log(`${options.nodes} nodes (${options.speeds}, ${options.slots} slots), ${options.invocations} invocations, ${options.arrivals} arrivals at ${(load * 100).toFixed(0)}% load, metrics ${options.staleMs} ms stale, ${options.dispatchers} dispatchers`);
  const runs = names.map((name) => {
    const result = simulate({ ...options, placement: PLACEMENTS[name] });
    process.stderr.write(`  ${name}: ${(result.wallMs / 1000).toFixed(1)} s\n`);
    return { name, result };
  });
  const oracle = runs.find((run) => run.name === 'oracle');
  console.log(formatTable(
    runs.map(({ name, result }) => ({ name, summary: result.summary, ratio: oracle ? (result.summary.p99Ms / oracle.result.summary.p99Ms).toFixed(2) : undefined })),
    oracle ? 'p99 / oracle' : undefined,
  ));
  if (values.json) {
    const report: SimulationReport = { options, runs: runs.map(({ name, result: { latencies: _, ...rest } }) => ({ name, result: rest })) };
    writeFileSync(values.json, JSON.stringify(report, null, 2));
    console.log(`results: ${values.json}`);
  }
}

main();
