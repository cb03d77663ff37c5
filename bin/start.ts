/**
 * `npm start`: the whole system on this machine. Starts the dispatcher behind the API
 * Gateway adapter, 3 compute nodes and 1 storage node as processes on loopback, and the
 * dashboard page over their metrics; loads the sample corpus, sends a demo workload,
 * prints per-node and per-tier figures, and keeps serving until Ctrl-C (or stops at once
 * with --exit).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_OFFLOAD_THRESHOLDS, policyNames, RENAMED_NODE_POLICIES, underThresholds } from '@strata/policy-engine';
import { coresList, exitWith, wholeNumber } from '../common/cli';
import { forward } from '../common/http/forward';
import { NODE_HEADER, TIER1_HEADER, TIER2_HEADER, TIER3_HEADER } from '../common/http/headers';
import { FolderObjectStore, S3ObjectStore } from '../common/object-store';
import { DATA_BUCKET, NODE_DEFAULTS, STRATA_DEFAULTS } from '../common/settings';
import { summarize } from '../common/stats';
import { loadStrataConfig } from '../lib/config';
import { type OneHostCeph, startCeph } from '../local/ceph';
import { LocalCluster } from '../local/cluster';
import { CORPUS, loadCorpus } from '../local/corpus';
import { serveDashboard } from '../local/dashboard/server';
import { EmulatedFleet } from '../local/emulated-fleet';
import { progress } from '../local/progress';
import { FilePolicyStore } from '../operator/policy-store';

const USAGE = `usage: npm start -- [--redis URL] [--ceph | --s3-endpoint URL --s3-bucket NAME] [--strategy ${STRATA_DEFAULTS.invocationStrategy}]
  [--node-policy ${STRATA_DEFAULTS.nodePolicy}] [--offload-policy ${STRATA_DEFAULTS.offloadPolicy}] [--nodes 3] [--slots ${NODE_DEFAULTS.slots}]
  [--requests 200] [--concurrency 16] [--port 8080] [--dashboard-port 8081] [--work-dir .local] [--exit]
  [--emulate [--cpu 0.25,0.25,0.5] [--storage-cpu 0.75] [--control-cpu 0.25] [--link 100]]

--emulate: every node on an emulated host of its own with a CPU quota (cores) and a link
  (Mbit/s), Ceph and the storage agent on the storage host, Redis on a host of its own
  (root only; docs/benchmarks.md). --cpu gives one compute node per quota.
The policies' defaults are cdk.json's (context.strata), as deployed.`;

interface Outcome {
  status: number;
  ms: number;
  headers: Record<string, string | string[] | undefined>;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        redis: { type: 'string' },
        ceph: { type: 'boolean', default: false },
        's3-endpoint': { type: 'string' },
        's3-bucket': { type: 'string', default: DATA_BUCKET },
        strategy: { type: 'string', default: STRATA_DEFAULTS.invocationStrategy },
        'node-policy': { type: 'string', default: STRATA_DEFAULTS.nodePolicy },
        'offload-policy': { type: 'string', default: STRATA_DEFAULTS.offloadPolicy },
        nodes: { type: 'string', default: '3' },
        slots: { type: 'string', default: String(NODE_DEFAULTS.slots) },
        requests: { type: 'string', default: '200' },
        concurrency: { type: 'string', default: '16' },
        port: { type: 'string', default: '8080' },
        'dashboard-port': { type: 'string', default: '8081' },
        'work-dir': { type: 'string', default: join(__dirname, '..', '.local') },
        exit: { type: 'boolean', default: false },
        emulate: { type: 'boolean', default: false },
        cpu: { type: 'string', default: '0.25,0.25,0.5' },
        'storage-cpu': { type: 'string', default: '0.75' },
        'control-cpu': { type: 'string', default: '0.25' },
        link: { type: 'string', default: '100' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  // Whoever read the output went away (`npm start | head`): stop every process once they
  // are started, rather than die on the next line and leave them.
  let outputGone = false;
  let onOutputGone: () => void = () => undefined;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    outputGone = true;
    onOutputGone();
  });
  // The plugins cdk.json names run here too (from source), and their names are valid flags.
  const root = join(__dirname, '..');
  const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context?: { strata?: unknown } };
  const plugins = loadStrataConfig(cdkJson.context?.strata ?? {}, root).plugins;
  oneOf('--strategy', values.strategy, policyNames('invocation'));
  oneOf('--node-policy', values['node-policy'], policyNames('node'), RENAMED_NODE_POLICIES);
  oneOf('--offload-policy', values['offload-policy'], policyNames('offload'));
  const [nodeCount, slots, requests, concurrency, port, dashboardPort] = (
    ['nodes', 'slots', 'requests', 'concurrency', 'port', 'dashboard-port'] as const
  ).map((flag) => wholeNumber(flag, values[flag], flag.endsWith('port') ? 0 : 1));

  const workDir = values['work-dir']; // objects, metrics, and Ceph with --ceph
  const folder = join(workDir, 'objects');
  const metricsDir = join(workDir, 'metrics');
  rmSync(metricsDir, { recursive: true, force: true }); // the page shows this run only
  mkdirSync(metricsDir, { recursive: true });
  if (values.ceph && values['s3-endpoint']) return exitWith(2, `give --ceph or --s3-endpoint, not both\n\n${USAGE}`);
  let s3:
    | { s3Endpoint: string; bucket: string; credentials?: { accessKeyId: string; secretAccessKey: string } }
    | undefined;
  let ceph: OneHostCeph | undefined;
  let fleet: EmulatedFleet | undefined;
  if (values.emulate && (values.ceph || values['s3-endpoint'] || values.redis))
    return exitWith(
      2,
      `--emulate brings its own Ceph and Redis: leave out --ceph, --s3-endpoint and --redis\n\n${USAGE}`,
    );
  if (values.emulate) {
    console.log('making the emulated hosts and booting Ceph on the storage host...');
    fleet = await EmulatedFleet.start({
      computeCpu: coresList('cpu', values.cpu),
      storageCpu: coresList('storage-cpu', values['storage-cpu'])[0],
      controlCpu: coresList('control-cpu', values['control-cpu'])[0],
      linkMbit: wholeNumber('link', values.link, 1),
      log: (line) => console.log(line),
    }).catch((error: Error) => exitWith(1, `--emulate: ${error.message}`));
    s3 = { s3Endpoint: fleet.s3Endpoint, bucket: DATA_BUCKET, credentials: fleet.ceph.credentials };
  } else if (values.ceph) {
    // A real Ceph on this host, in .local/ceph: the data pool and RGW, as the storage tier runs on AWS.
    const cephFolder = join(workDir, 'ceph');
    spawnSync('bash', [join(__dirname, '..', 'local', 'ceph-one-host.sh'), 'stop', cephFolder]); // a run that was killed may have left it up
    rmSync(cephFolder, { recursive: true, force: true });
    console.log(`booting Ceph (MON, MGR, 3 OSDs, RGW) in ${cephFolder}...`);
    ceph = await startCeph({ folder: cephFolder });
    await ceph.createBucket(values['s3-bucket']);
    console.log(
      ceph.bootLog
        .split('\n')
        .filter((line) => /HEALTH_OK after|ready after/.test(line))
        .join('; '),
    );
    s3 = { s3Endpoint: ceph.rgwEndpoint, bucket: values['s3-bucket'], credentials: ceph.credentials };
  } else if (values['s3-endpoint']) {
    s3 = { s3Endpoint: values['s3-endpoint'], bucket: values['s3-bucket'] };
  }
  const nodes = fleet?.computeNodes ?? nodeCount;
  const redisUrl = fleet?.redisUrl ?? values.redis;
  const objects = s3
    ? new S3ObjectStore({ endpoint: s3.s3Endpoint, bucket: s3.bucket, credentials: s3.credentials })
    : new FolderObjectStore(folder);
  // The state's address, never a password in it.
  console.log(
    `objects: ${objects.location}; state: ${redisUrl ? new URL(redisUrl).host : 'embedded (in this process)'}`,
  );
  if (!fleet) await loadCorpus(objects); // the fleet loaded it

  const dashboard = await serveDashboard({
    sources: [{ folder: metricsDir }],
    title: `npm start: ${nodes} compute nodes, ${values.strategy} / ${values['node-policy']} / ${values['offload-policy']}`,
    port: dashboardPort,
  }).catch((error: Error) =>
    exitWith(
      1,
      `the dashboard cannot listen on 127.0.0.1:${dashboardPort} (${error.message}); pass --dashboard-port 0 for any free port`,
    ),
  );
  console.log(`dashboard: ${dashboard.url}`);

  // The live policy setting (npm run strata -- policy set TIER NAME --local): its first
  // version is this command's flags, unless an earlier run left a later one.
  const policies = new FilePolicyStore(join(workDir, 'policy'));
  const policyFile = policies.where;
  const previous = await policies.current().catch(() => undefined);
  if (!previous)
    await policies.put(
      {
        version: 1,
        policies: {
          invocation: { name: values.strategy, options: {} },
          node: { name: values['node-policy'], options: {} },
          offload: { name: values['offload-policy'], options: {} },
        },
        changedBy: await policies.who(),
        changedAt: new Date().toISOString(),
        reason: 'npm start',
      },
      undefined,
    );
  else console.log(`policies: version ${previous.version} of ${policyFile}, set by ${previous.changedBy}`);

  const started = Date.now();
  // A cluster that fails to start stops what it started; the dashboard and Ceph are this command's.
  const cluster = await LocalCluster.start({
    computeNodes: nodes,
    slots,
    redisUrl,
    redisUsers: fleet?.redisUsers, // on emulated hosts each role connects as its own user, as on AWS
    objects: s3 ?? { folder },
    nodeHost: fleet ? (id) => fleet.placement(id) : undefined,
    strategy: values.strategy,
    nodePolicy: values['node-policy'],
    offloadPolicy: values['offload-policy'],
    plugins: plugins.map(({ tier, name, module }) => ({ tier, name, module })),
    // Emulated hosts do not see this machine's files: the live setting is for plain processes.
    policyFile: fleet ? undefined : policyFile,
    port,
    metricsDir,
    cephConf: ceph?.conf,
    // Users' functions, kept across runs; the emulated hosts do not see this machine's folders.
    functionsFolder: fleet ? undefined : join(workDir, 'functions'),
  }).catch(async (error: Error) => {
    await dashboard.close();
    await ceph?.stop();
    await fleet?.close();
    throw error;
  });
  let stopping = false;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('\nstopping every process this command started...\n');
    await cluster.stop();
    await dashboard.close();
    await ceph?.stop();
    await fleet?.close();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  onOutputGone = () => void stop();
  if (outputGone) return stop();
  let phases: { name: string; outcomes: Outcome[] }[];
  try {
    await cluster.waitForNodes();
    console.log(
      `${nodes} compute nodes and 1 storage node up in ${((Date.now() - started) / 1000).toFixed(1)} s; API at ${cluster.url}`,
    );
    await storageSettled(cluster);
    phases = await demo(cluster.url, requests, concurrency);
  } catch (error) {
    console.error((error as Error).stack ?? String(error));
    return stop(1);
  }
  for (const phase of phases) report(phase.name, phase.outcomes);
  console.log(`\nmetrics (CloudWatch EMF): ${metricsDir}; the dashboard: ${dashboard.url}`);
  console.log(
    `try: curl -s -X POST ${cluster.url}/invoke/wordcount -H 'content-type: application/json' -d '{"key":"${CORPUS.small.key}"}' -i`,
  );
  if (!fleet) {
    console.log(
      `deploy your own function (docs/functions.md): npm run functions:build && npm run strata -- functions deploy dist/functions/grep --name grep --alias live --api ${cluster.url}`,
    );
  }
  if (values.exit) return stop();
  console.log(`serving; the dashboard at ${dashboard.url} goes on updating; Ctrl-C stops every process.`);
}

/**
 * Waits (at most 20 s) for the storage node's figures to fall under its thresholds: the
 * first ones it reports count its own start (compiling, starting its workers), and a light
 * phase sent then would see it over them.
 */
