/**
 * `npm run bench`: the whole system on this machine (real node processes, a real
 * redis-server, Ceph's RGW with --ceph), one local cluster per scenario, the same load
 * against each. Scenarios: AutoNDP before (one entry node that runs a call itself, else
 * forwards to a peer with free slots, else queues: Faasm's scheduler, bench/baseline.ts),
 * AutoNDP after (round robin), and Strata's policies; each with offload on (AutoNDP's
 * thresholds) or off. Drivers like AutoNDP's: its batch test (batches spread over one
 * second) and sliding window (a fixed number of client threads), both at once with
 * --driver seed; and an open-loop Poisson driver. The driver and the dispatcher run in a
 * load generator process (bench/load-generator.ts), on a host of its own with --emulate.
 *
 * Prints a table per load level (every request counted, a failure at the client's
 * timeout) with ratios against AutoNDP before measured in the same run, and writes
 * results.json and charts (latency CDF, latency against load, share of the work per
 * node) to the output folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { checkOffloadThresholds } from '@strata/policy-engine';
import { BASELINE_QUEUE, faasmBaseline } from '../bench/baseline';
import { latencyCdfChart, latencyVsLoadChart, perNodeChart } from '../bench/charts';
import { batchSizes, type Driver, median, summarizeOutcomes } from '../bench/drivers';
import type { LevelCommand, LevelResult, LoadGeneratorConfig } from '../bench/load-generator';
import { PLACEMENTS } from '../bench/simulator/placements';
import type { PlacementSpec } from '../bench/simulator/simulate';
import { clearLiveSetting, InvocationLogs, type LoggedInvocation, warmBothPaths } from '../bench/warm-up';
import { coresList, exitWith, wholeNumber } from '../common/cli';
import { FolderObjectStore, S3ObjectStore } from '../common/object-store';
import { DATA_BUCKET } from '../common/settings';
import { RedisStateStore } from '../common/state';
import { formatTable, type LatencySummary, summarize } from '../common/stats';
import { type OneHostCeph, startCeph } from '../local/ceph';
import { LocalCluster, type LocalClusterOptions } from '../local/cluster';
import { CORPUS, loadCorpus } from '../local/corpus';
import { serveDashboard } from '../local/dashboard/server';
import { bottleneck, EmulatedFleet, type HostUsage } from '../local/emulated-fleet';
import { type RedisServer, startRedisServer } from '../local/redis-server';

/** The scenarios, as the simulator defines them (AutoNDP before and after, Strata's policies). */
const SCENARIOS = Object.fromEntries(
  [
    'autondp-before',
    'autondp-before-asks',
    'autondp-after',
    'round-robin',
    'least-outstanding',
    'power-of-two',
    'least-load',
    'most-slots',
    'hash-affinity',
    'least-expected-delay',
    'prequal',
  ].map((name) => {
    const placement = PLACEMENTS[name === 'autondp-before-asks' ? 'autondp-before' : name] as Extract<
      PlacementSpec,
      { kind: 'strata' }
    >;
    // AutoNDP before as Faasm ran it: runs locally, forwards to a peer with free slots, else queues (bench/baseline.ts).
    if (name === 'autondp-before') return [name, faasmBaseline(BASELINE_QUEUE)];
    if (name === 'autondp-before-asks') return [name, faasmBaseline(BASELINE_QUEUE, true)];
    return [name, { strategy: placement.strategy, nodePolicy: placement.nodePolicy }];
  }),
) satisfies Record<string, Pick<LocalClusterOptions, 'strategy' | 'nodePolicy' | 'nodeQueue' | 'askPeers'>>;

/** Each invocation of a workload, in turn. */
const WORKLOADS: Record<string, readonly (readonly [string, unknown])[]> = {
  'wordcount-large': [['wordcount', { key: CORPUS.large.key }]],
  'wordcount-small': [['wordcount', { key: CORPUS.small.key }]],
  'substring-large': [['substring', { key: CORPUS.large.key, pattern: 'love' }]],
  // A CPU / I/O mix: hashing, waiting, and word counts over both objects.
  mix: [
    ['sha256', { data: 'strata', rounds: 20_000 }],
    ['sleep', { ms: 50 }],
    ['wordcount', { key: CORPUS.small.key }],
    ['wordcount', { key: CORPUS.large.key }],
  ],
};

