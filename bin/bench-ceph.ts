/**
 * Ceph benchmark: boots the one-host cluster (local/ceph-one-host.sh) and reports its boot
 * time and memory, `rados bench` on the data pool (write, then sequential read), and
 * S3 GETs through RGW of the corpus objects, one at a time and 16 at once.
 *
 * Usage: npm run bench:ceph -- [--seconds 10] [--gets 200]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exitWith, wholeNumber } from '../common/cli';
import { S3ObjectStore } from '../common/object-store';
import { DATA_BUCKET } from '../common/settings';
import { summarize } from '../common/stats';
import { startCeph } from '../local/ceph';
import { CORPUS, loadCorpus } from '../local/corpus';

const POOL = 'default.rgw.buckets.data';

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seconds: { type: 'string', default: '10' },
        gets: { type: 'string', default: '200' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\nusage: npm run bench:ceph -- [--seconds 10] [--gets 200]`);
  }
  if (values.help) return void console.log('usage: npm run bench:ceph -- [--seconds 10] [--gets 200]');
  const seconds = wholeNumber('seconds', values.seconds, 1);
  const gets = wholeNumber('gets', values.gets, 1);

  const started = performance.now();
  const ceph = await startCeph();
  try {
    const bootMs = performance.now() - started;
    const healthMs = Number(/HEALTH_OK after (\d+) ms/.exec(ceph.bootLog)?.[1]);
    const residentMiB = daemonsResidentMiB(join(ceph.folder, 'run'));
    console.log(
      `boot: HEALTH_OK ${(healthMs / 1000).toFixed(1)} s, ready with the data pool and RGW ${(bootMs / 1000).toFixed(1)} s; daemons resident ${residentMiB.toFixed(0)} MiB`,
    );

    const rados = (mode: string) => {
      const result = spawnSync(
        'rados',
        ['bench', '-p', POOL, String(seconds), mode, ...(mode === 'write' ? ['--no-cleanup'] : []), '-t', '16'],
        {
          env: { ...process.env, CEPH_CONF: ceph.conf },
          encoding: 'utf8',
        },
      );
      if (result.status !== 0) throw new Error(`rados bench ${mode} failed: ${result.stderr}`);
      const figure = (label: string) => Number(new RegExp(`${label}:\\s+([0-9.]+)`).exec(result.stdout)?.[1]);
      return {
        mbPerSecond: figure('Bandwidth \\(MB/sec\\)'),
        iops: figure('Average IOPS'),
        avgLatencyMs: 1000 * figure('Average Latency\\(s\\)'),
      };
    };
    const write = rados('write');
    const read = rados('seq');
    spawnSync('rados', ['-p', POOL, 'cleanup'], { env: { ...process.env, CEPH_CONF: ceph.conf } });
    console.log(
      `rados bench (4 MiB objects, 16 in flight): write ${write.mbPerSecond} MB/s, ${write.avgLatencyMs.toFixed(0)} ms; seq read ${read.mbPerSecond} MB/s, ${read.avgLatencyMs.toFixed(0)} ms`,
    );

    await ceph.createBucket(DATA_BUCKET);
    const store = new S3ObjectStore({
      endpoint: ceph.rgwEndpoint,
      bucket: DATA_BUCKET,
      credentials: ceph.credentials,
    });
    await loadCorpus(store);
    const s3 = [];
    for (const [name, { key, bytes }] of Object.entries(CORPUS)) {
      for (const concurrency of [1, 16]) {
        const latencies: number[] = [];
        let next = 0;
        const begun = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next++ < gets) {
              const t = performance.now();
              await store.get(key);
              latencies.push(performance.now() - t);
            }
          }),
        );
        const elapsed = (performance.now() - begun) / 1000;
        const summary = summarize(latencies, 0, elapsed);
        const row = {
          object: `${name} (${bytes / 1024} KiB)`,
          concurrency,
          getsPerSecond: summary.throughput,
          mbPerSecond: (gets * bytes) / 1e6 / elapsed,
          p50Ms: summary.medianMs,
          p99Ms: summary.p99Ms,
        };
        s3.push(row);
        console.log(
          `S3 GET ${row.object} x${gets} at concurrency ${concurrency}: ${row.getsPerSecond.toFixed(0)}/s, ${row.mbPerSecond.toFixed(1)} MB/s, p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms`,
        );
      }
    }
    const dir = join(__dirname, '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `ceph-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      JSON.stringify({ bootMs, healthMs, residentMiB, radosWrite: write, radosRead: read, s3 }, null, 2),
    );
    console.log(`results: ${file}`);
  } finally {
    await ceph.stop();
  }
}

/** Resident memory of the daemons whose PID files are in the cluster's run folder. */
function daemonsResidentMiB(runDir: string): number {
  let kib = 0;
  for (const file of readdirSync(runDir).filter((name) => name.endsWith('.pid'))) {
    const pid = readFileSync(join(runDir, file), 'utf8').trim();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    kib += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  }
  return kib / 1024;
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
