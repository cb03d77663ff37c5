/**
 * Hostile modules for the functions' hostile suite (issue 19, item 10), each a .wat file
 * here with its manifest, and one good module with a data stage for the runtime's own
 * tests. `expected` says what Strata must answer: a 400 at deploy naming the fault, or,
 * for modules that deploy fine and misbehave when run, the invocation's function error
 * (docs/functions.md, "What ends a call").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../../common/functions/manifest';
import { compileWat, type WatFeatures } from '../../../local/functions-build';

export type Expected =
  /** Refused at deploy: a 400 whose message matches. */
  | { readonly at: 'deploy'; readonly status: 400; readonly message: RegExp }
  /** Deployed, then the invocation ends with this function error. */
  | { readonly at: 'invoke'; readonly status: 424; readonly kind: 'trap' | 'failed' | 'bad-output' }
  | { readonly at: 'invoke'; readonly status: 504; readonly kind: 'timeout' };

export interface WasmCase {
  /** Also the manifest's name. */
  readonly name: string;
  readonly what: string;
  readonly file: string;
  readonly manifest: Manifest;
  readonly expected: Expected;
  /** WebAssembly proposals its text needs, past wabt's defaults. */
  readonly features?: WatFeatures;
  /** What is done to the compiled module before it is sent (what wabt cannot write). */
  readonly patch?: (module: Uint8Array) => Uint8Array;
}

export interface CompiledCase extends WasmCase {
  readonly module: Uint8Array;
}

const run = (name: string, limits: Partial<Manifest['limits']> = {}): Manifest => ({
  name,
  abi: 1,
  entryPoints: ['run'],
  limits: { memoryPages: 16, timeMs: 1000, ...limits },
});

const stage = (name: string, limits: Partial<Manifest['limits']> = {}): Manifest => ({
  name,
  abi: 1,
  entryPoints: ['begin', 'add', 'end', 'finish'],
  dataStage: { objectKeyArg: 'key' },
  limits: { memoryPages: 32, timeMs: 5000, maxObjectBytes: 64 * 1024 * 1024, ...limits },
  argsSchema: {
    type: 'object',
    properties: { key: { type: 'string', minLength: 1 } },
    required: ['key'],
  },
});

export const HOSTILE_CASES: readonly WasmCase[] = [
  {
    name: 'hostile-infinite-loop',
    what: 'run never returns',
    file: 'infinite-loop.wat',
    // A short time limit, so that the test waits half a second, not twenty.
    manifest: run('hostile-infinite-loop', { timeMs: 500 }),
    expected: { at: 'invoke', status: 504, kind: 'timeout' },
  },
  {
    name: 'hostile-memory-bomb',
    what: 'grows its memory a page at a time until memory.grow fails, then traps',
    file: 'memory-bomb.wat',
    // The largest memory a manifest may ask for: the cap holds at its top.
    manifest: run('hostile-memory-bomb', { memoryPages: 1024 }),
    expected: { at: 'invoke', status: 424, kind: 'trap' },
  },
  {
    name: 'hostile-deep-recursion',
    what: 'recurses without end until the stack overflows',
    file: 'deep-recursion.wat',
    manifest: run('hostile-deep-recursion'),
    expected: { at: 'invoke', status: 424, kind: 'trap' },
  },
  {
    name: 'hostile-wasi',
    what: 'imports wasi_snapshot_preview1.fd_write',
    file: 'wasi-import.wat',
    manifest: run('hostile-wasi'),
    expected: { at: 'deploy', status: 400, message: /wasi_snapshot_preview1\.fd_write/ },
  },
  {
    name: 'hostile-unknown-import',
    what: 'imports strata.clock, which Strata does not give',
    file: 'unknown-import.wat',
    manifest: run('hostile-unknown-import'),
    expected: { at: 'deploy', status: 400, message: /strata\.clock/ },
  },
  {
    name: 'hostile-lying-manifest',
    what: 'its manifest says data stage; it exports only run',
    file: 'lying-exports.wat',
    manifest: stage('hostile-lying-manifest'),
    expected: { at: 'deploy', status: 400, message: /does not export "begin"/ },
  },
  {
    name: 'hostile-own-memory',
    what: 'defines a memory of its own (up to 4 GiB) instead of importing env.memory',
    file: 'own-memory.wat',
    manifest: run('hostile-own-memory'),
    expected: { at: 'deploy', status: 400, message: /own memory.*env\.memory/ },
  },
  {
    name: 'hostile-wrong-signature',
    what: 'exports run as (i64) -> i32',
    file: 'wrong-run-signature.wat',
    manifest: run('hostile-wrong-signature'),
    expected: { at: 'deploy', status: 400, message: /"run" as \(i64\) -> \(i32\)/ },
  },
  {
    name: 'hostile-huge-memory',
    what: 'its memory import declares a minimum of 2048 pages, over the cap of 1024',
    file: 'huge-memory-minimum.wat',
    manifest: run('hostile-huge-memory', { memoryPages: 1024 }),
    expected: { at: 'deploy', status: 400, message: /2048 pages/ },
  },
  {
    name: 'hostile-memory-beside-env',
    what: 'imports env.memory and defines a second memory of its own, up to 4 GiB (multi-memory)',
    file: 'memory-beside-env.wat',
    manifest: run('hostile-memory-beside-env'),
    expected: { at: 'deploy', status: 400, message: /own memory.*env\.memory/ },
    patch: withOwnMemory,
  },
  {
    name: 'hostile-unbounded-table',
    what: 'a table of ten million elements with no maximum, outside the memory cap',
    file: 'unbounded-table.wat',
    manifest: run('hostile-unbounded-table'),
    expected: { at: 'deploy', status: 400, message: /table 0 has no maximum/ },
  },
  {
    name: 'hostile-huge-table',
    what: 'a table of a million elements, its maximum',
    file: 'huge-table.wat',
    manifest: run('hostile-huge-table'),
    expected: { at: 'deploy', status: 400, message: /may grow to 1000000 elements; at most 65536/ },
  },
  {
    name: 'hostile-memory-max-below',
    what: 'its env.memory may grow to 2 pages, its manifest asks for 16: it could never link',
    file: 'memory-max-below.wat',
    manifest: run('hostile-memory-max-below'),
    expected: { at: 'deploy', status: 400, message: /maximum of 2 pages, under manifest.limits.memoryPages \(16\)/ },
  },
  {
    name: 'hostile-fail-not-utf8',
    what: 'fails through strata.fail with a message that is not UTF-8',
    file: 'fail-not-utf8.wat',
    manifest: run('hostile-fail-not-utf8'),
    expected: { at: 'invoke', status: 424, kind: 'failed' },
  },
  {
    name: 'hostile-throws-exception',
    what: 'throws a WebAssembly exception that nothing catches (not a JavaScript Error)',
    file: 'throws-exception.wat',
    manifest: run('hostile-throws-exception'),
    expected: { at: 'invoke', status: 424, kind: 'trap' },
    features: { exceptions: true },
  },
  {
    name: 'hostile-huge-output',
    what: 'outputs 4 MiB and a byte, more than a reply through the Lambda carries',
    file: 'huge-output.wat',
    manifest: run('hostile-huge-output', { memoryPages: 96 }),
    expected: { at: 'invoke', status: 424, kind: 'bad-output' },
  },
];

