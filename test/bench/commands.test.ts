import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../support/processes';

const run = (script: string, args: string[]) => runScript(script, args, { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

test('npm run simulate: a table per load with the oracle ratio, results.json and three charts', async () => {
  const out = mkdtempSync(join(tmpdir(), 'strata-sim-'));
  const result = await run('bin/simulate.ts', ['--nodes', '12', '--invocations', '3000', '--load', '0.5,0.9', '--policies', 'oracle,random,power-of-two', '--out', out]);
  expect(result.status).toBe(0);
  expect(result.stdout.match(/^power-of-two +[\d.]+ /gm)).toHaveLength(2);
  expect(result.stdout).toMatch(/^oracle .* 1\.00$/m);
  const report = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { name: string; load: number; result: { summary: { completed: number; errors: number } } }[] };
  expect(report.runs.map((r) => `${r.name}@${r.load}`)).toEqual(['oracle@0.5', 'random@0.5', 'power-of-two@0.5', 'oracle@0.9', 'random@0.9', 'power-of-two@0.9']);
  for (const r of report.runs) expect(r.result.summary.completed + r.result.summary.errors).toBe(3000);
  for (const chart of ['latency-cdf.svg', 'node-utilisation.svg', 'p99-vs-load.svg']) expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg /);
}, 60_000);

test('npm run simulate rejects a bad flag with the reason', async () => {
  const result = await run('bin/simulate.ts', ['--policies', 'fastest']);
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('--policies: unknown "fastest"');
});

test('npm run bench: real processes per scenario, ratios against AutoNDP before, results.json and charts', async () => {
  const out = mkdtempSync(join(tmpdir(), 'strata-bench-'));
  const result = await run('bin/bench.ts', ['--scenarios', 'autondp-before,round-robin', '--workload', 'wordcount-small', '--requests', '6', '--concurrency', '1,3', '--out', out]);
  expect(result.stderr).not.toMatch(/Error/);
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/^autondp-before .* 1\.00 \/ 1\.00$/m);
  expect(result.stdout.match(/^round-robin +[\d.]+ /gm)).toHaveLength(2);
  const report = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: { name: string; levels: { summary: { completed: number; errors: number } }[] }[] };
  expect(report.results.map((r) => r.name)).toEqual(['autondp-before', 'round-robin']);
  for (const r of report.results) for (const level of r.levels) expect(level.summary).toMatchObject({ completed: 6, errors: 0 });
  for (const chart of ['latency-cdf.svg', 'median-vs-load.svg', 'work-per-node.svg']) expect(existsSync(join(out, chart))).toBe(true);
}, 120_000);
