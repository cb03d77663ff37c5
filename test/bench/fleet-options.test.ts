import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../support/processes';

const run = (args: string[]) =>
  runScript('bin/bench-fleet.ts', args, { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
const out = (name: string) => join(mkdtempSync(join(tmpdir(), 'strata-fleet-options-')), name);

interface Cost {
  cpuUs: number;
  mainUs: number;
  mainUserUs: number;
  threadedReads: number;
}

test('npm run bench:fleet -- --cost --io-threads: redis-server runs with I/O threads, and each call gives its main thread’s CPU beside the whole; without, nothing is read on their path', async () => {
  const threaded = out('cost-threaded.json');
  const result = await run(['--cost', '10', '--clients', '16', '--io-threads', '2', '--out', threaded]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('redis-server io-threads 2, io-threads-do-reads yes');
  const report = JSON.parse(readFileSync(threaded, 'utf8')) as {
    ioThreads: number;
    clients: number;
    projections: { nodes: number; cpuCores: number; mainThreadCores: number; mainThreadUserCores: number }[];
    best: Record<string, Record<string, Cost>>;
  };
  expect([report.ioThreads, report.clients]).toEqual([2, 16]);
  const ops = Object.values(report.best['10']);
  expect(ops).toHaveLength(5);
  for (const op of ops) {
    expect(op.mainUs).toBeGreaterThan(0);
    expect(op.mainUs).toBeLessThanOrEqual(op.cpuUs); // the main thread is one of Redis's threads
    expect(op.mainUserUs).toBeLessThanOrEqual(op.mainUs);
  }
  // 16 clients at once keep enough replies waiting for Redis to use its I/O threads.
  expect(ops.some((op) => op.threadedReads > 0)).toBe(true);
  expect(report.projections.map((p) => p.nodes)).toEqual([10]);
  expect(report.projections[0].mainThreadCores).toBeGreaterThan(0);

  const plain = out('cost.json');
  const alone = await run(['--cost', '10', '--clients', '4', '--out', plain]);
  expect(alone.status).toBe(0);
  const without = JSON.parse(readFileSync(plain, 'utf8')) as {
    ioThreads: number;
    best: Record<string, Record<string, Cost>>;
  };
  expect(without.ioThreads).toBe(1);
  for (const op of Object.values(without.best['10'])) expect(op.threadedReads).toBe(0);

  const tooMany = await run(['--cost', '10', '--clients', '41']);
  expect(tooMany.status).toBe(2);
  expect(tooMany.stderr).toContain('--clients must be at most 4 x the smallest --cost fleet (its slots), got "41"');
  const elsewhere = await run(['--cost', '10', '--io-threads', '2', '--redis', 'redis://127.0.0.1:1']);
  expect(elsewhere.status).toBe(2);
  expect(elsewhere.stderr).toContain('--io-threads and --pin start their own redis-server: leave out --redis');
}, 60_000);

test('npm run bench:fleet -- --pin --probe-rate: redis-server on CPU 0, the stand-ins on CPU 1 at nice 10, and a latency probe that times its decisions and a PING before each', async () => {
  const file = out('fleet-pinned.json');
  const result = await run([
    ...['--nodes', '20', '--seconds', '1', '--dispatchers', '4', '--decisions', '40', '--node-processes', '1'],
    ...['--dispatcher-processes', '1', '--connections', '2', '--probe-rate', '40', '--pin', '--out', file],
  ]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/the latency probe's decision p99 at 20 nodes/);
  const { rows } = JSON.parse(readFileSync(file, 'utf8')) as {
    rows: {
      placement: { redisCpus: string; workers: { role: string; cpus: string; nice: number }[] };
      withDispatchers: { probeDecisions: number; probeDecisionP99Ms: number; probePingP99Ms: number; errors: number };
    }[];
  };
  const [row] = rows;
  expect(row.placement.redisCpus).toBe('0');
  expect(row.placement.workers).toEqual([
    { role: 'nodes', cpus: '1', nice: 10 },
    { role: 'dispatchers', cpus: '1', nice: 10 },
    { role: 'probe', cpus: '1', nice: 0 },
  ]);
  expect(row.withDispatchers.probeDecisions).toBeGreaterThan(0);
  expect(row.withDispatchers.probeDecisionP99Ms).toBeGreaterThan(0);
  expect(row.withDispatchers.probePingP99Ms).toBeGreaterThan(0);
  expect(row.withDispatchers.errors).toBe(0);
  const bad = await run(['--probe-rate', 'often']);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('--probe-rate must be a whole number of at least 0, got "often"');
}, 60_000);
