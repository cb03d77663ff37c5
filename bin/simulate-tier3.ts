/**
 * `npm run simulate:tier3`: the emulated benchmark's fleet as a model
 * (bench/simulator/tier3.ts): word count over the large object with offload off, on
 * (AutoNDP's thresholds) and always, across link rates, storage CPU quotas and loads;
 * prints the crossover table. With --compare, runs the model on each configuration of an
 * emulated `npm run bench` results.json and prints the model's median and p99 beside the
 * system's. The model is given what the bench measured of the system besides: each host's
 * CPU at idle, the spread of the service time on each path (from the nodes' invocation
 * logs at concurrency 1) and the bench's warm-up; --without drops any of them.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PLACEMENTS } from '../bench/simulator/placements';
import {
  type CountedLevel,
  countedCosts,
  measuredCosts,
  simulateTier3,
  type Tier3Options,
} from '../bench/simulator/tier3';
import { exitWith, wholeNumber } from '../common/cli';

const USAGE = `usage: npm run simulate:tier3 -- [--cpu 0.25,0.25,0.5] [--storage-cpu 0.25,0.5,1] [--link 50,100,1000]
  [--concurrency 1,8] [--requests 200] [--strategy round-robin] [--object-mib 4]
  [--stage-cpu-ms 180] [--near-stage-cpu-ms 230] [--serve-cpu-ms 50] [--overhead-cpu-ms 20] [--storage-idle-cores 0.05] [--node-idle-cores 0.03]
  [--compare bench/results/.../results.json [--fit other/results.json] [--without idle,spread,warm-up] [--costs-at 1|each] [--ask-ms 0]]

The CPU costs are ms on a whole core of this machine: the data stage on a compute node
(reading the object through the S3 client and counting its words), the same stage on the
storage host (RGW, the OSDs and the agent's read included), serving the object through RGW
to a compute node, and a compute node's own work per invocation. The defaults come from
an emulated bench (docs/benchmarks.md): the hosts' counters (CPU per request, less the
nodes' background CPU), then adjusted to its medians at concurrency 1; measure them again
on another machine and pass them here.

--compare also gives the model what that bench measured, where it did: each host's CPU at
idle (instead of --storage-idle-cores and --node-idle-cores), the spread of the service
time on each path (each invocation's time ÷ its path's median, from the compute nodes'
invocation logs at concurrency 1, over every run of the bench) and its warm-up (--warm-up
invocations per node on each path, uncounted). --without leaves any of them out
(counted, costs, quota-costs, idle, spread, warm-up, queue, throttle, streamed-serve, refused-spread, transfer-spread). --ask-ms gives each of the dispatcher's asks that long between
setting out and reserving (0: at once).

--fit takes the costs, the counters' figures and the spreads from other runs of the same
settings, one for each --compare run in its order, so that the model predicts runs it was
not fitted to (out of sample); each compared run still gives its own idle CPU, measured
before it, and its warm-up.`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        cpu: { type: 'string', default: '0.25,0.25,0.5' },
        'storage-cpu': { type: 'string', default: '0.25,0.5,1' },
        link: { type: 'string', default: '50,100,1000' },
        concurrency: { type: 'string', default: '1,8' },
        requests: { type: 'string', default: '200' },
        strategy: { type: 'string', default: 'round-robin' },
        'object-mib': { type: 'string', default: '4' },
        'stage-cpu-ms': { type: 'string', default: '180' },
        'near-stage-cpu-ms': { type: 'string', default: '230' },
        'serve-cpu-ms': { type: 'string', default: '50' },
        'overhead-cpu-ms': { type: 'string', default: '20' },
        'storage-idle-cores': { type: 'string', default: '0.05' },
        'node-idle-cores': { type: 'string', default: '0.03' },
        compare: { type: 'string' },
        fit: { type: 'string' },
        without: { type: 'string', default: '' },
        'costs-at': { type: 'string', default: '1' },
        'ask-ms': { type: 'string', default: '0' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const number = (flag: string, text: string) => {
    const value = Number(text);
    return Number.isFinite(value) && value >= 0
      ? value
      : exitWith(2, `--${flag}: "${text}" is not a number of at least 0`);
  };
  const numbers = (flag: string, text: string) => text.split(',').map((item) => number(flag, item));
  const costs = {
    objectBytes: number('object-mib', values['object-mib']) * 1024 * 1024,
    stageCpuMs: number('stage-cpu-ms', values['stage-cpu-ms']),
    nearStageCpuMs: number('near-stage-cpu-ms', values['near-stage-cpu-ms']),
    serveCpuMs: number('serve-cpu-ms', values['serve-cpu-ms']),
    overheadCpuMs: number('overhead-cpu-ms', values['overhead-cpu-ms']),
    storageIdleCores: number('storage-idle-cores', values['storage-idle-cores']),
    nodeIdleCores: number('node-idle-cores', values['node-idle-cores']),
    askMs: number('ask-ms', values['ask-ms']),
  };
  const requests = wholeNumber('requests', values.requests, 1);
  const computeCpu = numbers('cpu', values.cpu);
  const run = (options: Omit<Tier3Options, keyof typeof costs>) => simulateTier3({ ...costs, ...options });

  const without = values.without.split(',').filter(Boolean);
  const unknown = without.find((item) => !COMPARE_INPUTS.includes(item));
  if (unknown) exitWith(2, `--without: unknown "${unknown}"; it takes ${COMPARE_INPUTS.join(', ')}`);
  if (!['1', 'each'].includes(values['costs-at']))
    exitWith(2, `--costs-at must be 1 or each; got "${values['costs-at']}"`);
  if (values.fit !== undefined && !values.compare) exitWith(2, '--fit goes with --compare');
  if (values.compare) {
    // Several runs of this machine: each compared on its own, the CPU counted over all of them
    // (over the --fit runs instead, when given: each compared run is then fitted by its own).
    const paths = values.compare.split(',').filter(Boolean);
    const fits = values.fit?.split(',').filter(Boolean) ?? paths;
    if (fits.length !== paths.length)
      exitWith(2, `--fit: ${fits.length} runs for ${paths.length} --compare runs; give one for each, in order`);
    if (values.fit !== undefined && values['costs-at'] === 'each')
      exitWith(
        2,
        "--fit and --costs-at each don't go together: each takes a level's costs from the compared run itself",
      );
    const counted = without.includes('counted') ? {} : countedCosts(fits.flatMap(countedLevels));
    for (const [i, path] of paths.entries())
      compare(path, fits[i], computeCpu, { ...costs, ...counted }, new Set(without), values['costs-at']);
    return;
  }

  console.log(
    `word count over ${values['object-mib']} MiB, ${values.strategy}, compute nodes at ${computeCpu.join(', ')} cores; median ms (offloaded share), off ÷ on and off ÷ always`,
  );
  console.log(
    'link Mbit/s | storage cores | concurrency | off | on (thresholds) | always | off ÷ on | off ÷ always | limited by (off / always)',
  );
  for (const linkMbit of numbers('link', values.link)) {
    for (const storageCpu of numbers('storage-cpu', values['storage-cpu'])) {
      for (const concurrency of numbers('concurrency', values.concurrency)) {
        const [off, on, always] = (['never', 'thresholds', 'always'] as const).map((offload) =>
          run({ computeCpu, storageCpu, linkMbit, strategy: values.strategy, offload, concurrency, requests }),
        );
        const cell = (r: typeof off) =>
          `${r.summary.medianMs.toFixed(0)} (${Math.round((100 * r.offloaded) / requests)} %)`;
        const busiest = (r: typeof off) => Object.entries(r.utilisation).sort((a, b) => b[1] - a[1])[0];
        const limit = (r: typeof off) => `${busiest(r)[0]} ${(100 * busiest(r)[1]).toFixed(0)} %`;
        console.log(
          `${linkMbit} | ${storageCpu} | ${concurrency} | ${cell(off)} | ${cell(on)} | ${cell(always)} | ${(off.summary.medianMs / on.summary.medianMs).toFixed(2)} | ${(off.summary.medianMs / always.summary.medianMs).toFixed(2)} | ${limit(off)} / ${limit(always)}`,
        );
      }
    }
  }
}

/** How many times the model runs each level of a --compare, a seed each. */
const REPEATS = 10;