/**
 * AutoNDP's cluster (5 compute machines, 6 storage machines running Ceph, 1 load
 * generator) scaled uniformly to this machine's 2 cores: 0.15 cores a machine, so 0.15
 * per compute host and for the load generator, and 6 × 0.15 for the one storage host
 * that stands for their six; Redis's host 0.1 (2 − 12 × 0.15 − 0.1 = 0.1 spare).
 */
const SEED_SHAPE = { cpu: '0.15,0.15,0.15,0.15,0.15', storageCpu: '0.9', controlCpu: '0.1', loadCpu: '0.15' };

const USAGE = `usage: npm run bench -- [--scenarios ${Object.keys(SCENARIOS).join(',')}]
  [--workload ${Object.keys(WORKLOADS).join('|')}] [--driver window|batch|poisson|seed] [--offload on|off|both]
  [--requests 200] [--concurrency 1,16] [--batches 1,8,32 | 1-499[:STEP]] [--batch-scale 1] [--rates 2,4,8] [--seconds 15]
  [--timeout-ms 30000] [--nodes 3] [--slots 2] [--heterogeneous] [--ceph] [--out DIR] [--dashboard-port 0]
  [--thresholds 0.8,0.8,0.8] [--storage-slots N] [--cold-local-path] [--warm-up 3] [--idle-seconds 5]
  [--emulate [--cpu ${SEED_SHAPE.cpu}] [--storage-cpu ${SEED_SHAPE.storageCpu}] [--control-cpu ${SEED_SHAPE.controlCpu}] [--load-cpu ${SEED_SHAPE.loadCpu}] [--link 100,1000]]

  window: --requests at each --concurrency (client threads), a new one as each finishes (AutoNDP's sliding window)
  batch: each of --batches requests spread evenly over one second, all awaited, then the next batch (AutoNDP's
    batch test: 1-499); --batch-scale multiplies every size (0.05: 1-499 becomes 1-25), to fit this machine
  poisson: open-loop Poisson arrivals at each of --rates per second, for --seconds each
  seed: AutoNDP's two drivers in turn, the batch test (--batches, default 1-499) and the sliding window
    (--requests, default 5000, over --concurrency threads, default 16); the default with --emulate
  Every request counts: one refused, failed or unanswered within --timeout-ms counts as a failure at
    --timeout-ms in the latency figures, and the goodput counts only the answered.
  --cold-local-path: compute nodes that do not warm the local path of the data stages at start (nodes' --cold)
  --warm-up N: before measuring, N invocations per compute node with offload never (the local path) and N with
    offload always (the storage node's path), uncounted, through the live policy setting; then the scenario's own
  --idle-seconds S: with --emulate, each host's CPU over S idle seconds after the warm-up (its background, for
    the model: npm run simulate:tier3 -- --compare)
  --heterogeneous: compute nodes with 1, 2, 3... slots instead of --slots each
  --offload on (AutoNDP's thresholds) | off | always (every stage offered, and taken unless the storage node's
    slots are full) | both (on, off) | all;  --thresholds cpu,memory,load per core: the offload thresholds
  --emulate: every node on an emulated host of its own (local/emulated-fleet.ts): a compute node per
    --cpu quota (cores of this machine), the storage node (Ceph + its agent) at each --storage-cpu,
    Redis at --control-cpu, the load generator (driver and dispatcher) at --load-cpu, every node's link at
    each --link rate (Mbit/s); the quotas must fit the machine's cores. The defaults are AutoNDP's cluster
    scaled to 2 cores (docs/benchmarks.md). Prints which resource limited each run, from the hosts' counters.`;

