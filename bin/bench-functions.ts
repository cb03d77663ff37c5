/**
 * `npm run bench:functions`: what a user's WebAssembly function costs beside a built-in,
 * measured in one run on one compute node (in this process, over real HTTP, the worker
 * threads of its slots doing the work):
 *   - a warm call of an empty function (a WAT module whose run answers {}) beside the
 *     nearest to an empty built-in: `sha256` of no data, once (`sleep` with ms 0 would
 *     wait for a timer, a millisecond);
 *   - the first call of a new version on a node (read from the registry, its hash
 *     checked, compiled, instantiated, run), for the empty module and a 1 MB one;
 *   - a data stage over a 4 MiB text: the grep example beside the built-in substring
 *     search (the same job: count the lines or matches of a pattern), warm and first;
 *   - deploy to first answer on the local cluster (processes, the API, the dispatcher's
 *     refresh): PUT /functions/NAME, then invoke until it answers 200.
 * Targets (issue 19): a warm empty call at most 0.2 ms over the built-in; the first call
 * of a new 1 MB module at most 50 ms; deploy to invocable at most 2 s.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodePolicy, offloadPolicy } from '@strata/policy-engine';
import { exitWith, wholeNumber } from '../common/cli';
import { BUILTIN_NAMES } from '../common/functions/builtins';
import { FolderCodeStore } from '../common/functions/code-store';
import { FunctionRegistry } from '../common/functions/registry';
import { forward } from '../common/http/forward';
import { FUNCTION_VERSION_HEADER } from '../common/http/headers';
import { FolderObjectStore } from '../common/object-store';
import { MemoryStateStore } from '../common/state';
import { summarize as summarizeRun } from '../common/stats';
import { LocalCluster } from '../local/cluster';
import { buildFunction, compileWat, EXAMPLES_DIR } from '../local/functions-build';
import { ComputeNode } from '../nodes/compute/compute-node';

const USAGE = `usage: npm run bench:functions -- [--calls 2000] [--firsts 20] [--out FILE]

  --calls   warm calls of each empty function (default 2000)
  --firsts  first calls of a new version, for each kind (default 20)
  --out     where the figures go (default bench/results/functions.json)`;

const EMPTY = `(module (import "env" "memory" (memory 1)) (import "strata" "output" (func $out (param i32 i32)))
  (data (i32.const 0) "{}") (func (export "alloc") (param i32) (result i32) (i32.const 64))
  (func (export "run") (param i32 i32) (call $out (i32.const 0) (i32.const 2))))`;
const RUN_MANIFEST = (name: string) => ({
  name,
  abi: 1,
  entryPoints: ['run'],
  limits: { memoryPages: 32, timeMs: 5000 },
});

/** The empty function with `bytes` of data in it and a marker, so that each is a new module of that size. */
const sizedModule = (bytes: number, marker: number) =>
  compileWat(
    EMPTY.replace(
      '(data (i32.const 0) "{}")',
      `(data (i32.const 0) "{}") (data (i32.const 128) "${marker}${'.'.repeat(Math.max(0, bytes - 64))}")`,
    ).replace('(memory 1)', `(memory ${Math.ceil((bytes + 1024) / 65536) + 1})`),
  );

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        calls: { type: 'string', default: '2000' },
        firsts: { type: 'string', default: '20' },
        out: { type: 'string', default: join(__dirname, '..', 'bench', 'results', 'functions.json') },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  const calls = wholeNumber('calls', values.calls, 10);
  const firsts = wholeNumber('firsts', values.firsts, 1);

  const work = mkdtempSync(join(tmpdir(), 'strata-bench-functions-'));
  const registry = new FunctionRegistry(new FolderCodeStore(join(work, 'functions')), BUILTIN_NAMES);
  const objects = new FolderObjectStore(join(work, 'objects'));
  const text = 'the quick brown fox jumps over the lazy dog; love is all you need\n'.repeat(
    Math.ceil((4 * 1024 * 1024) / 66),
  );
  await objects.put('corpus/4mib.txt', text.slice(0, 4 * 1024 * 1024));
  const node = await new ComputeNode({
    id: 'bench',
    slots: 2,
    store: new MemoryStateStore(),
    objects,
    registry,
    nodePolicy: nodePolicy('most-slots'),
    offloadPolicy: offloadPolicy('never'),
  }).start();
  const call = async (name: string, body: unknown, version?: number) => {
    const started = performance.now();
    const reply = await forward({
      address: node.address,
      path: `/invoke/${name}`,
      body: JSON.stringify(body),
      headers: {
        'content-type': 'application/json',
        ...(version ? { [FUNCTION_VERSION_HEADER]: String(version) } : {}),
      },
    });
    if (reply.status !== 200) throw new Error(`${name}: ${reply.status} ${reply.body.toString()}`);
    return performance.now() - started;
  };
  const results: Record<string, unknown> = {
    machine: 'this machine, shared by whatever else runs on it',
    calls,
    firsts,
  };
  try {
    // Warm: the empty function and the empty built-in, interleaved so that both see the same machine.
    const { record: empty } = await registry.deploy('empty', RUN_MANIFEST('empty'), await compileWat(EMPTY));
    for (let i = 0; i < 50; i++) {
      await call('empty', {}, empty.version);
      await call('sha256', { data: '', rounds: 1 });
    }
    const warmWasm: number[] = [];
    const warmBuiltin: number[] = [];
    for (let i = 0; i < calls; i++) {
      warmWasm.push(await call('empty', {}, empty.version));
      warmBuiltin.push(await call('sha256', { data: '', rounds: 1 }));
    }
    const wasm = summarize(warmWasm);
    const builtin = summarize(warmBuiltin);
    results.warmEmpty = { wasm, builtin, medianOverBuiltinMs: wasm.p50 - builtin.p50 };
    console.log(
      `warm empty call, median (p99): WebAssembly ${ms(wasm.p50)} (${ms(wasm.p99)}), built-in ${ms(builtin.p50)} (${ms(builtin.p99)}): ${ms(wasm.p50 - builtin.p50)} over; target at most 0.200 ms`,
    );

    // First call of a new version on this node: registry read, hash check, compile, instantiate, run.
    for (const [label, bytes] of [
      ['empty', 0],
      ['1 MB', 1024 * 1024],
    ] as const) {
      const times: number[] = [];
      let moduleBytes = 0;
      for (let i = 0; i < firsts; i++) {
        const module = await sizedModule(bytes, i);
        moduleBytes = module.byteLength;
        const { record } = await registry.deploy('first', RUN_MANIFEST('first'), module);
        times.push(await call('first', {}, record.version));
      }
      const first = summarize(times);
      results[`first ${label}`] = { moduleBytes, ...first };
      console.log(
        `first call of a new ${label} module (${moduleBytes} bytes), median (p99): ${ms(first.p50)} (${ms(first.p99)})${bytes ? '; target at most 50 ms' : ''}`,
      );
    }

    // A data stage over 4 MiB: grep (WebAssembly) beside substring (built-in).
    const grep = await buildFunction(join(EXAMPLES_DIR, 'grep'));
    const { record: grepRecord } = await registry.deploy('grep', grep.manifest, grep.module);
    const args = { key: 'corpus/4mib.txt', pattern: 'love' };
    const grepFirst = await call('grep', args, grepRecord.version);
    const stageWasm: number[] = [];
    const stageBuiltin: number[] = [];
    for (let i = 0; i < 10; i++) {
      stageWasm.push(await call('grep', args, grepRecord.version));
      stageBuiltin.push(await call('substring', args));
    }
    results.stage4MiB = { grepFirstMs: grepFirst, grep: summarize(stageWasm), substring: summarize(stageBuiltin) };
    console.log(
      `data stage over 4 MiB, median: grep (WebAssembly) ${ms(summarize(stageWasm).p50)} (its first call ${ms(grepFirst)}), substring (built-in) ${ms(summarize(stageBuiltin).p50)}`,
    );
  } finally {
    await node.drain();
  }

  // Deploy to invocable on the local cluster: the API, the registry's folder, the dispatcher's refresh (1 s).
  const cluster = await LocalCluster.start({
    computeNodes: 1,
    storageNodes: 1,
    objects: { folder: join(work, 'objects') },
    functionsFolder: join(work, 'cluster-functions'),
  });
  try {
    await cluster.waitForNodes();
    const address = new URL(cluster.url).host;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const module = await sizedModule(0, 1000 + i);
      const started = performance.now();
      const deployed = await forward({
        address,
        method: 'PUT',
        path: '/functions/fresh',
        body: JSON.stringify({
          manifest: RUN_MANIFEST('fresh'),
          module: Buffer.from(module).toString('base64'),
          alias: 'live',
        }),
        headers: { 'content-type': 'application/json' },
      });
      if (deployed.status !== 201) throw new Error(`deploy: ${deployed.status} ${deployed.body.toString()}`);
      const version = (JSON.parse(deployed.body.toString()) as { version: number }).version;
      for (;;) {
        const reply = await forward({
          address,
          path: `/invoke/fresh:${version}`,
          body: '{}',
          headers: { 'content-type': 'application/json' },
        });
        if (reply.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      times.push(performance.now() - started);
    }
    const deploy = summarize(times);
    results.deployToInvocable = deploy;
    console.log(
      `deploy to invocable (the local cluster), median (max): ${ms(deploy.p50)} (${ms(deploy.max)}); target at most 2000 ms`,
    );
  } finally {
    await cluster.stop();
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${values.out}`);
}

/** The figures of a list of latencies: median, p99, max. */
function summarize(times: number[]) {
  const run = summarizeRun([...times], 0, 0);
  return { n: run.completed, p50: run.medianMs, p99: run.p99Ms, max: Math.max(...times), mean: run.meanMs };
}

function ms(value: number): string {
  return `${value.toFixed(3)} ms`;
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