/** What --compare gives the model from the bench, each of which --without can drop. */
const COMPARE_INPUTS = [
  'counted',
  'costs',
  'quota-costs',
  'idle',
  'spread',
  'warm-up',
  'queue',
  'throttle',
  'streamed-serve',
  'refused-spread',
  'transfer-spread',
];

interface BenchRun {
  readonly name: string;
  readonly scenario?: string;
  readonly offload?: string;
  readonly link?: number;
  readonly storageCpu?: number;
  readonly idleCores?: Readonly<Record<string, number>>;
  readonly levels: readonly {
    label: string;
    load: number;
    summary: { completed: number; errors: number; medianMs: number; p99Ms: number; meanMs: number; throughput: number };
    invocations?: readonly { node: string; path: 'local' | 'offloaded'; ms: number }[];
    elapsedS?: number;
    hosts?: readonly { host: string; cpuCores: number }[];
  }[];
}

/** A bench's concurrency-1 levels as its hosts' counters saw them, each host less its idle. */
function countedLevels(path: string): CountedLevel[] {
  const report = JSON.parse(readFileSync(path, 'utf8')) as { results?: BenchRun[] };
  return (report.results ?? []).flatMap((result) =>
    result.levels
      .filter((level) => level.load === 1 && level.hosts && level.elapsedS && level.invocations)
      .map((level) => ({
        elapsedS: level.elapsedS!,
        busyCores: Object.fromEntries(
          level.hosts!.map((h) => [h.host, h.cpuCores - (result.idleCores?.[h.host] ?? 0)]),
        ),
        invocations: level.invocations!,
      })),
  );
}

