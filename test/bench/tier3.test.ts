import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulateTier3, type Tier3Options } from '../../bench/simulator/tier3';
import { bottleneck } from '../../local/emulated-fleet';
import { runScript } from '../support/processes';
import { TIER3_BASE } from '../support/tier3';

// The tier-3 model (bench/simulator/tier3.ts): behaviour, not figures of a machine.
const base: Tier3Options = { ...TIER3_BASE, storageCpu: 1, offload: 'never', requests: 30 };
const MB_PER_MS_AT_100_MBIT = 100e6 / 8 / 1000;

describe('the tier-3 model', () => {
  test('offload off never offloads; always offloads every stage the storage slots allow; the same seed gives the same figures', () => {
    const off = simulateTier3(base);
    expect(off.offloaded).toBe(0);
    expect(off.summary.completed).toBe(30);
    expect(simulateTier3({ ...base, offload: 'always' }).offloaded).toBe(30); // one at a time: a slot is always free
    expect(simulateTier3(base)).toEqual(off);
  });

  test("a local stage is no faster than its transfer over the link, nor than its CPU at the node's quota", () => {
    const { summary } = simulateTier3({ ...base, linkMbit: 10 });
    expect(summary.medianMs).toBeGreaterThanOrEqual(base.objectBytes / (MB_PER_MS_AT_100_MBIT / 10));
    const cpuBound = simulateTier3({ ...base, linkMbit: 10_000 });
    expect(cpuBound.summary.medianMs).toBeGreaterThanOrEqual((base.stageCpuMs + base.overheadCpuMs) / 0.25);
  });

  test('offloading wins where the storage host has the CPU, and loses where it has less than a compute node', () => {
    const median = (options: Partial<Tier3Options>) => simulateTier3({ ...base, ...options }).summary.medianMs;
    expect(median({ offload: 'never' }) / median({ offload: 'always' })).toBeGreaterThan(2);
    expect(median({ storageCpu: 0.2, offload: 'always' })).toBeGreaterThan(
      median({ storageCpu: 0.2, offload: 'never' }),
    );
  });

  test('a busier storage host is offered fewer stages by the thresholds than by always', () => {
    const busy = { ...base, storageCpu: 0.3, concurrency: 6, requests: 60 };
    expect(simulateTier3({ ...busy, offload: 'thresholds' }).offloaded).toBeLessThan(
      simulateTier3({ ...busy, offload: 'always' }).offloaded,
    );
  });
});

test('the bottleneck is the busiest CPU or link at 70 % or more of its quota or rate, else none', () => {
  const host = (name: string, cpuCores: number, linkMbit: number) => ({
    host: name,
    cpuCores,
    quotaCores: 0.5,
    throttled: 0,
    linkMbit,
    linkRateMbit: 100,
  });
  expect(bottleneck([host('c1', 0.2, 80), host('s1', 0.45, 10)])).toEqual({ resource: 's1 CPU', utilisation: 0.9 });
  expect(bottleneck([host('c1', 0.2, 95), host('s1', 0.3, 10)]).resource).toBe('c1 link');
  expect(bottleneck([host('c1', 0.1, 10), host('s1', 0.2, 10)]).resource).toBe('none (busiest: s1 CPU at 40 %)');
  expect(
    bottleneck([
      { host: 'ctl', cpuCores: 0.24, quotaCores: 0.25, throttled: 0.5, linkMbit: 500, linkRateMbit: Infinity },
    ]).resource,
  ).toBe('ctl CPU (Redis)');
});

test('npm run simulate:tier3 prints the crossover; --compare refuses a bench that was not emulated', async () => {
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const table = await runScript(
    'bin/simulate-tier3.ts',
    ['--link', '100', '--storage-cpu', '1', '--concurrency', '1', '--requests', '20'],
    env,
  );
  expect(table.status).toBe(0);
  expect(table.stdout).toMatch(
    /^100 \| 1 \| 1 \| \d+ \(0 %\) \| \d+ \(\d+ %\) \| \d+ \(100 %\) \| [\d.]+ \| [\d.]+ \| /m,
  );
  const bad = await runScript('bin/simulate-tier3.ts', ['--compare', 'package.json'], env);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/not from an emulated bench/);
}, 60_000);

