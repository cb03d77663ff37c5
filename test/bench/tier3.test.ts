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
