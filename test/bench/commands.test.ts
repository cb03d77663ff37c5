import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../support/processes';

const run = (script: string, args: string[]) =>
  runScript(script, args, { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

test('npm run simulate: a table per load with the oracle ratio, results.json and three charts', async () => {
  const out = mkdtempSync(join(tmpdir(), 'strata-sim-'));
  const result = await run('bin/simulate.ts', [
    '--nodes',
    '12',
    '--invocations',
    '3000',
    '--load',
    '0.5,0.9',
    '--policies',
    'oracle,random,power-of-two',
    '--out',
    out,
  ]);
  expect(result.status).toBe(0);
  expect(result.stdout.match(/^power-of-two +[\d.]+ /gm)).toHaveLength(2);
  expect(result.stdout).toMatch(/^oracle .* 1\.00$/m);
  const report = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    runs: { name: string; load: number; result: { summary: { completed: number; errors: number } } }[];
  };
  expect(report.runs.map((r) => `${r.name}@${r.load}`)).toEqual([
    'oracle@0.5',
    'random@0.5',
    'power-of-two@0.5',
    'oracle@0.9',
    'random@0.9',
    'power-of-two@0.9',
  ]);
  for (const r of report.runs) expect(r.result.summary.completed + r.result.summary.errors).toBe(3000);
  for (const chart of ['latency-cdf.svg', 'node-utilisation.svg', 'p99-vs-load.svg'])
    expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg /);
}, 60_000);

test('npm run simulate: the slowdown scenario reports the second half; --help prints the usage', async () => {
  const out = mkdtempSync(join(tmpdir(), 'strata-sim-'));
  const result = await run('bin/simulate.ts', [
    '--nodes',
    '12',
    '--invocations',
    '3000',
    '--load',
    '0.7',
    '--slowdown',
    '--policies',
    'oracle,least-expected-delay',
    '--out',
    out,
  ]);
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/p50 \/ p99 \/ mean \/ 2nd-half p99 ÷ oracle/);
  const report = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    runs: { name: string; vsOracle: Record<string, number>; result: { secondHalf: { completed: number } } }[];
  };
  expect(report.runs[0].vsOracle).toEqual({ p50: 1, p99: 1, mean: 1, secondHalfP99: 1 });
  expect(Object.keys(report.runs[1].vsOracle).sort()).toEqual(['mean', 'p50', 'p99', 'secondHalfP99']);
  expect(report.runs[1].result.secondHalf.completed).toBeGreaterThan(1000);
  const help = await run('bin/simulate.ts', ['--help']);
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^usage: npm run simulate/);
}, 60_000);

test('npm run bench:decisions: JSON rows per fleet size and strategy, one round trip per decision; --help prints the usage', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'strata-decisions-')), 'decisions.json');
  const result = await run('bin/bench-decisions.ts', [
    '--nodes',
    '3,40',
    '--concurrency',
    '2',
    '--decisions',
    '200',
    '--strategies',
    'round-robin,least-expected-delay',
    '--out',
    out,
  ]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const { rows } = JSON.parse(readFileSync(out, 'utf8')) as {
    rows: {
      strategy: string;
      nodes: number;
      roundTripsPerDecision: number;
      evalshaPerDecision: number;
      decisionsPerSecond: number;
    }[];
  };
  // Each strategy's fleet sizes back to back, so that what disturbs the machine hits both alike.
  expect(rows.map((r) => `${r.strategy}@${r.nodes}`)).toEqual([
    'round-robin@3',
    'round-robin@40',
    'least-expected-delay@3',
    'least-expected-delay@40',
  ]);
  for (const row of rows)
    expect([row.roundTripsPerDecision, row.evalshaPerDecision, row.decisionsPerSecond > 0]).toEqual([1, 1, true]);
  // In turns: each size on a server of its own, every decision counted once, still one round trip each.
  const turns = await run('bin/bench-decisions.ts', [
    ...['--nodes', '3,40', '--concurrency', '2', '--decisions', '120', '--strategies', 'prequal'],
    ...['--interleave', '50', '--out', out],
  ]);
  expect(turns.stderr).toBe('');
  expect(turns.status).toBe(0);
  expect(turns.stdout).toMatch(/measured in turns of 50, each round:\nround 1 {2}prequal .* 40 ÷ 3 nodes/);
  const interleaved = (JSON.parse(readFileSync(out, 'utf8')) as { rows: (typeof rows)[number][] }).rows;
  expect(interleaved.map((r) => [r.nodes, r.roundTripsPerDecision, r.evalshaPerDecision])).toEqual([
    [3, 1, 1],
    [40, 1, 1],
  ]);
  const both = await run('bin/bench-decisions.ts', ['--interleave', '50', '--redis', 'redis://127.0.0.1:1']);
  expect([both.status, both.stderr]).toEqual([
    2,
    expect.stringContaining('--interleave starts a redis-server for each fleet size'),
  ]);
  const help = await run('bin/bench-decisions.ts', ['--help']);
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^usage: npm run bench:decisions -- \[--nodes 10,100,1000,10000\]/);
}, 120_000);