async function storageSettled(cluster: LocalCluster): Promise<void> {
  const started = Date.now();
  for (;;) {
    const storage = (await cluster.state.liveNodes()).filter((n) => n.role === 'storage');
    const over = storage.filter((n) => !underThresholds(n, DEFAULT_OFFLOAD_THRESHOLDS));
    // Then one more interval, for the compute nodes' views of the storage node to catch up.
    if (over.length === 0) return new Promise((resolve) => setTimeout(resolve, NODE_DEFAULTS.heartbeatMs + 100));
    if (Date.now() - started > 20_000) {
      const figures = over.map(
        (n) => `${n.id}: cpu ${n.cpuBusy.toFixed(2)}, load ${n.load1.toFixed(2)} on ${n.cores} cores`,
      );
      return console.log(
        `still over the offload thresholds after 20 s (${figures.join('; ')}); the light phase may run its data stages locally`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Two phases, so that each tier is seen acting. First a light one: the near-data
 * functions one at a time, which leaves the storage node under its thresholds, so their
 * data stages are offloaded to it (tier 3). Then a mix like AutoNDP's at the given
 * concurrency: word count and substring search over small and large texts, CPU work and
 * waits, which fills the slots (the dispatcher spreads it, nodes forward to peers) and
 * loads the storage node (each node measures its own process here, as if it had this
 * machine to itself), so it refuses stages and they run on the compute nodes.
 */
async function demo(
  url: string,
  requests: number,
  concurrency: number,
): Promise<{ name: string; outcomes: Outcome[] }[]> {
  const light: [string, unknown][] = [
    ['wordcount', { key: CORPUS.small.key }],
    ['substring', { key: CORPUS.small.key, pattern: 'love' }],
  ];
  const heavy: [string, unknown][] = [
    ['wordcount', { key: CORPUS.small.key }],
    ['wordcount', { key: CORPUS.large.key }],
    ['substring', { key: CORPUS.large.key, pattern: 'love' }],
    ['sha256', { data: 'strata', rounds: 20_000 }],
    ['sleep', { ms: 50 }],
  ];
  const lightRequests = Math.max(4, Math.ceil(requests / 10));
  return [
    {
      name: `light: ${lightRequests} data stages one at a time`,
      outcomes: await phase(url, light, lightRequests, 1),
    },
    {
      name: `heavy: ${requests} requests at concurrency ${concurrency}`,
      outcomes: await phase(url, heavy, requests, concurrency),
    },
  ];
}

async function phase(url: string, mix: [string, unknown][], requests: number, concurrency: number): Promise<Outcome[]> {
  const address = new URL(url).host;
  const outcomes: Outcome[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < requests; i = next++) {
      const [fn, body] = mix[i % mix.length];
      const t0 = performance.now();
      const reply = await forward({
        address,
        path: `/invoke/${fn}`,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      outcomes.push({ status: reply.status, ms: performance.now() - t0, headers: reply.headers });
      progress(outcomes.length, requests);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, lane));
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.log(
    `\n${requests} requests at concurrency ${concurrency} in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );
  return outcomes;
}

function report(name: string, outcomes: Outcome[]): void {
  console.log(`\n${name}:`);
  const latency = summarize(
    outcomes.map((o) => o.ms),
    0,
    0,
  );
  const byStatus = tally(outcomes.map((o) => String(o.status)));
  console.log(
    `status: ${format(byStatus)}; latency p50 ${latency.medianMs.toFixed(1)} ms, p95 ${latency.p95Ms.toFixed(1)} ms, p99 ${latency.p99Ms.toFixed(1)} ms`,
  );
  const header = (o: Outcome, name: string) => String(o.headers[name] ?? '-');
  console.log(`ran on (per node):       ${format(tally(outcomes.map((o) => header(o, NODE_HEADER))))}`);
  console.log(`tier 1, dispatcher chose: ${format(tally(outcomes.map((o) => header(o, TIER1_HEADER))))}`);
  const forwarded = outcomes.filter((o) => header(o, TIER2_HEADER).includes('>')).length;
  console.log(`tier 2, forwarded to a peer: ${forwarded} of ${outcomes.length}`);
  const tier3 = outcomes.map((o) => header(o, TIER3_HEADER)).filter((v) => v !== 'none' && v !== '-');
  console.log(
    `tier 3, data stages:      ${format(tally(tier3.map((v) => (v.startsWith('offloaded') ? v : `local (${v.slice(6)})`))))}`,
  );
}

function tally(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values.sort()) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

function format(counts: Map<string, number>): string {
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
}

function oneOf(flag: string, value: string, names: string[], renamed: Readonly<Record<string, string>> = {}): void {
  if (Object.hasOwn(renamed, value))
    exitWith(
      2,
      `${flag} "${value}" is now called "${renamed[value]}" (one name per algorithm); the names are ${names.join(', ')}`,
    );
  if (!names.includes(value)) exitWith(2, `${flag} must be one of ${names.join(', ')}; got "${value}"`);
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