/** An emulated bench's report and its runs, with the settings each ran at. */
function benchRuns(path: string, computeCpu: readonly number[], without: ReadonlySet<string>) {
  const report = JSON.parse(readFileSync(path, 'utf8')) as {
    driver: string;
    slots: number | number[];
    warmUpPerPath?: number;
    /** The dispatcher's queue; runs from before it was written queued by polling. */
    queue?: 'fifo' | 'polling';
    emulated?: { computeCpu: number[]; storageCpus: number[]; links: number[]; storageSlots?: number };
    results: BenchRun[];
  };
  if (!report.emulated) exitWith(2, `--compare: ${path} is not from an emulated bench (npm run bench -- --emulate)`);
  if (report.driver !== 'window')
    exitWith(2, `--compare: the model runs the window driver only; ${path} used ${report.driver}`);
  const quotas = report.emulated!.computeCpu ?? computeCpu;
  const hosts = [...quotas.map((_, i) => `c${i + 1}`), 's1'];
  const runs = report.results.map((result) => {
    // Runs from before results.json named their settings only in the run's name.
    const named = /^([\w-]+)(?: \(offload (\w+)\))?(?:, (\d+) Mbit\/s, storage ([\d.]+) cores)?/.exec(result.name)!;
    return {
      result,
      offload:
        result.offload ??
        ({ on: 'thresholds', off: 'never', always: 'always' } as Record<string, string>)[named[2] ?? 'on'],
      linkMbit: result.link ?? Number(named[3] ?? report.emulated!.links[0]),
      storageCpu: result.storageCpu ?? Number(named[4] ?? report.emulated!.storageCpus[0]),
      strategy: strategyOf(result.scenario ?? named[1]),
      idleCores:
        result.idleCores && !without.has('idle') ? hosts.map((host) => result.idleCores![host] ?? 0) : undefined,
    };
  });
  return { report, quotas, hosts, runs };
}

/**
 * The model beside each run of an emulated bench: the same policy, offload, link, quotas and
 * concurrency; its costs and spreads measured at concurrency 1 in fitPath (path itself, or
 * another run of the same settings).
 */