test('--compare --fit predicts a run with the costs and spreads of another run of the same settings (out of sample), and checks that they pair up', async () => {
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const dir = mkdtempSync(join(tmpdir(), 'strata-fit-'));
  // An emulated window bench, offload off, two quarter-core nodes: at concurrency 1 each
  // invocation's service time is its stage's, so a run whose stages took twice as long fits
  // a model twice as slow.
  const bench = (stageMs: number, computeCpu = [0.25, 0.25]) => {
    const invocations = Array.from({ length: 20 }, (_, i) => ({
      node: `c${(i % 2) + 1}`,
      path: 'local',
      ms: stageMs + (i % 5) * 10,
    }));
    const elapsedS = (20 * stageMs) / 1000;
    const level = (load: number) => ({
      label: `sliding window, ${load} threads`,
      load,
      summary: { completed: 20, errors: 0, medianMs: stageMs, p99Ms: stageMs + 40, meanMs: stageMs, throughput: 1 },
      invocations,
      elapsedS,
      hosts: [
        { host: 'c1', cpuCores: 0.12 },
        { host: 'c2', cpuCores: 0.12 },
        { host: 's1', cpuCores: 0.05 },
      ],
    });
    const file = join(dir, `bench-${stageMs}-${computeCpu.join('-')}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        workload: 'wordcount-large',
        driver: 'window',
        timeoutMs: 30_000,
        nodes: 2,
        slots: 1,
        warmUpPerPath: 0,
        emulated: { computeCpu, storageCpus: [1], links: [1000], controlCpu: '0.1', loadCpu: '0.15' },
        results: [
          {
            name: 'round-robin',
            scenario: 'round-robin',
            offload: 'never',
            link: 1000,
            storageCpu: 1,
            idleCores: { c1: 0.001, c2: 0.001, s1: 0.01 },
            levels: [level(1), level(2)],
          },
        ],
      }),
    );
    return file;
  };
  const fast = bench(200);
  const slow = bench(400);
  const modelMedian = (stdout: string, load: number) =>
    Number(new RegExp(`^round-robin \\| ${load} \\| [\\d]+ / [\\d]+ \\| (\\d+) /`, 'm').exec(stdout)?.[1]);
  const stageCpu = (stdout: string) => Number(/stage CPU (\d+) ms on a compute node/.exec(stdout)?.[1]);

  const own = await runScript('bin/simulate-tier3.ts', ['--compare', fast], env);
  const fitted = await runScript('bin/simulate-tier3.ts', ['--compare', fast, '--fit', slow], env);
  expect(own.status).toBe(0);
  expect(fitted.status).toBe(0);
  // The fit's stages are twice as dear: the model of the same run is about twice as slow.
  expect(stageCpu(fitted.stdout)).toBeGreaterThan(1.6 * stageCpu(own.stdout));
  expect(modelMedian(fitted.stdout, 1)).toBeGreaterThan(1.6 * modelMedian(own.stdout, 1));
  // Fitted to itself is the same as no --fit.
  const self = await runScript('bin/simulate-tier3.ts', ['--compare', fast, '--fit', fast], env);
  expect(self.stdout).toBe(own.stdout);

  const unpaired = await runScript('bin/simulate-tier3.ts', ['--compare', `${fast},${slow}`, '--fit', slow], env);
  expect(unpaired.status).toBe(2);
  expect(unpaired.stderr).toMatch(/--fit: 1 runs for 2 --compare runs/);
  const otherQuotas = await runScript(
    'bin/simulate-tier3.ts',
    ['--compare', fast, '--fit', bench(400, [0.5, 0.5])],
    env,
  );
  expect(otherQuotas.status).toBe(2);
  expect(otherQuotas.stderr).toMatch(/compute quotas/);
  const alone = await runScript('bin/simulate-tier3.ts', ['--fit', slow], env);
  expect(alone.status).toBe(2);
  expect(alone.stderr).toMatch(/--fit goes with --compare/);
}, 120_000);
