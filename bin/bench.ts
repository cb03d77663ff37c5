/**
 * `npm run bench`: the whole system on this machine (real node processes, a real
 * redis-server, Ceph's RGW with --ceph), one local cluster per scenario, the same load
 * against each. Scenarios: AutoNDP before (one entry node that forwards, in id order,
 * when full), AutoNDP after (round robin), and Strata's policies; each with offload on
 * (AutoNDP's thresholds) or off. Drivers like AutoNDP's: a sliding window (fixed
 * concurrency) and batches spread over one second; and an open-loop Poisson driver.
 *
 * Prints a table per load level with ratios against AutoNDP before measured in the same
 * run, and writes results.json and charts (latency CDF, latency against load, share of
 * the work per node) to the output folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkOffloadThresholds } from '@strata/policy-engine';
import { latencyCdfChart, latencyVsLoadChart, perNodeChart } from '../bench/charts';
import { PLACEMENTS } from '../bench/simulator/placements';
import type { PlacementSpec } from '../bench/simulator/simulate';
import { coresList, exitWith, wholeNumber } from '../common/cli';
import { forward } from '../common/http/forward';
import { NODE_HEADER } from '../common/http/headers';
import { FolderObjectStore, S3ObjectStore } from '../common/object-store';
import { DATA_BUCKET } from '../common/settings';
import { formatTable, type LatencySummary, summarize } from '../common/stats';
import { type OneHostCeph, startCeph } from '../local/ceph';
import { LocalCluster, type LocalClusterOptions } from '../local/cluster';
import { CORPUS, loadCorpus } from '../local/corpus';
import { serveDashboard } from '../local/dashboard/server';
import { bottleneck, EmulatedFleet, type HostUsage } from '../local/emulated-fleet';
import { progress } from '../local/progress';
import { type RedisServer, startRedisServer } from '../local/redis-server';

/** The scenarios, as the simulator defines them (AutoNDP before and after, Strata's policies). */
const SCENARIOS = Object.fromEntries(
  [
    'autondp-before',
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
    const placement = PLACEMENTS[name] as Extract<PlacementSpec, { kind: 'strata' }>;
    return [name, { strategy: placement.strategy, nodePolicy: placement.nodePolicy }];
  }),
) satisfies Record<string, Pick<LocalClusterOptions, 'strategy' | 'nodePolicy'>>;

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

const USAGE = `usage: npm run bench -- [--scenarios ${Object.keys(SCENARIOS).join(',')}]
  [--workload ${Object.keys(WORKLOADS).join('|')}] [--driver window|batch|poisson] [--offload on|off|both]
  [--requests 200] [--concurrency 1,16] [--batches 1,8,32] [--rates 2,4,8] [--seconds 15]
  [--nodes 3] [--slots 2] [--heterogeneous] [--ceph] [--out DIR] [--dashboard-port 0]
  [--thresholds 0.8,0.8,0.8] [--storage-slots N] [--emulate [--cpu 0.25,0.25,0.5] [--storage-cpu 0.75] [--control-cpu 0.25] [--link 100,1000]]

  window: --requests at each --concurrency, a new one as each finishes (AutoNDP's sliding window)
  batch: each of --batches requests spread evenly over one second, then the next batch
  poisson: open-loop Poisson arrivals at each of --rates per second, for --seconds each
  --heterogeneous: compute nodes with 1, 2, 3... slots instead of --slots each
  --offload on (AutoNDP's thresholds) | off | always (every stage offered, and taken unless the storage node's
    slots are full) | both (on, off) | all;  --thresholds cpu,memory,load per core: the offload thresholds
  --emulate: every node on an emulated host of its own (local/emulated-fleet.ts): a compute node per
    --cpu quota (cores of this machine), the storage node (Ceph + its agent) at each --storage-cpu,
    Redis at --control-cpu, every node's link at each --link rate (Mbit/s); the quotas must fit the
    machine's cores. Prints which resource limited each run, from the hosts' counters.`;