interface Level {
  readonly driver: Driver;
  readonly label: string;
  readonly load: number;
  readonly summary: LatencySummary;
  readonly elapsedS: number;
  /** Every request's latency, a failure at the client's timeout. */
  readonly latenciesMs: number[];
  readonly perNode: Record<string, number>;
  /** With --emulate: what each host used, and the resource that limited the run. */
  readonly hosts?: HostUsage[];
  readonly limitedBy?: string;
  /** CPU of the load generator (the dispatcher and the driver), cores. */
  readonly benchCpuCores?: number;
  /** What the compute nodes' invocation logs say of the level's invocations: path and service time. */
  readonly invocations?: LoggedInvocation[];
}

/** A little over a heartbeat: every node reads the live policy setting once a heartbeat. */
const SETTLE_MS = 2_200;

/** The offload settings: AutoNDP's thresholds (on), never (off), always offered. */
const OFFLOAD_POLICIES: Record<string, string> = { on: 'thresholds', off: 'never', always: 'always' };
const OFFLOADS: Record<string, readonly string[]> = {
  on: ['on'],
  off: ['off'],
  always: ['always'],
  both: ['on', 'off'],
  all: ['on', 'off', 'always'],
};

/** Per run: each host's CPU (cores used / quota, share of periods throttled) and link (Mbit/s), and what limited it. */
function usageTable(rows: readonly { name: string; level: Level }[]): string {
  const lines = rows.map(({ name, level }) => {
    const hosts = (level.hosts ?? []).map(
      (u) =>
        `${u.host} ${u.cpuCores.toFixed(2)}/${u.quotaCores}${u.throttled > 0.05 ? ` thr ${(100 * u.throttled).toFixed(0)}%` : ''}${Number.isFinite(u.linkRateMbit) ? ` ${u.linkMbit.toFixed(0)}Mb` : ''}`,
    );
    return `  ${name}: limited by ${level.limitedBy}; ${hosts.join(', ')}; load generator ${level.benchCpuCores?.toFixed(2)} cores`;
  });
  return `hosts (CPU cores used / quota, throttled periods, link Mbit/s):\n${lines.join('\n')}`;
}