function compare(
  path: string,
  fitPath: string,
  computeCpu: readonly number[],
  given: Omit<
    Tier3Options,
    'computeCpu' | 'storageCpu' | 'linkMbit' | 'strategy' | 'offload' | 'concurrency' | 'requests'
  >,
  without: ReadonlySet<string>,
  costsAt: string,
): void {
  const { report, quotas, hosts, runs } = benchRuns(path, computeCpu, without);
  const fit = fitPath === path ? { quotas, runs } : benchRuns(fitPath, computeCpu, without);
  if (fit.quotas.join() !== quotas.join())
    exitWith(2, `--fit: ${fitPath}'s compute quotas (${fit.quotas}) are not ${path}'s (${quotas})`);
  const asMeasured = (run: (typeof runs)[number], levels: BenchRun['levels']) => ({
    computeCpu: quotas,
    storageCpu: run.storageCpu,
    idleCores: run.idleCores,
    offload: without.has('refused-spread') ? 'never' : run.offload,
    levels: levels.map((level) => ({ ...level, load: 1 })),
  });
  const serving = without.has('streamed-serve') ? 'before' : 'streamed';
  // At concurrency 1 over every run fitted to: the costs the model predicts every level with.
  const measured = measuredCosts(
    fit.runs.map((run) =>
      asMeasured(
        run,
        run.result.levels.filter((level) => level.load === 1),
      ),
    ),
    { ...given, serving },
  );
  const costs = {
    ...given,
    ...(without.has('costs')
      ? {}
      : {
          stageCpuMs: measured.stageCpuMs ?? given.stageCpuMs,
          nearStageCpuMs: measured.nearStageCpuMs ?? given.nearStageCpuMs,
        }),
  };
  // Each compute node's local stage at its quota's own measured cost, where one was measured.
  const atQuota = (atCores: Record<string, number>) =>
    without.has('costs') || without.has('quota-costs') ? undefined : quotas.map((cores) => atCores[String(cores)]);
  const nodeStageCpuMs = atQuota(measured.stageCpuMsAtCores);
  const spread = without.has('spread') ? {} : measured.spread;
  const warmUp = without.has('warm-up') ? 0 : (report.warmUpPerPath ?? 0);
  const queue = without.has('queue') ? 'fifo' : (report.queue ?? 'polling');
  const throttle = without.has('throttle') ? 'whole' : 'kernel';
  const describe = (multipliers: number[] | undefined) =>
    multipliers
      ? `${multipliers.length} invocations, p50 / p90 / p99 / max ${[0.5, 0.9, 0.99, 1].map((q) => quantile(multipliers, q).toFixed(2)).join(' / ')}`
      : 'none measured';
  console.log(
    [
      'model given:',
      `  stage CPU ${costs.stageCpuMs.toFixed(0)} ms on a compute node (${
        nodeStageCpuMs
          ? `at each quota: ${
              Object.entries(measured.stageCpuMsAtCores)
                .map(([cores, ms]) => `${cores} cores ${ms.toFixed(0)} ms`)
                .join(', ') || 'none measured'
            }`
          : 'one for every quota'
      }), ${costs.nearStageCpuMs.toFixed(0)} ms on the storage host (${without.has('costs') ? 'as given' : 'measured at concurrency 1'}); overhead ${costs.overheadCpuMs.toFixed(1)} ms, serving ${costs.serveCpuMs.toFixed(1)} ms (${without.has('counted') ? 'as given' : "from the hosts' counters"})`,
      `  spread of the cost (÷ its path's median) local: ${describe(spread.local)}; offloaded: ${describe(spread.offloaded)}; refused offers run locally: ${describe(spread.refused)}`,
      `  warm-up ${warmUp} per node and path; idle CPU ${without.has('idle') ? 'the fixed figures' : "each host's, measured before each run"}; the dispatcher's queue ${queue}; held-back time counted ${throttle === 'kernel' ? "as the kernel's throttled_time" : 'whole'}`,
    ].join('\n'),
  );
  console.log(
    `run | concurrency | system median / p99 ms | model median / p99 ms | model ÷ system median / p99 | the model's p99 over its ${REPEATS} seeds, lowest–highest | seeds whose own p99 is within 20 % of that median | offloaded: system / model`,
  );
  for (const { result, offload, linkMbit, storageCpu, strategy, idleCores } of runs) {
    if (!strategy) {
      console.log(`${result.name} | not modelled (tier-2 forwarding is not in the tier-3 model)`);
      continue;
    }
    if (idleCores)
      console.log(
        `${result.name}: idle CPU ${idleCores.map((cores, i) => `${hosts[i]} ${cores.toFixed(3)}`).join(', ')}`,
      );
    for (const level of result.levels) {
      // With --costs-at each: the level's own (the model then predicts the paths and the waits, not the work).
      const own = measuredCosts([asMeasured(runs.find((run) => run.result === result)!, [level])], {
        ...given,
        serving,
      });
      const levelCosts =
        costsAt === 'each' && !without.has('costs')
          ? {
              ...costs,
              stageCpuMs: own.stageCpuMs ?? costs.stageCpuMs,
              nearStageCpuMs: own.nearStageCpuMs ?? costs.nearStageCpuMs,
              nodeStageCpuMs: atQuota({ ...measured.stageCpuMsAtCores, ...own.stageCpuMsAtCores }),
            }
          : { ...costs, nodeStageCpuMs };
      // The system's run as it was, as many requests from a standing start, repeated over
      // seeds: a run of 50 at concurrency 16 spends a third of itself filling and draining.
      const repeats = Array.from({ length: REPEATS }, (_, i) =>
        simulateTier3({
          seed: i + 1,
          ...levelCosts,
          idleCores,
          spread: costsAt === 'each' && !without.has('spread') ? { ...spread, ...own.spread } : spread,
          warmUp,
          queue,
          throttle,
          serving,
          spreadTransfer: !without.has('transfer-spread'),
          askMs: given.askMs,
          computeCpu: quotas,
          slots: typeof report.slots === 'number' ? report.slots : undefined,
          storageSlots: report.emulated!.storageSlots,
          storageCpu,
          linkMbit,
          strategy,
          offload,
          concurrency: level.load,
          requests: level.summary.completed + level.summary.errors,
        }),
      );
      // The same statistics over the same number of requests, the median over the repeats.
      const model = {
        summary: {
          medianMs: middle(repeats.map((r) => r.summary.medianMs)),
          p99Ms: middle(repeats.map((r) => r.summary.p99Ms)),
        },
      };
      const system = level.summary;
      const systemOffloaded = level.invocations?.filter((i) => i.path === 'offloaded').length ?? '?';
      const p99s = repeats.map((r) => r.summary.p99Ms);
      console.log(
        `${result.name} | ${level.load} | ${system.medianMs.toFixed(0)} / ${system.p99Ms.toFixed(0)} | ${model.summary.medianMs.toFixed(0)} / ${model.summary.p99Ms.toFixed(0)} | ${(model.summary.medianMs / system.medianMs).toFixed(2)} / ${(model.summary.p99Ms / system.p99Ms).toFixed(2)} | ${Math.min(...p99s).toFixed(0)}–${Math.max(...p99s).toFixed(0)} | ${p99s.filter((p) => Math.abs(p / model.summary.p99Ms - 1) <= 0.2).length} of ${REPEATS} | ${systemOffloaded} / ${middle(repeats.map((r) => r.offloaded))}`,
      );
    }
  }
}

function middle(values: readonly number[]): number {
  return quantile(values, 0.5);
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The bench's scenarios by their tier-1 strategy, as the simulator's placements name them. */
function strategyOf(scenario: string): string | undefined {
  const placement = PLACEMENTS[scenario];
  // AutoNDP before's entry node forwards by tier 2, which this model leaves out.
  return placement?.kind === 'strata' && placement.strategy !== 'single-entry' ? placement.strategy : undefined;
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
