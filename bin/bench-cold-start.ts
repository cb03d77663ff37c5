/**
 * `npm run bench:cold-start`: the dispatcher bundle's size, and its module init time next
 * to a bare handler's measured in the same run, each in fresh Node.js processes loaded as
 * the Lambda runtime loads them (the policy engine from the layer's path, the runtime's
 * modules on NODE_PATH). Also the first invocation
 * (connect to a real redis-server, read the membership), which is the rest of a cold start.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSync } from 'esbuild';
import { exitWith, wholeNumber } from '../common/cli';
import { DISPATCHER_BUNDLING, DISPATCHER_ENTRY } from '../lib/constructs/dispatcher-function';
import { bundlePolicyEngine } from '../lib/constructs/policy-layer';
import { startRedisServer } from '../local/redis-server';

const USAGE = `usage: npm run bench:cold-start -- [--runs 21] [--out FILE]

Bundles the dispatcher as its CDK construct does, then loads it and a bare handler
alternately in --runs fresh processes each; prints sizes and the median and p90 init
times, and writes them to FILE (default bench/results/cold-start.json).`;

const ROOT = join(__dirname, '..');

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        runs: { type: 'string', default: '21' },
        out: { type: 'string', default: join(ROOT, 'bench', 'results', 'cold-start.json') },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const runs = wholeNumber('runs', values.runs, 1);

  const work = mkdtempSync(join(tmpdir(), 'strata-cold-start-'));
  const dispatcher = join(work, 'dispatcher', 'index.js');
  buildSync({
    entryPoints: [DISPATCHER_ENTRY],
    outfile: dispatcher,
    bundle: true,
    platform: 'node',
    format: DISPATCHER_BUNDLING.format,
    target: DISPATCHER_BUNDLING.target,
    minify: DISPATCHER_BUNDLING.minify,
    minifyWhitespace: DISPATCHER_BUNDLING.esbuildArgs['--minify-whitespace'],
    minifySyntax: DISPATCHER_BUNDLING.esbuildArgs['--minify-syntax'],
    sourcemap: DISPATCHER_BUNDLING.sourceMap,
    external: [...DISPATCHER_BUNDLING.externalModules],
    loader: { ...DISPATCHER_BUNDLING.loader },
    logLevel: 'warning',
  });
  const layer = join(bundlePolicyEngine(join(work, 'layer')), 'index.js');
  const bare = join(work, 'bare', 'index.js');
  mkdirSync(dirname(bare));
  writeFileSync(bare, "exports.handler = async () => ({ statusCode: 200, body: '{}' });\n");
  const nodePath = `${join(work, 'layer', 'nodejs', 'node_modules')}:${runtimeModules(work)}`;

  const init = { bare: [] as number[], dispatcher: [] as number[] };
  for (let i = 0; i < runs; i++) {
    init.bare.push(loadTime(bare, nodePath));
    init.dispatcher.push(loadTime(dispatcher, nodePath));
  }
  // On AWS the first connection is TLS and the AUTH token comes over HTTPS: modules the
  // local first invocation (plain redis://, no secret) does not load, measured apart.
  const tlsModules: number[] = [];
  for (let i = 0; i < runs; i++)
    tlsModules.push(
      Number(
        run(
          `const t = process.hrtime.bigint(); require('node:tls'); require('node:https'); console.log(Number(process.hrtime.bigint() - t) / 1e6);`,
          {},
        ).trim(),
      ),
    );
  const redis = await startRedisServer();
  const firstInvocation: number[] = [];
  try {
    for (let i = 0; i < Math.min(runs, 7); i++) firstInvocation.push(firstCall(dispatcher, nodePath, redis.url));
  } finally {
    await redis.stop();
  }
  const bytes = { dispatcher: statSync(dispatcher).size, layer: statSync(layer).size };
  rmSync(work, { recursive: true, force: true });

  const result = {
    at: new Date().toISOString(),
    runs,
    bytes,
    initMs: {
      bare: stats(init.bare),
      dispatcher: stats(init.dispatcher),
      aboveBare: stats(init.dispatcher).median - stats(init.bare).median,
    },
    firstInvocationMs: stats(firstInvocation),
    tlsAndHttpsModulesMs: stats(tlsModules),
  };
  console.log(
    `dispatcher bundle ${(result.bytes.dispatcher / 1024).toFixed(1)} KiB, policy layer ${(result.bytes.layer / 1024).toFixed(1)} KiB`,
  );
  console.log(
    `module init, median (p90) of ${runs}: bare handler ${fmt(result.initMs.bare)}, dispatcher ${fmt(result.initMs.dispatcher)}: ${result.initMs.aboveBare.toFixed(1)} ms above bare`,
  );
  console.log(
    `first invocation (connect to Redis, read the membership, answer /health), median (p90) of ${firstInvocation.length}: ${fmt(result.firstInvocationMs)}`,
  );
  console.log(
    `on AWS the first invocation also loads node:tls and node:https (the TLS connection, the AUTH token): ${fmt(result.tlsAndHttpsModulesMs)}`,
  );
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify(result, null, 2));
  console.log(`results: ${values.out}`);
}

/** Milliseconds a fresh process takes to require the handler module: Lambda's module init. */
function loadTime(file: string, nodePath: string): number {
  const script = `const t = process.hrtime.bigint(); require(${JSON.stringify(file)}); console.log(Number(process.hrtime.bigint() - t) / 1e6);`;
  return Number(run(script, { NODE_PATH: nodePath }).trim());
}

/** Milliseconds of the first invocation after init, against a real redis-server. */
function firstCall(file: string, nodePath: string, redisUrl: string): number {
  const script = `
    const { handler } = require(${JSON.stringify(file)});
    const t = process.hrtime.bigint();
    handler({ httpMethod: 'GET', path: '/health', headers: {}, body: null, requestContext: { requestId: 'cold' } }, { getRemainingTimeInMillis: () => 29000 })
      .then((reply) => { if (reply.statusCode !== 200) throw new Error(reply.body); console.log(Number(process.hrtime.bigint() - t) / 1e6); process.exit(0); });`;
  const output = run(script, { NODE_PATH: nodePath, STRATA_REDIS_URL: redisUrl });
  return Number(output.trim().split('\n').at(-1));
}

function run(script: string, env: Record<string, string>): string {
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`a measuring process failed:\n${result.stderr}`);
  return result.stdout;
}

/** What the Lambda runtime provides beside the layer (its own modules): this project's, less the engine. */
function runtimeModules(work: string): string {
  const dir = join(work, 'runtime', 'node_modules');
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name !== '@strata' && name !== '.bin') symlinkSync(join(ROOT, 'node_modules', name), join(dir, name));
  }
  return dir;
}

function stats(values: readonly number[]): { median: number; p90: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor((sorted.length - 1) / 2)],
    p90: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))],
  };
}

function fmt({ median, p90 }: { median: number; p90: number }): string {
  return `${median.toFixed(1)} ms (${p90.toFixed(1)})`;
}

main().catch((error: unknown) => exitWith(1, error instanceof Error ? error.message : String(error)));