interface Level {
  readonly label: string;
  readonly load: number;
  readonly summary: LatencySummary;
  readonly elapsedS: number;
  readonly latenciesMs: number[];
  readonly perNode: Record<string, number>;
  /** With --emulate: what each host used, and the resource that limited the run. */
  readonly hosts?: HostUsage[];
  readonly limitedBy?: string;
  /** CPU of this process (the dispatcher and the load driver), cores. */
  readonly benchCpuCores?: number;
}

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
    return `  ${name}: limited by ${level.limitedBy}; ${hosts.join(', ')}; dispatcher+driver ${level.benchCpuCores?.toFixed(2)} cores`;
  });
  return `hosts (CPU cores used / quota, throttled periods, link Mbit/s):\n${lines.join('\n')}`;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        scenarios: { type: 'string', default: Object.keys(SCENARIOS).join(',') },
        workload: { type: 'string', default: 'wordcount-large' },
        driver: { type: 'string', default: 'window' },
        offload: { type: 'string', default: 'on' },
        requests: { type: 'string', default: '200' },
        concurrency: { type: 'string', default: '1,16' },
        batches: { type: 'string', default: '1,8,32' },
        rates: { type: 'string', default: '2,4,8' },
        seconds: { type: 'string', default: '15' },
        nodes: { type: 'string', default: '3' },
        slots: { type: 'string', default: '2' },
        heterogeneous: { type: 'boolean', default: false },
        ceph: { type: 'boolean', default: false },
        emulate: { type: 'boolean', default: false },
        cpu: { type: 'string', default: '0.25,0.25,0.5' },
        'storage-cpu': { type: 'string', default: '0.75' },
        'control-cpu': { type: 'string', default: '0.25' },
        link: { type: 'string', default: '100' },
        thresholds: { type: 'string', default: '0.8,0.8,0.8' },
        'storage-slots': { type: 'string' },
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
  if (!['window', 'batch', 'poisson'].includes(values.driver))
    exitWith(2, `--driver must be window, batch or poisson; got "${values.driver}"`);
  if (!(values.offload in OFFLOADS))
    exitWith(2, `--offload must be one of ${Object.keys(OFFLOADS).join(', ')}; got "${values.offload}"`);
  const list = (flag: string, text: string) => text.split(',').map((item) => wholeNumber(flag, item, 1));
  const levels =
    values.driver === 'window'
      ? list('concurrency', values.concurrency)
      : values.driver === 'batch'
        ? list('batches', values.batches)
        : list('rates', values.rates);
  const requests = wholeNumber('requests', values.requests, 1);
  const seconds = wholeNumber('seconds', values.seconds, 1);
  const computeCpu = coresList('cpu', values.cpu);
  const storageCpus = coresList('storage-cpu', values['storage-cpu']);
  const links = list('link', values.link);
  const nodes = values.emulate ? computeCpu.length : wholeNumber('nodes', values.nodes, 1);
  const slots = values.heterogeneous
    ? Array.from({ length: nodes }, (_, i) => i + 1)
    : wholeNumber('slots', values.slots, 1);
  const offloads = OFFLOADS[values.offload];
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
  console.log(
    fleet
      ? `${values.workload}, ${values.driver} driver at ${levels.join(', ')}; emulated hosts: compute nodes at ${computeCpu.join(', ')} cores with ${JSON.stringify(slots)} slots, storage (Ceph + agent) at ${storageCpus.join(' / ')} cores, Redis at ${values['control-cpu']}, links ${links.join(' / ')} Mbit/s`
      : `${values.workload}, ${values.driver} driver at ${levels.join(', ')}; ${nodes} compute nodes with ${JSON.stringify(slots)} slots, 1 storage node; objects in ${ceph ? 'Ceph RGW' : 'a folder'}; state in redis-server`,
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
          dashboard.reset(`npm run bench: ${name}, ${values.workload}, ${values.driver} driver`);
          dashboard.addSource({ folder: metricsDir });
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
            metricsDir,
            cephConf: ceph?.conf,
            nodeHost: fleet ? (id) => fleet.placement(id) : undefined,
          });
          try {
            await cluster.waitForNodes();
            // Warm up: a few invocations per node (each node's first ones compile, connect, fill caches).
            await send(cluster.url, WORKLOADS[values.workload], 'window', Math.min(4, nodes), 3 * (nodes + 1), seconds);
            const measured: Level[] = [];
            for (const level of levels) {
              process.stderr.write(`${name}, ${values.driver} ${level}\n`);
              const before = fleet?.read();
              const dispatcherCpu = process.cpuUsage();
              const figures = await send(
                cluster.url,
                WORKLOADS[values.workload],
                values.driver,
                level,
                requests,
                seconds,
              );
              const cpu = process.cpuUsage(dispatcherCpu);
              const hosts = fleet && before ? fleet.usage(before, fleet.read()) : undefined;
              measured.push({
                ...figures,
                hosts,
                limitedBy: hosts ? bottleneck(hosts).resource : undefined,
                benchCpuCores: (cpu.user + cpu.system) / 1e6 / figures.elapsedS,
              });
            }
            results.push({
              name,
              setting: where,
              scenario,
              offload: OFFLOAD_POLICIES[offload],
              link: setting?.link,
              storageCpu: setting?.storageCpu,
              levels: measured,
            });
          } finally {
            await cluster.stop();
          }
        }
      }
    }
  } finally {
    await fleet?.close();
    await ceph?.stop();
    await redis?.stop();
    await dashboard.close();
  }

  for (let i = 0; i < levels.length; i++) {
    console.log(`\n${values.workload}, ${results[0].levels[i].label}`);
    console.log(
      formatTable(
        results.map(({ name, setting, levels: measured }) => {
          // Ratios against AutoNDP before in the same setting (link, storage quota).
          const base = results.find((result) => result.setting === setting && result.name.startsWith('autondp-before'))
            ?.levels[i].summary;
          const summary = measured[i].summary;
          return {
            name,
            summary,
            ratio: base
              ? `${(base.medianMs / summary.medianMs).toFixed(2)} / ${(base.stddevMs / summary.stddevMs).toFixed(2)}`
              : undefined,
          };
        }),
        results.some((result) => result.name.startsWith('autondp-before'))
          ? 'before ÷ this: median / stddev'
          : undefined,
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
  }
  writeFileSync(
    join(out, 'results.json'),
    JSON.stringify(
      {
        workload: values.workload,
        driver: values.driver,
        nodes,
        slots,
        ceph: Boolean(ceph),
        emulated: fleet
          ? {
              computeCpu,
              storageCpus,
              links,
              controlCpu: values['control-cpu'],
              storageSlots: values['storage-slots'] === undefined ? undefined : Number(values['storage-slots']),
            }
          : undefined,
        results: results.map(({ setting: _, levels: measured, ...run }) => ({
          ...run,
          levels: measured.map(({ latenciesMs: _latencies, ...rest }) => rest),
        })),
      },
      null,
      2,
    ),
  );
  const top = levels.length - 1;
  await latencyCdfChart(
    results.map(({ name, levels: measured }) => ({ name, latenciesMs: measured[top].latenciesMs })),
    join(out, 'latency-cdf.svg'),
    `${values.workload}: latency CDF, ${results[0].levels[top].label}`,
  );
  if (levels.length > 1) {
    await latencyVsLoadChart(
      results.flatMap(({ name, levels: measured }) =>
        measured.map((level) => ({ policy: name, load: level.load, latencyMs: level.summary.medianMs })),
      ),
      join(out, 'median-vs-load.svg'),
      `${values.workload}: median latency against load`,
      values.driver === 'window'
        ? 'concurrency'
        : values.driver === 'batch'
          ? 'batch size (requests in one second)'
          : 'arrival rate per second',
    );
  }
  await perNodeChart(
    results.flatMap(({ name, levels: measured }) =>
      Object.entries(measured[top].perNode).map(([node, count]) => ({
        policy: name,
        node,
        value: count / measured[top].summary.completed,
      })),
    ),
    join(out, 'work-per-node.svg'),
    `${values.workload}: share of invocations per node, ${results[0].levels[top].label}`,
    'share',
  );
  console.log(`\nresults and charts: ${out}`);
}

/** Runs one load level with the driver and answers its figures. */
async function send(
  url: string,
  workload: readonly (readonly [string, unknown])[],
  driver: string,
  level: number,
  requests: number,
  seconds: number,
): Promise<Level> {
  const address = new URL(url).host;
  const latencies: number[] = [];
  const perNode: Record<string, number> = {};
  let errors = 0;
  let done = 0;
  const one = async (i: number) => {
    const [fn, body] = workload[i % workload.length];
    const t0 = performance.now();
    try {
      const reply = await forward({
        address,
        path: `/invoke/${fn}`,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        timeoutMs: 120_000,
      });
      if (reply.status === 200) {
        latencies.push(performance.now() - t0);
        const node = String(reply.headers[NODE_HEADER]);
        perNode[node] = (perNode[node] ?? 0) + 1;
      } else errors++;
    } catch {
      errors++;
    }
    progress(++done, total);
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const total = driver === 'window' ? requests : driver === 'batch' ? level : Math.max(1, Math.round(level * seconds));
  const started = performance.now();
  if (driver === 'window') {
    let next = 0;
    await Promise.all(
      Array.from({ length: level }, async () => {
        for (let i = next++; i < requests; i = next++) await one(i);
      }),
    );
  } else if (driver === 'batch') {
    // AutoNDP's batch test: the batch's requests spread evenly over one second.
    await Promise.all(
      Array.from({ length: level }, async (_, i) => {
        await sleep((1000 * i) / level);
        await one(i);
      }),
    );
  } else {
    const pending: Promise<void>[] = [];
    let at = 0;
    for (let i = 0; i < total; i++) {
      at += -Math.log(1 - Math.random()) * (1000 / level);
      await sleep(Math.max(0, started + at - performance.now()));
      pending.push(one(i));
    }
    await Promise.all(pending);
  }
  const elapsed = (performance.now() - started) / 1000;
  const label =
    driver === 'window'
      ? `concurrency ${level}`
      : driver === 'batch'
        ? `batch of ${level} over 1 s`
        : `Poisson ${level}/s`;
  return {
    label,
    load: level,
    summary: summarize(latencies, errors, elapsed),
    elapsedS: elapsed,
    latenciesMs: latencies,
    perNode,
  };
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