test('npm run bench:fleet: per fleet size, what the nodes and the dispatchers cost Redis, as JSON; a bad flag exits 2 naming it', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'strata-fleet-')), 'fleet.json');
  const result = await run('bin/bench-fleet.ts', [
    ...['--nodes', '20,60', '--seconds', '1', '--dispatchers', '4', '--decisions', '40', '--node-processes', '1'],
    ...['--connections', '2', '--heartbeat-ms', '200', '--tier2-rate', '1', '--out', out],
  ]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/targets\n {2}Redis CPU per node-second, 20 to 60 nodes/);
  const { rows } = JSON.parse(readFileSync(out, 'utf8')) as {
    rows: {
      nodes: number;
      nodesOnly: { heartbeatsPerSecond: number; storageReadsPerSecond: number; tier2PerSecond: number; errors: number };
      withDispatchers: { decisionsPerSecond: number; membershipReadsPerSecond: number; errors: number };
      redisUsPerNodeSecond: number;
    }[];
  };
  expect(rows.map((r) => r.nodes)).toEqual([20, 60]);
  for (const row of rows) {
    // Every kind of call the stand-ins make reached the store, without an error.
    expect(row.nodesOnly.heartbeatsPerSecond).toBeGreaterThan(0);
    expect(row.nodesOnly.storageReadsPerSecond).toBeGreaterThan(0);
    expect(row.nodesOnly.tier2PerSecond).toBeGreaterThan(0);
    expect(row.withDispatchers.decisionsPerSecond).toBeGreaterThan(0);
    expect(row.withDispatchers.membershipReadsPerSecond).toBeGreaterThan(0);
    expect([row.nodesOnly.errors, row.withDispatchers.errors]).toEqual([0, 0]);
    expect(row.redisUsPerNodeSecond).toBeGreaterThan(0);
  }
  const bad = await run('bin/bench-fleet.ts', ['--tier2-rate', 'lots']);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('--tier2-rate must be a number from 0 to 1000, got "lots"');
}, 180_000);

test("npm run bench:fleet -- --cells: the fleet on a 3-primary Redis Cluster it starts, each cell on its own primary, each primary's CPU, as JSON", async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'strata-fleet-cells-')), 'fleet-cells.json');
  const result = await run('bin/bench-fleet.ts', [
    ...['--cells', '1,3', '--nodes', '30', '--seconds', '1', '--dispatchers', '4', '--decisions', '40'],
    ...['--node-processes', '1', '--dispatcher-processes', '1', '--connections', '2', '--heartbeat-ms', '200'],
    ...['--out', out],
  ]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/\ncells\n\| nodes \| cells \|/);
  const { rows } = JSON.parse(readFileSync(out, 'utf8')) as {
    rows: {
      cells: number;
      cellPrimaries: string[];
      nodesOnly: { scriptsByPrimary: number[]; errors: number };
      withDispatchers: {
        decisionsPerSecond: number;
        coresByPrimary: number[];
        scriptsByPrimary: number[];
        errors: number;
      };
    }[];
  };
  expect(rows.map((r) => r.cells)).toEqual([1, 3]);
  // One cell: its primary alone runs scripts. Three: each on a primary of its own, and each primary runs scripts.
  const busy = (scripts: number[]) => scripts.filter((rate) => rate > 0).length;
  expect(new Set(rows[1].cellPrimaries).size).toBe(3);
  expect(busy(rows[0].nodesOnly.scriptsByPrimary)).toBe(1);
  expect(busy(rows[1].nodesOnly.scriptsByPrimary)).toBe(3);
  for (const row of rows) {
    expect(row.withDispatchers.coresByPrimary).toHaveLength(3);
    expect(row.withDispatchers.decisionsPerSecond).toBeGreaterThan(0);
    expect([row.nodesOnly.errors, row.withDispatchers.errors]).toEqual([0, 0]);
  }
  const bad = await run('bin/bench-fleet.ts', ['--cells', '1,99']);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('--cells must be whole numbers from 1 to 64, got "1,99"');
}, 240_000);

