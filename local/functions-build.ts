/**
 * Builds user functions (docs/functions.md): a folder with a manifest.json and either an
 * AssemblyScript entry (index.ts, compiled with asc against the SDK in
 * functions/sdk/assemblyscript/) or a module written in the WebAssembly text format
 * (module.wat, compiled with wabt). `npm run functions:build` builds the examples; tests
 * call buildFunction and compileWat directly.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import wabtModule from 'wabt';
import { checkModule, type Manifest, PackageError, parseManifest } from '../common/functions/manifest';

const ROOT = join(__dirname, '..');
export const EXAMPLES_DIR = join(ROOT, 'functions', 'examples');
const SDK_HOST = join(ROOT, 'functions', 'sdk', 'assemblyscript', 'host');
const ASC = join(ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js');

/**
 * asc's flags, and why:
 * - the incremental runtime (TLSF and a garbage collector), not the stub that never frees:
 *   one instance lives through a whole data stage, up to a thousand `add` calls for a
 *   1 GiB object, and whatever a stage allocates per piece must come back;
 * - the memory is env.memory, made by Strata for each call, and not exported;
 * - (and --use abort=, added per build) an AssemblyScript abort (a failed assertion, an
 *   allocation over the limit) goes to strata.fail through the SDK, so the module imports
 *   no env.abort;
 * - no non-trapping float-to-int conversions: the ABI allows the MVP plus bulk memory,
 *   sign extension, mutable globals and multi-value, and asc would use them by default.
 */
export const ASC_FLAGS: readonly string[] = [
  '--runtime',
  'incremental',
  '--importMemory',
  '--noExportMemory',
  '-O3',
  '--disable',
  'nontrapping-f2i',
];

/** A build that failed: what, where, and the compiler's own words. */
export class FunctionBuildError extends Error {
  override name = 'FunctionBuildError';
}

export interface BuiltFunction {
  readonly name: string;
  /** The manifest as Strata reads it (common/functions/manifest.ts's parseManifest). */
  readonly manifest: Manifest;
  readonly module: Uint8Array;
}

/** The folders of functions/examples/, by name. */
export function exampleNames(): string[] {
  return readdirSync(EXAMPLES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/**
 * Builds the function in `dir`: its manifest and its module, both checked as a deploy
 * checks them (common/functions/manifest.ts), so that an author learns at build what
 * the deploy would refuse.
 */
export async function buildFunction(dir: string): Promise<BuiltFunction> {
  const folder = resolve(dir);
  if (!existsSync(folder)) throw new FunctionBuildError(`${dir}: no such folder`);
  const manifest = readManifest(folder);
  const wat = join(folder, 'module.wat');
  const entry = join(folder, 'index.ts');
  let module: Uint8Array;
  if (existsSync(wat)) module = await compileWat(readFileSync(wat, 'utf8'), wat);
  else if (existsSync(entry)) module = await compileAssemblyScript(entry);
  else throw new FunctionBuildError(`${folder}: no module.wat or index.ts (AssemblyScript) to build`);
  try {
    checkModule(module, manifest);
  } catch (error) {
    if (error instanceof PackageError) throw new FunctionBuildError(`${folder}: ${error.message}`);
    throw error;
  }
  return { name: manifest.name, manifest, module };
}

function readManifest(folder: string): Manifest {
  const path = join(folder, 'manifest.json');
  if (!existsSync(path)) throw new FunctionBuildError(`${path}: missing (docs/functions.md, "The manifest")`);
  let manifest: Manifest;
  try {
    manifest = parseManifest(JSON.parse(readFileSync(path, 'utf8')));
  } catch (error) {
    if (error instanceof SyntaxError) throw new FunctionBuildError(`${path}: not JSON: ${error.message}`);
    if (error instanceof PackageError) throw new FunctionBuildError(`${path}: ${error.message}`);
    throw error;
  }
  if (manifest.name !== basename(folder))
    throw new FunctionBuildError(
      `${path}: "name" is "${manifest.name}" but the folder is "${basename(folder)}"; make them equal`,
    );
  return manifest;
}

/**
 * Compiles an AssemblyScript entry file with the SDK's flags. asc runs in a child process
 * (it is an ES module only) from the entry's folder: asc names the SDK's abort handler by
 * its path as imported from there, which is the one `--use abort=` must give.
 */
export async function compileAssemblyScript(entry: string): Promise<Uint8Array> {
  const folder = dirname(resolve(entry));
  const sdk = relative(folder, SDK_HOST).split(sep).join('/');
  const out = mkdtempSync(join(tmpdir(), 'strata-asc-'));
  try {
    const outFile = join(out, 'module.wasm');
    const args = [ASC, basename(entry), '--outFile', outFile, ...ASC_FLAGS, '--use', `abort=${sdk}/abortWithFail`];
    try {
      await promisify(execFile)(process.execPath, args, { cwd: folder, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      let said = `${stderr ?? ''}${stdout ?? ''}`.trim() || (error as Error).message;
      if (said.includes('abortWithFail') && said.includes('not found'))
        said += `\n(import the SDK by the path '${sdk.replace(/\/host$/, '')}', relative to ${folder})`;
      throw new FunctionBuildError(`${entry}: asc failed:\n${said}`);
    }
    return new Uint8Array(readFileSync(outFile));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

type Wabt = Awaited<ReturnType<typeof wabtModule>>;
/** The WebAssembly proposals wabt may be told to accept past its defaults. */
export type WatFeatures = NonNullable<Parameters<Wabt['parseWat']>[2]>;
let wabt: Promise<Wabt> | undefined;

/**
 * Compiles WebAssembly text to a binary module. Asynchronous because wabt's own
 * WebAssembly loads so; the first call takes about a tenth of a second, later ones
 * a millisecond or so. `fileName` only labels the errors; `features` turns on proposals
 * past wabt's defaults (a hostile module of the tests throws an exception).
 */
export async function compileWat(
  text: string,
  fileName = 'module.wat',
  features: WatFeatures = {},
): Promise<Uint8Array> {
  wabt ??= wabtModule();
  const tools = await wabt;
  let parsed: ReturnType<Wabt['parseWat']> | undefined;
  try {
    parsed = tools.parseWat(fileName, text, features);
    parsed.resolveNames();
    parsed.validate();
    return new Uint8Array(parsed.toBinary({}).buffer);
  } catch (error) {
    // wabt says "parseWat failed:" and then FILE:LINE:COLUMN: error: ...
    const said = (error as Error).message.replace(/^\w+ failed:\s*/, '').trim();
    throw new FunctionBuildError(said.startsWith(fileName) ? said : `${fileName}: ${said}`);
  } finally {
    parsed?.destroy();
  }
}
