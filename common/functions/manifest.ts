import { RUN_BUDGET_MS } from './limits';
import { type JsonSchema, schemaProblems } from './schema';
import { ModuleFormatError, type ModuleShape, moduleShape, type Signature, signatureText } from './wasm-module';

/** What a function package may be; docs/functions.md says why each number is what it is. */
export const PACKAGE_LIMITS = {
  /** An API Gateway request reaches its Lambda as at most 6 MB of JSON, the module in base64 inside it. */
  moduleBytes: 4 * 1024 * 1024,
  /** 64 KiB pages: 64 MiB of memory a call. */
  memoryPages: 1024,
  timeMs: RUN_BUDGET_MS,
  objectBytes: 1024 * 1024 * 1024,
  /** The elements of a module's own tables, all together: about 1 MiB of the worker's heap at most. */
  tableElements: 65_536,
} as const;

export const RUN_ENTRY_POINTS = ['run'] as const;
export const STAGE_ENTRY_POINTS = ['begin', 'add', 'end', 'finish'] as const;

export interface Manifest {
  readonly name: string;
  readonly description?: string;
  readonly abi: 1;
  readonly entryPoints: readonly string[];
  readonly dataStage?: { readonly objectKeyArg: string };
  readonly limits: { readonly memoryPages: number; readonly timeMs: number; readonly maxObjectBytes?: number };
  readonly argsSchema?: JsonSchema;
}

/** A package, a manifest or a name that Strata refuses; the message names what is wrong. The API answers 400 (413 for size). */
export class PackageError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
    this.name = 'PackageError';
  }
}

const NAME = /^[a-z][a-z0-9-]{0,63}$/;
const MANIFEST_KEYS = ['name', 'description', 'abi', 'entryPoints', 'dataStage', 'limits', 'argsSchema'];

