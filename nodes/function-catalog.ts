import type { FunctionRegistry, VersionRecord } from '../common/functions/registry';
import { schemaViolation } from '../common/functions/schema';
import { findFunction, InputError } from '../functions';
import { RUN_BUDGET_MS } from '../functions/limits';
import type { FunctionTarget } from './pool';

/** A function as a node runs it: a trusted built-in, or one version of a user's WebAssembly function. */
export interface NodeFunction {
  readonly name: string;
  /** The user function's version; undefined for a built-in. */
  readonly version?: number;
  /** For messages: `grep (version 3)`. */
  readonly label: string;
  readonly target: FunctionTarget;
  /** How long the function's own work may take, stage and finish together. */
  readonly timeMs: number;
  readonly dataStage?: { objectKey(args: unknown): string; readonly maxObjectBytes: number };
  /** Checks a request body; throws InputError naming the field. */
  parse(body: unknown): unknown;
}

/** How many compiled modules a node keeps; a module past it is compiled again on its next call. */
const COMPILED_MODULES = 64;

/**
 * The functions a node can run. Built-ins are in the bundle; a user's version is read
 * from the durable registry once (versions never change) and its module fetched by hash
 * and compiled once per node, then handed to whichever slot runs it.
 */
export class FunctionCatalog {
  private readonly records = new Map<string, Promise<VersionRecord>>();
  private readonly compiled = new Map<string, Promise<WebAssembly.Module>>();

  constructor(private readonly registry?: FunctionRegistry) {}

  /** The function, or undefined when there is no such built-in, function or version. */
  async find(name: string, version?: number): Promise<NodeFunction | undefined> {
    if (version === undefined) {
      const fn = findFunction(name);
      if (!fn) return undefined;
      return {
        name: fn.name,
        label: fn.name,
        target: { runtime: 'builtin', name: fn.name },
        timeMs: RUN_BUDGET_MS,
        dataStage: fn.dataStage && {
          objectKey: (args) => fn.dataStage!.objectKey(args),
          maxObjectBytes: fn.dataStage.maxObjectBytes,
        },
        parse: (body) => fn.parse(body),
      };
    }
    if (!this.registry) return undefined;
    const record = await this.record(name, version);
    if (!record) return undefined;
    const { manifest } = record;
    const module = await this.module(record);
    return {
      name,
      version,
      label: `${name} (version ${version})`,
      target: {
        runtime: 'wasm',
        module,
        limits: { memoryMinPages: record.memoryMinPages, memoryPages: manifest.limits.memoryPages },
      },
      timeMs: manifest.limits.timeMs,
      dataStage: manifest.dataStage && {
        objectKey: (args) => String((args as Record<string, unknown>)[manifest.dataStage!.objectKeyArg]),
        maxObjectBytes: manifest.limits.maxObjectBytes!,
      },
      parse: (body) => {
        const problem = schemaViolation(manifest.argsSchema ?? { type: 'object' }, body);
        if (problem) throw new InputError(problem);
        return body;
      },
    };
  }

  private async record(name: string, version: number): Promise<VersionRecord | undefined> {
    const key = `${name}:${version}`;
    let record = this.records.get(key);
    if (!record) {
      record = this.registry!.version(name, version);
      this.records.set(key, record);
      record.catch(() => this.records.delete(key)); // not found now may be found later
    }
    return record.catch((error: Error) => {
      if (error.name === 'NotFoundError') return undefined;
      throw error;
    });
  }

  /** Compiled once per node; the least recently used past COMPILED_MODULES is let go. */
  private module(record: VersionRecord): Promise<WebAssembly.Module> {
    let compiled = this.compiled.get(record.sha256);
    if (compiled) {
      this.compiled.delete(record.sha256); // to the back of the line
    } else {
      compiled = this.registry!.module(record.sha256).then((bytes) => WebAssembly.compile(bytes));
      compiled.catch(() => this.compiled.delete(record.sha256));
    }
    this.compiled.set(record.sha256, compiled);
    while (this.compiled.size > COMPILED_MODULES) this.compiled.delete(this.compiled.keys().next().value!);
    return compiled;
  }
}
