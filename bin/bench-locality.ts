/**
 * `npm run bench:locality`: tier 3 by locality against any-host offload on the rehearsal's
 * emulated fleet (three storage hosts, each an OSD, RGW and the storage agent; the compute
 * hosts), bytes over the hosts' links and latency (bench/locality.ts; docs/benchmarks.md
 * § Tier 3 by locality). Root, as the rehearsal; about 10 minutes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Block, type Mode, measureLocality, type Sample } from '../bench/locality';
import { exitWith, wholeNumber } from '../common/cli';
import { summarize } from '../common/stats';
import { checkPrerequisites } from '../local/emulated-hosts';
import { synthesizeForRehearsal } from '../local/rehearsal/synth';

const USAGE = `usage: npm run bench:locality -- [--link 100] [--storage-cpu CORES] [--compute-cpu CORES]
  [--objects-per-host 2] [--requests 30] [--rounds 2] [--out bench/results/locality.json]
Word count over 4 MiB objects (each storage host the primary of --objects-per-host of
them), one request at a time round robin over the compute nodes, in blocks of --requests
alternating any-host offload and --locality, --rounds times each.`;

const cores = (flag: string, text: string | undefined) => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value > 0 && value <= 2)) exitWith(2, `--${flag} must be cores above 0 and at most 2, got "${text}"`);
  return value;
};

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        link: { type: 'string', default: '100' },
        'storage-cpu': { type: 'string' },
        'compute-cpu': { type: 'string' },
        'objects-per-host': { type: 'string', default: '2' },
        requests: { type: 'string', default: '30' },
        rounds: { type: 'string', default: '2' },
        out: { type: 'string', default: 'bench/results/locality.json' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    exitWith(2, `${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) exitWith(0, USAGE);
  const options = {
    linkMbit: wholeNumber('link', values.link, 1),
    storageCpu: cores('storage-cpu', values['storage-cpu']),
    computeCpu: cores('compute-cpu', values['compute-cpu']),
    objectsPerHost: wholeNumber('objects-per-host', values['objects-per-host'], 1),
    requests: wholeNumber('requests', values.requests, 1),
    rounds: wholeNumber('rounds', values.rounds, 1),
  };
  try {
    checkPrerequisites({ nat: true });
  } catch (error) {
    exitWith(1, (error as Error).message);
  }
  const outdir = mkdtempSync(join(tmpdir(), 'strata-locality-cdk-'));
  try {
    synthesizeForRehearsal(outdir); // the app as the rehearsal synthesizes it
    const run = await measureLocality({
      assembly: outdir,
      ...options,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    const idleBytesPerSecond =
      Object.values(run.idle.hosts).reduce((sum, host) => sum + host.txBytes, 0) / run.idle.seconds;
    const figures = (mode: Mode) => {
      const samples = run.samples.filter((sample) => sample.mode === mode);
      const blocks = run.blocks.filter((block) => block.mode === mode);
      const bytes = (block: Block, role?: string) =>
        Object.values(block.hosts)
          .filter((host) => role === undefined || host.role === role)
          .reduce((sum, host) => sum + host.txBytes, 0);
      const ok = samples.filter((sample) => sample.status === 200);
      const offloaded = samples.filter((sample) => sample.ranOn !== 'compute');
      return {
        mode,
        requests: samples.length,
        errors: samples.length - ok.length,
        latency: summarize(
          ok.map((sample) => sample.ms),
          samples.length - ok.length,
          blocks.reduce((sum, block) => sum + block.seconds, 0),
        ),
        offloaded: offloaded.length,
        onPrimaryHost: offloaded.filter((sample) => sample.ranOn === sample.primaryHost).length,
        // Every byte between two hosts leaves one of them: the sum of what the hosts sent.
        linkBytesPerRequest: blocks.reduce((sum, block) => sum + bytes(block), 0) / samples.length,
        // The same less Ceph's own traffic at idle over the blocks' time.
        linkBytesAboveIdlePerRequest:
          blocks.reduce((sum, block) => sum + bytes(block) - idleBytesPerSecond * block.seconds, 0) / samples.length,
        storageSentPerRequest: blocks.reduce((sum, block) => sum + bytes(block, 'storage'), 0) / samples.length,
      };
    };
    const rows = (['any-host', 'locality'] as const).map(figures);
    const MiB = 1024 * 1024;
    process.stdout.write(
      `\n${'mode'.padEnd(10)} ${'requests'.padStart(8)} ${'errors'.padStart(6)} ${'on primary'.padStart(12)} ${'median ms'.padStart(9)} ${'p95 ms'.padStart(8)} ${'link MiB/req'.padStart(12)} ${'above idle'.padStart(10)} ${'storage sent MiB/req'.padStart(20)}\n`,
    );
    for (const row of rows)
      process.stdout.write(
        `${row.mode.padEnd(10)} ${String(row.requests).padStart(8)} ${String(row.errors).padStart(6)} ${`${row.onPrimaryHost}/${row.offloaded}`.padStart(12)} ${row.latency.medianMs.toFixed(1).padStart(9)} ${row.latency.p95Ms.toFixed(1).padStart(8)} ${(row.linkBytesPerRequest / MiB).toFixed(2).padStart(12)} ${(row.linkBytesAboveIdlePerRequest / MiB).toFixed(2).padStart(10)} ${(row.storageSentPerRequest / MiB).toFixed(2).padStart(20)}\n`,
      );
    process.stdout.write(`idle: ${(idleBytesPerSecond / 1024).toFixed(1)} KiB/s over all links (Ceph's own traffic)\n`);
    for (const block of [run.idle, ...run.blocks])
      process.stdout.write(
        `${block === run.idle ? 'idle' : block.mode} CPU, cores: ${Object.entries(block.hosts)
          .map(([host, { cpuCores }]) => `${host} ${cpuCores.toFixed(2)}`)
          .join(', ')}\n`,
      );
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(
      values.out,
      `${JSON.stringify({ options, idleBytesPerSecond, rows, objects: run.objects.map(({ expected, ...object }) => object), idle: run.idle, blocks: run.blocks, samples: run.samples satisfies Sample[] }, null, 2)}\n`,
    );
    process.stdout.write(`wrote ${values.out}\n`);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