test('npm run simulate rejects a bad flag with the reason', async () => {
  const result = await run('bin/simulate.ts', ['--policies', 'fastest']);
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('--policies: unknown "fastest"');
});

test("npm run simulate:mixtures: each fixed mixture of adaptive's arms against the better arm, per phase and seed, as JSON; a bad flag exits 2 naming it", async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'strata-mixtures-')), 'mixtures.json');
  const args = ['--nodes', '12', '--invocations', '1500', '--seeds', '1,2', '--out', out];
  const result = await run('bin/simulate-mixtures.ts', args);
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(
    /^\| the better arm of each phase, in hindsight +\| \d+ +\| \d+ +\| \d+ +\| \d+ +\| \d+ \([\d.]+x\) \|$/m,
  );
  const { rows } = JSON.parse(readFileSync(out, 'utf8')) as {
    rows: { seed: number; name: string; phases: number[]; vsBetterArm: number }[];
  };
  for (const seed of [1, 2]) {
    const ofSeed = rows.filter((row) => row.seed === seed);
    // The two arms, the hindsight pick, 8 by load band, 2 by latency heard, 2 at random.
    expect(ofSeed).toHaveLength(15);
    expect(Math.min(ofSeed[0].vsBetterArm, ofSeed[1].vsBetterArm)).toBe(1);
    // The hindsight pick takes the better arm's p99 in every phase.
    expect(ofSeed[2].phases).toEqual(ofSeed[0].phases.map((ms, i) => Math.min(ms, ofSeed[1].phases[i])));
    for (const row of ofSeed) expect(row.phases).toHaveLength(4);
  }
  // The mixtures differ from each arm: they do mix (a chooser that never switched would equal one arm).
  const mixed = rows.filter((row) => row.seed === 1).slice(3);
  const arms = rows.filter((row) => row.seed === 1).slice(0, 2);
  expect(mixed.filter((row) => arms.every((arm) => arm.phases.join() !== row.phases.join())).length).toBeGreaterThan(8);
  const bad = await run('bin/simulate-mixtures.ts', ['--seeds', '1,x']);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('--seeds must be a whole number of at least 0, got "x"');
}, 60_000);

test('npm run bench: real processes per scenario, ratios against AutoNDP before, results.json and charts', async () => {
  const out = mkdtempSync(join(tmpdir(), 'strata-bench-'));
  const result = await run('bin/bench.ts', [
    '--scenarios',
    'autondp-before,round-robin',
    '--workload',
    'wordcount-small',
    '--requests',
    '6',
    '--concurrency',
    '1,3',
    '--out',
    out,
  ]);
  expect(result.stderr).not.toMatch(/Error/);
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/^autondp-before .* 1\.00 \/ 1\.00$/m);
  expect(result.stdout.match(/^round-robin +[\d.]+ /gm)).toHaveLength(2);
  const report = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    results: { name: string; levels: { summary: { completed: number; errors: number } }[] }[];
  };
  expect(report.results.map((r) => r.name)).toEqual(['autondp-before', 'round-robin']);
  for (const r of report.results)
    for (const level of r.levels) expect(level.summary).toMatchObject({ completed: 6, errors: 0 });
  for (const chart of ['latency-cdf.svg', 'median-vs-load.svg', 'work-per-node.svg'])
    expect(existsSync(join(out, chart))).toBe(true);
}, 120_000);