/** A module that behaves: its data stage counts the object's bytes, {"bytes": N}; finish answers that. */
export const GOOD_DATA_STAGE: Omit<WasmCase, 'expected'> = {
  name: 'count-bytes',
  what: 'a data stage that counts bytes',
  file: 'count-bytes.wat',
  manifest: stage('count-bytes'),
};

/**
 * The module with a memory section of its own added (one memory, 1 to 65,536 pages), before
 * the first section that must follow it (spec §5.5.2: sections in order of their ids).
 */
export function withOwnMemory(module: Uint8Array): Uint8Array {
  const memorySection = [5, 6, 1, 0x01, 1, 0x80, 0x80, 0x04]; // id, size, count, has a max, min 1, max 65536 (LEB128)
  let at = 8;
  while (at < module.length) {
    const id = module[at];
    let size = 0;
    let next = at + 1;
    for (let shift = 0; ; shift += 7) {
      const byte = module[next++];
      size += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
    }
    if (id > 5) break;
    at = next + size;
  }
  return Uint8Array.from([...module.subarray(0, at), ...memorySection, ...module.subarray(at)]);
}

/** The .wat text of a case. */
export function watText(file: string): string {
  return readFileSync(join(__dirname, file), 'utf8');
}

let compiled: Promise<readonly CompiledCase[]> | undefined;

/** Every hostile case with its module compiled (once per process). */
export function hostileModules(): Promise<readonly CompiledCase[]> {
  compiled ??= Promise.all(
    HOSTILE_CASES.map(async (item) => ({
      ...item,
      module: (item.patch ?? ((module) => module))(await compileWat(watText(item.file), item.file, item.features)),
    })),
  );
  return compiled;
}

/** The good data-stage module, compiled, with its manifest. */
export async function goodDataStage(): Promise<{ readonly manifest: Manifest; readonly module: Uint8Array }> {
  return {
    manifest: GOOD_DATA_STAGE.manifest,
    module: await compileWat(watText(GOOD_DATA_STAGE.file), GOOD_DATA_STAGE.file),
  };
}

/** One case by name, compiled. */
export async function hostileModule(name: string): Promise<CompiledCase> {
  const found = (await hostileModules()).find((item) => item.name === name);
  if (!found)
    throw new Error(`no hostile case "${name}"; the cases are ${HOSTILE_CASES.map((c) => c.name).join(', ')}`);
  return found;
}