/** Throws PackageError unless the name is one a function may have. */
export function checkFunctionName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new PackageError(
      `${field} must be 1 to 64 characters of a-z, 0-9 and -, starting with a letter; got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** Checks a manifest's fields; answers it typed, or throws a PackageError naming the field. */
export function parseManifest(value: unknown): Manifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PackageError('manifest must be a JSON object');
  }
  const m = value as Record<string, unknown>;
  const unknown = Object.keys(m).filter((key) => !MANIFEST_KEYS.includes(key));
  if (unknown.length > 0) {
    throw new PackageError(
      `manifest.${unknown[0]} is not a manifest field; the fields are ${MANIFEST_KEYS.join(', ')}`,
    );
  }
  const name = checkFunctionName(m.name, 'manifest.name');
  if (m.description !== undefined && !(typeof m.description === 'string' && m.description.length <= 256)) {
    throw new PackageError('manifest.description must be a string of at most 256 characters');
  }
  if (m.abi !== 1) throw new PackageError('manifest.abi must be 1');
  const entryPoints = m.entryPoints;
  const isRun = sameList(entryPoints, RUN_ENTRY_POINTS);
  const isStage = sameList(entryPoints, STAGE_ENTRY_POINTS);
  if (!isRun && !isStage) {
    throw new PackageError(
      `manifest.entryPoints must be ${JSON.stringify(RUN_ENTRY_POINTS)} or ${JSON.stringify(STAGE_ENTRY_POINTS)}`,
    );
  }
  const limits = m.limits as Record<string, unknown> | undefined;
  if (typeof limits !== 'object' || limits === null) {
    throw new PackageError(
      'manifest.limits must be an object with memoryPages and timeMs (and maxObjectBytes for a data stage)',
    );
  }
  const whole = (key: string, max: number) => {
    const number = limits[key];
    if (!(Number.isInteger(number) && (number as number) >= 1 && (number as number) <= max)) {
      throw new PackageError(
        `manifest.limits.${key} must be a whole number from 1 to ${max}; got ${JSON.stringify(number)}`,
      );
    }
    return number as number;
  };
  const unknownLimit = Object.keys(limits).find((key) => !['memoryPages', 'timeMs', 'maxObjectBytes'].includes(key));
  if (unknownLimit)
    throw new PackageError(
      `manifest.limits.${unknownLimit} is not a limit; the limits are memoryPages, timeMs, maxObjectBytes`,
    );
  const memoryPages = whole('memoryPages', PACKAGE_LIMITS.memoryPages);
  const timeMs = whole('timeMs', PACKAGE_LIMITS.timeMs);
  if (m.argsSchema !== undefined) {
    const problems = schemaProblems(m.argsSchema, 'manifest.argsSchema');
    if (problems.length > 0) throw new PackageError(problems[0]);
  }
  const argsSchema = m.argsSchema as JsonSchema | undefined;
  if (isRun) {
    if (m.dataStage !== undefined)
      throw new PackageError('manifest.dataStage goes with the data-stage entryPoints only');
    if (limits.maxObjectBytes !== undefined)
      throw new PackageError('manifest.limits.maxObjectBytes goes with a data stage only');
    return {
      name,
      description: m.description as string | undefined,
      abi: 1,
      entryPoints: RUN_ENTRY_POINTS,
      limits: { memoryPages, timeMs },
      argsSchema,
    };
  }
  const stage = m.dataStage as Record<string, unknown> | undefined;
  if (typeof stage !== 'object' || stage === null || typeof stage.objectKeyArg !== 'string') {
    throw new PackageError(
      'manifest.dataStage must be {"objectKeyArg": "<the argument that names the object>"} with these entryPoints',
    );
  }
  const keyArg = stage.objectKeyArg;
  const keySchema = argsSchema?.properties?.[keyArg];
  if (!argsSchema || keySchema?.type !== 'string' || !argsSchema.required?.includes(keyArg)) {
    throw new PackageError(
      `manifest.argsSchema must make "${keyArg}" (manifest.dataStage.objectKeyArg) a required string`,
    );
  }
  const maxObjectBytes = whole('maxObjectBytes', PACKAGE_LIMITS.objectBytes);
  return {
    name,
    description: m.description as string | undefined,
    abi: 1,
    entryPoints: STAGE_ENTRY_POINTS,
    dataStage: { objectKeyArg: keyArg },
    limits: { memoryPages, timeMs, maxObjectBytes },
    argsSchema,
  };
}

const I32 = 'i32' as const;
const IMPORTS: Record<string, Signature> = {
  'strata.output': { params: [I32, I32], results: [] },
  'strata.fail': { params: [I32, I32], results: [] },
};
const EXPORTS: Record<string, Signature> = {
  alloc: { params: [I32], results: [I32] },
  run: { params: [I32, I32], results: [] },
  begin: { params: [I32, I32], results: [] },
  add: { params: [I32, I32], results: [] },
  end: { params: [], results: [] },
  finish: { params: [I32, I32, I32, I32], results: [] },
};

/** What the runtime needs of a checked module: its memory import's minimum. */
export interface CheckedModule {
  readonly memoryMinPages: number;
  readonly shape: ModuleShape;
}

/**
 * Checks a module against the ABI and its manifest (docs/functions.md): it compiles, it
 * imports env.memory and nothing outside the strata namespace, and it exports the entry
 * points the manifest names with their types. Throws PackageError naming what is wrong.
 */
export function checkModule(bytes: Uint8Array, manifest: Manifest): CheckedModule {
  if (bytes.byteLength > PACKAGE_LIMITS.moduleBytes) {
    throw new PackageError(
      `the module is ${bytes.byteLength} bytes; at most ${PACKAGE_LIMITS.moduleBytes} (4 MiB)`,
      413,
    );
  }
  let shape: ModuleShape;
  try {
    shape = moduleShape(bytes);
    // A memory of its own, even beside env.memory (multi-memory), would not be capped. Asked
    // before compiling: Node 20 does not compile a second memory, Node 22 (the nodes') does.
    if (shape.ownMemories > 0)
      throw new PackageError(
        'the module defines its own memory; it must import env.memory instead (so that Strata caps it)',
      );
    new WebAssembly.Module(bytes);
  } catch (error) {
    if (error instanceof ModuleFormatError || error instanceof WebAssembly.CompileError) {
      throw new PackageError(`the module is not valid WebAssembly (or is truncated): ${error.message}`);
    }
    throw error;
  }
  let memoryMinPages: number | undefined;
  for (const item of shape.imports) {
    const name = `${item.module}.${item.name}`;
    if (item.kind === 'memory' && name === 'env.memory') {
      if (item.shared) throw new PackageError('env.memory must not be shared memory');
      // The runtime gives the memory the manifest's cap as its maximum: a module that
      // declares a lower one would not link, and every call would fail.
      if (item.maxPages !== undefined && item.maxPages < manifest.limits.memoryPages) {
        throw new PackageError(
          `the module's env.memory declares a maximum of ${item.maxPages} pages, under manifest.limits.memoryPages (${manifest.limits.memoryPages}): declare no maximum, or lower memoryPages to it`,
        );
      }
      if (item.minPages > manifest.limits.memoryPages) {
        throw new PackageError(
          `the module's memory starts at ${item.minPages} pages, over manifest.limits.memoryPages (${manifest.limits.memoryPages}; at most ${PACKAGE_LIMITS.memoryPages})`,
        );
      }
      memoryMinPages = item.minPages;
      continue;
    }
    const wanted = IMPORTS[name];
    if (!wanted || item.kind !== 'function') {
      throw new PackageError(
        `the module imports ${name} (${item.kind}); a module may import only env.memory and ${Object.keys(IMPORTS).join(', ')}`,
      );
    }
    if (signatureText(item.type) !== signatureText(wanted)) {
      throw new PackageError(
        `the module imports ${name} as ${signatureText(item.type)}; the ABI's is ${signatureText(wanted)}`,
      );
    }
  }
  if (memoryMinPages === undefined) throw new PackageError('the module must import its memory as env.memory');
  // Tables live outside the memory cap, on the worker's heap: each needs a maximum, and
  // all of them together at most PACKAGE_LIMITS.tableElements.
  const unbounded = shape.ownTables.findIndex((table) => table.max === undefined);
  if (unbounded !== -1)
    throw new PackageError(
      `the module's table ${unbounded} has no maximum; declare one (its tables may hold ${PACKAGE_LIMITS.tableElements} elements in all)`,
    );
  const elements = shape.ownTables.reduce((sum, table) => sum + table.max!, 0);
  if (elements > PACKAGE_LIMITS.tableElements)
    throw new PackageError(
      `the module's tables may grow to ${elements} elements; at most ${PACKAGE_LIMITS.tableElements} in all (they are not in the memory cap)`,
    );
  for (const entry of ['alloc', ...manifest.entryPoints]) {
    const found = shape.functions.get(entry);
    if (!found) {
      throw new PackageError(
        `the module does not export "${entry}", which manifest.entryPoints ${JSON.stringify(manifest.entryPoints)} needs; it exports ${[...shape.functions.keys()].join(', ') || 'no function'}`,
      );
    }
    if (signatureText(found) !== signatureText(EXPORTS[entry])) {
      throw new PackageError(
        `the module exports "${entry}" as ${signatureText(found)}; the ABI's is ${signatureText(EXPORTS[entry])}`,
      );
    }
  }
  const extra =
    manifest.dataStage === undefined ? STAGE_ENTRY_POINTS.filter((entry) => shape.functions.has(entry)) : [];
  if (extra.length === STAGE_ENTRY_POINTS.length) {
    throw new PackageError(
      'the module exports a data stage (begin, add, end, finish) but manifest.entryPoints says ["run"]',
    );
  }
  return { memoryMinPages, shape };
}

function sameList(value: unknown, list: readonly string[]): boolean {
  return Array.isArray(value) && value.length === list.length && value.every((item, i) => item === list[i]);
}