/** The load generator process (bench/load-generator.ts), on the load-generator host if there is one. */
class LoadGenerator {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  static start(config: LoadGeneratorConfig, stateUrl: string, prefix: readonly string[] = []): LoadGenerator {
    const argv = [
      process.execPath,
      '--import',
      'tsx',
      join(__dirname, '..', 'bench', 'load-generator.ts'),
      JSON.stringify(config),
    ];
    const [file, ...rest] = prefix.length > 0 ? prefix : [argv[0]];
    const child = spawn(file, prefix.length > 0 ? [...rest, ...argv] : argv.slice(1), {
      cwd: join(__dirname, '..'),
      // The state URL holds Redis's password: the environment, not argv.
      env: { ...process.env, STRATA_STATE_URL: stateUrl, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    return new LoadGenerator(child);
  }

  async run(command: LevelCommand): Promise<LevelResult> {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`the load generator ended (exit ${this.child.exitCode})`);
    return JSON.parse(next.value) as LevelResult;
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    if (this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      this.child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        // Every scenario but the costlier variant of the baseline, which is asked for by name.
        scenarios: {
          type: 'string',
          default: Object.keys(SCENARIOS)
            .filter((name) => name !== 'autondp-before-asks')
            .join(','),
        },
        workload: { type: 'string', default: 'wordcount-large' },
        driver: { type: 'string' },
        offload: { type: 'string', default: 'on' },
        requests: { type: 'string' },
        concurrency: { type: 'string' },
        batches: { type: 'string' },
        'batch-scale': { type: 'string', default: '1' },
        rates: { type: 'string', default: '2,4,8' },
        seconds: { type: 'string', default: '15' },
        'timeout-ms': { type: 'string', default: '30000' },
        nodes: { type: 'string', default: '3' },
        slots: { type: 'string' },
        heterogeneous: { type: 'boolean', default: false },
        ceph: { type: 'boolean', default: false },
        emulate: { type: 'boolean', default: false },
        cpu: { type: 'string', default: SEED_SHAPE.cpu },
        'storage-cpu': { type: 'string', default: SEED_SHAPE.storageCpu },
        'control-cpu': { type: 'string', default: SEED_SHAPE.controlCpu },
        'load-cpu': { type: 'string', default: SEED_SHAPE.loadCpu },
        link: { type: 'string', default: '100' },
        thresholds: { type: 'string', default: '0.8,0.8,0.8' },
        'storage-slots': { type: 'string' },
        'cold-local-path': { type: 'boolean', default: false },
        'warm-up': { type: 'string', default: '3' },
        'idle-seconds': { type: 'string', default: '5' },
        out: { type: 'string' },
        'dashboard-port': { type: 'string', default: '0' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const scenarios = values.scenarios.split(',');
  const unknown = scenarios.find((name) => !(name in SCENARIOS));
  if (unknown) exitWith(2, `--scenarios: unknown "${unknown}"; the scenarios are ${Object.keys(SCENARIOS).join(', ')}`);
  if (!(values.workload in WORKLOADS))
    exitWith(2, `--workload must be one of ${Object.keys(WORKLOADS).join(', ')}; got "${values.workload}"`);
  const driver = values.driver ?? (values.emulate ? 'seed' : 'window');
  if (!['window', 'batch', 'poisson', 'seed'].includes(driver))
    exitWith(2, `--driver must be window, batch, poisson or seed; got "${driver}"`);
  if (!(values.offload in OFFLOADS))
    exitWith(2, `--offload must be one of ${Object.keys(OFFLOADS).join(', ')}; got "${values.offload}"`);
  const list = (flag: string, text: string) => text.split(',').map((item) => wholeNumber(flag, item, 1));
  const seed = driver === 'seed';
  let sizes: number[] = [];
  if (driver === 'batch' || seed) {
    try {
      sizes = batchSizes(values.batches ?? (seed ? '1-499' : '1,8,32'), Number(values['batch-scale']));
    } catch (error) {
      exitWith(2, (error as Error).message);
    }
  }
  const windows = driver === 'window' || seed ? list('concurrency', values.concurrency ?? (seed ? '16' : '1,16')) : [];
  // Each load level in turn: the batch test's batches, then the sliding windows (seed), or one driver's.
  const plan: { driver: Driver; level: number }[] = [
    ...sizes.map((level) => ({ driver: 'batch' as const, level })),
    ...windows.map((level) => ({ driver: 'window' as const, level })),
    ...(driver === 'poisson'
      ? list('rates', values.rates).map((level) => ({ driver: 'poisson' as const, level }))
      : []),
  ];
  const requests = wholeNumber('requests', values.requests ?? (seed ? '5000' : '200'), 1);
  const seconds = wholeNumber('seconds', values.seconds, 1);
  const timeoutMs = wholeNumber('timeout-ms', values['timeout-ms'], 1);
  const computeCpu = coresList('cpu', values.cpu);
  const storageCpus = coresList('storage-cpu', values['storage-cpu']);
  const links = list('link', values.link);
  const nodes = values.emulate ? computeCpu.length : wholeNumber('nodes', values.nodes, 1);
  // Faasm gives a host a slot per core; an emulated host of a fraction of a core gets one.
  const slots = values.heterogeneous
    ? Array.from({ length: nodes }, (_, i) => i + 1)
    : wholeNumber('slots', values.slots ?? (values.emulate ? '1' : '2'), 1);
  const offloads = OFFLOADS[values.offload];
  const warmUp = wholeNumber('warm-up', values['warm-up'], 0);
  const idleSeconds = wholeNumber('idle-seconds', values['idle-seconds'], 0);
  const [cpuLimit, memoryLimit, loadLimit] = values.thresholds.split(',').map(Number);
  const thresholds = { cpu: cpuLimit, memory: memoryLimit, loadPerCore: loadLimit };
  try {
    checkOffloadThresholds(thresholds);
  } catch (error) {
    exitWith(2, `--thresholds (cpu,memory,load per core): ${(error as Error).message}`);
  }

  const out =
    values.out ?? join(__dirname, '..', 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  // The dashboard of the scenario that runs, from its cluster's EMF records (it starts afresh with each scenario).
  const dashboard = await serveDashboard({
    port: wholeNumber('dashboard-port', values['dashboard-port'], 0),
    title: 'npm run bench: starting',
  });
  console.log(`dashboard: ${dashboard.url}`);
  let fleet: EmulatedFleet | undefined;
  let redis: RedisServer | undefined;
  let ceph: OneHostCeph | undefined;
  let objects: LocalClusterOptions['objects'];
  if (values.emulate) {
    // The largest storage quota first: the sum is checked against the machine before any host is made.
    fleet = await EmulatedFleet.start({
      computeCpu,
      storageCpu: Math.max(...storageCpus),
      controlCpu: coresList('control-cpu', values['control-cpu'])[0],
      loadCpu: coresList('load-cpu', values['load-cpu'])[0],
      linkMbit: links[0],
      log: (line) => console.error(line),
    }).catch((error: Error) => exitWith(1, `--emulate: ${error.message}`));
    objects = { s3Endpoint: fleet.s3Endpoint, bucket: DATA_BUCKET, credentials: fleet.ceph.credentials };
  } else if (values.ceph) {
    redis = await startRedisServer();
    ceph = await startCeph();
    await ceph.createBucket(DATA_BUCKET);
    await loadCorpus(
      new S3ObjectStore({ endpoint: ceph.rgwEndpoint, bucket: DATA_BUCKET, credentials: ceph.credentials }),
    );
    objects = { s3Endpoint: ceph.rgwEndpoint, bucket: DATA_BUCKET, credentials: ceph.credentials };
  } else {
    redis = await startRedisServer();
    const folder = join(out, 'objects');
    await loadCorpus(new FolderObjectStore(folder));
    objects = { folder };
  }
  const redisUrl = fleet?.redisUrl ?? redis!.url;
  // The harness's own connection: the live policy setting of the warm-up.
  const operator = await RedisStateStore.connect({ url: redisUrl });
  const command = (args: readonly string[]) => operator.command(args);
  const drivers = [
    sizes.length > 0
      ? `batch test over ${sizes.length} batches (${sizes[0]} to ${sizes.at(-1)} requests, each over one second)`
      : '',
    windows.length > 0 ? `sliding window, ${requests} requests over ${windows.join(', ')} client threads` : '',
    driver === 'poisson' ? `Poisson at ${values.rates}/s for ${seconds} s` : '',
  ]
    .filter(Boolean)
    .join('; ');
  console.log(
    fleet
      ? `${values.workload}, ${drivers}, client timeout ${timeoutMs} ms; emulated hosts: compute nodes at ${computeCpu.join(', ')} cores with ${JSON.stringify(slots)} slots, storage (Ceph + agent) at ${storageCpus.join(' / ')} cores, Redis at ${values['control-cpu']}, load generator at ${values['load-cpu']}, links ${links.join(' / ')} Mbit/s`
      : `${values.workload}, ${drivers}, client timeout ${timeoutMs} ms; ${nodes} compute nodes with ${JSON.stringify(slots)} slots, 1 storage node; objects in ${ceph ? 'Ceph RGW' : 'a folder'}; state in redis-server`,
  );
  // Without --emulate one setting: the machine as it is.
  const settings = fleet
    ? links.flatMap((link) => storageCpus.map((storageCpu) => ({ link, storageCpu })))
    : [undefined];

  const results: {
    name: string;
    setting: string;
    scenario: string;
    offload: string;
    link?: number;
    storageCpu?: number;
    /** With --emulate: each host's CPU at idle after the warm-up, cores. */
    idleCores?: Record<string, number>;
    levels: Level[];
  }[] = [];
  try {
    for (const setting of settings) {
      if (fleet && setting) {
        await fleet.setLink(setting.link);
        await fleet.setStorageCpu(setting.storageCpu);
      }
      const where =
        setting && settings.length > 1 ? `, ${setting.link} Mbit/s, storage ${setting.storageCpu} cores` : '';
      for (const scenario of scenarios) {
        for (const offload of offloads) {
          const name = `${scenario}${offloads.length > 1 ? ` (offload ${offload})` : ''}${where}`;
          const metricsDir = join(out, 'metrics', name.replace(/[^\w.-]+/g, '-'));
          dashboard.reset(`npm run bench: ${name}, ${values.workload}, ${driver} driver`);
          dashboard.addSource({ folder: metricsDir });
          await clearLiveSetting(command); // the last scenario's warm-up setting must not reach these nodes
          const cluster = await LocalCluster.start({
            redisUrl,
            redisUsers: fleet?.redisUsers, // on emulated hosts each role connects as its own user, as on AWS
            objects,
            computeNodes: nodes,
            slots,
            ...SCENARIOS[scenario],
            storageSlots:
              values['storage-slots'] === undefined
                ? undefined
                : wholeNumber('storage-slots', values['storage-slots'], 1),
            offloadPolicy: OFFLOAD_POLICIES[offload],
            offloadThresholds: thresholds,
            // "always": the storage node takes every stage its slots allow (its thresholds out of the way).
            storageThresholds: offload === 'always' ? { cpu: 1, memory: 1, loadPerCore: Number.MAX_VALUE } : thresholds,
            queueTimeoutMs: 60_000,
            coldLocalPath: values['cold-local-path'],
            metricsDir,
            cephConf: ceph?.conf,
            nodeHost: fleet ? (id) => fleet.placement(id) : undefined,
          });
          const generator = LoadGenerator.start(
            {
              strategy: SCENARIOS[scenario].strategy ?? 'round-robin',
              timeoutMs,
              queueTimeoutMs: 60_000,
              workload: WORKLOADS[values.workload],
            },
            redisUrl,
            fleet?.loadGenerator,
          );
          try {
            await cluster.waitForNodes(60_000);
            // Warm up both tier-3 paths, uncounted: each node's first local runs and the storage
            // node's first stages compile, connect and fill caches (bench/warm-up.ts).
            if (warmUp > 0) {
              const policies = {
                strategy: SCENARIOS[scenario].strategy ?? 'round-robin',
                nodePolicy: SCENARIOS[scenario].nodePolicy ?? 'most-slots',
                offloadPolicy: OFFLOAD_POLICIES[offload],
                offloadOptions: OFFLOAD_POLICIES[offload] === 'thresholds' ? thresholds : {},
              };
              await warmBothPaths(
                command,
                policies,
                // Local: every node at once; offload: one at a time, so that a storage slot is free for each.
                (path) =>
                  generator
                    .run({ driver: 'window', level: path === 'local' ? nodes : 1, requests: warmUp * nodes, seconds })
                    .then(() => undefined),
                SETTLE_MS,
              );
            }
            let idleCores: Record<string, number> | undefined;
            if (fleet && idleSeconds > 0) {
              const from = fleet.read();
              await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
              idleCores = Object.fromEntries(fleet.usage(from, fleet.read()).map((u) => [u.host, u.cpuCores]));
              console.error(
                `${name}: idle CPU ${Object.entries(idleCores)
                  .map(([host, cores]) => `${host} ${cores.toFixed(3)}`)
                  .join(', ')} cores`,
              );
            }
            const logs = new InvocationLogs(
              Array.from({ length: nodes }, (_, i) => join(metricsDir, `c${i + 1}.invocations.jsonl`)),
            );
            const measured: Level[] = [];
            for (const { driver: levelDriver, level } of plan) {
              process.stderr.write(`${name}, ${levelDriver} ${level}\n`);
              const before = fleet?.read();
              const run = await generator.run({ driver: levelDriver, level, requests, seconds });
              const hosts = fleet && before ? fleet.usage(before, fleet.read()) : undefined;
              const perNode: Record<string, number> = {};
              for (const o of run.outcomes) if (o.node) perNode[o.node] = (perNode[o.node] ?? 0) + 1;
              measured.push({
                driver: levelDriver,
                label:
                  levelDriver === 'window'
                    ? `sliding window, ${level} threads`
                    : levelDriver === 'batch'
                      ? `batch of ${level} over 1 s`
                      : `Poisson ${level}/s`,
                load: level,
                summary: summarizeOutcomes(run.outcomes, timeoutMs, run.elapsedS),
                elapsedS: run.elapsedS,
                latenciesMs: run.outcomes.map((o) => (o.ok ? o.ms : timeoutMs)),
                perNode,
                hosts,
                limitedBy: hosts ? bottleneck(hosts).resource : undefined,
                benchCpuCores: run.cpuCores,
                invocations: logs.next(),
              });
            }
            results.push({
              name,
              setting: where,
              scenario,
              offload: OFFLOAD_POLICIES[offload],
              link: setting?.link,
              storageCpu: setting?.storageCpu,
              idleCores,
              levels: measured,
            });
          } finally {
            await generator.stop();
            await cluster.stop();
            await clearLiveSetting(command).catch(() => undefined);
          }
        }
      }
    }
  } finally {
    await operator.close();
    await fleet?.close();
    await ceph?.stop();
    await redis?.stop();
    await dashboard.close();
  }

  const baseOf = (setting: string) =>
    results.find((result) => result.setting === setting && result.name.startsWith('autondp-before'));
  const ratioHeader = results.some((result) => result.name.startsWith('autondp-before'))
    ? 'before ÷ this: median / stddev'
    : undefined;
  const ratio = (base: LatencySummary | undefined, summary: LatencySummary) =>
    base
      ? `${(base.medianMs / summary.medianMs).toFixed(2)} / ${(base.stddevMs / summary.stddevMs).toFixed(2)}`
      : undefined;
  const batchSummaries = new Map<
    string,
    { perBatch: { size: number; medianMs: number; errors: number }[]; summary: LatencySummary; medianOfMedians: number }
  >();
  if (sizes.length > 0) {
    // The batch test: each batch's median, then the median over batches (AutoNDP's figure), and every request's spread.
    for (const { name, levels: measured } of results) {
      const batches = measured.filter((level) => level.driver === 'batch');
      const all = batches.flatMap((level) => level.latenciesMs);
      const errors = batches.reduce((sum, level) => sum + level.summary.errors, 0);
      const elapsed = batches.reduce((sum, level) => sum + level.elapsedS, 0);
      const summary = summarize(all, errors, elapsed);
      batchSummaries.set(name, {
        perBatch: batches.map((level) => ({
          size: level.load,
          medianMs: level.summary.medianMs,
          errors: level.summary.errors,
        })),
        summary: { ...summary, completed: all.length - errors, throughput: (all.length - errors) / elapsed },
        medianOfMedians: median(batches.map((level) => level.summary.medianMs)),
      });
    }
    console.log(`\n${values.workload}, the batch test: each batch's median ms (failures), batch by batch`);
    console.log(
      [
        ['batch', ...results.map((r) => r.name)].join('  '),
        ...sizes.map((size, i) =>
          [
            String(size).padStart(5),
            ...results.map((r) => {
              const b = batchSummaries.get(r.name)!.perBatch[i];
              return `${b.medianMs.toFixed(0)}${b.errors > 0 ? ` (${b.errors})` : ''}`.padStart(r.name.length);
            }),
          ].join('  '),
        ),
      ].join('\n'),
    );
    console.log(
      `\n${values.workload}, the batch test over every batch (median = the median of the batches' medians; the rest over every request)`,
    );
    console.log(
      formatTable(
        results.map(({ name, setting }) => {
          const mine = batchSummaries.get(name)!;
          const base = baseOf(setting) && batchSummaries.get(baseOf(setting)!.name);
          return {
            name,
            summary: { ...mine.summary, medianMs: mine.medianOfMedians },
            ratio: base
              ? `${(base.medianOfMedians / mine.medianOfMedians).toFixed(2)} / ${(base.summary.stddevMs / mine.summary.stddevMs).toFixed(2)}`
              : undefined,
          };
        }),
        ratioHeader,
      ),
    );
  }
  plan.forEach(({ driver: levelDriver }, i) => {
    if (levelDriver === 'batch') return;
    console.log(`\n${values.workload}, ${results[0].levels[i].label}`);
    console.log(
      formatTable(
        results.map(({ name, setting, levels: measured }) => ({
          name,
          summary: measured[i].summary,
          ratio: ratio(baseOf(setting)?.levels[i].summary, measured[i].summary),
        })),
        ratioHeader,
      ),
    );
    if (fleet) console.log(usageTable(results.map(({ name, levels: measured }) => ({ name, level: measured[i] }))));
    for (const { name, levels: measured } of results.filter((result) => result.name.includes('(offload on)'))) {
      const off = results.find((result) => result.name === name.replace('(offload on)', '(offload off)'))?.levels[i]
        .summary;
      if (off)
        console.log(
          `${name.replace(' (offload on)', '')}: offload off ÷ on, median ${(off.medianMs / measured[i].summary.medianMs).toFixed(2)}×, p99 ${(off.p99Ms / measured[i].summary.p99Ms).toFixed(2)}×`,
        );
    }
  });
  if (fleet && sizes.length > 0) {
    const top = plan.findIndex((step) => step.driver === 'batch' && step.level === sizes.at(-1));
    console.log(`\nthe largest batch (${sizes.at(-1)}):`);
    console.log(usageTable(results.map(({ name, levels: measured }) => ({ name, level: measured[top] }))));
  }
  writeFileSync(
    join(out, 'results.json'),
    JSON.stringify(
      {
        workload: values.workload,
        driver,
        timeoutMs,
        nodes,
        slots,
        warmUpPerPath: warmUp,
        // How the dispatcher queues while every node is full (simulate:tier3 --compare models it).
        queue: 'fifo',
        ceph: Boolean(ceph),
        emulated: fleet
          ? {
              computeCpu,
              storageCpus,
              links,
              controlCpu: values['control-cpu'],
              loadCpu: values['load-cpu'],
              storageSlots: values['storage-slots'] === undefined ? undefined : Number(values['storage-slots']),
            }
          : undefined,
        batchTest: sizes.length > 0 ? Object.fromEntries(batchSummaries) : undefined,
        results: results.map(({ setting: _, levels: measured, ...run }) => ({
          ...run,
          levels: measured.map(({ latenciesMs: _latencies, ...rest }) => rest),
        })),
      },
      null,
      2,
    ),
  );
  // Charts of the last level (the sliding window, if it ran).
  const top = plan.length - 1;
  await latencyCdfChart(
    results.map(({ name, levels: measured }) => ({ name, latenciesMs: measured[top].latenciesMs })),
    join(out, 'latency-cdf.svg'),
    `${values.workload}: latency CDF, ${results[0].levels[top].label}`,
  );
  const sameDriver = plan.filter((step) => step.driver === plan[top].driver).length;
  if (sameDriver > 1) {
    await latencyVsLoadChart(
      results.flatMap(({ name, levels: measured }) =>
        measured
          .filter((level) => level.driver === plan[top].driver)
          .map((level) => ({ policy: name, load: level.load, latencyMs: level.summary.medianMs })),
      ),
      join(out, 'median-vs-load.svg'),
      `${values.workload}: median latency against load`,
      plan[top].driver === 'window'
        ? 'client threads'
        : plan[top].driver === 'batch'
          ? 'batch size (requests in one second)'
          : 'arrival rate per second',
    );
  }
  await perNodeChart(
    results.flatMap(({ name, levels: measured }) =>
      Object.entries(measured[top].perNode).map(([node, count]) => ({
        policy: name,
        node,
        value: count / Math.max(1, measured[top].summary.completed),
      })),
    ),
    join(out, 'work-per-node.svg'),
    `${values.workload}: share of invocations per node, ${results[0].levels[top].label}`,
    'share',
  );
  console.log(`\nresults and charts: ${out}`);
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
