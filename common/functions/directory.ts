import { createHash } from 'node:crypto';
import type { RespValue } from '../state/resp-client';
import { BUILTINS, type BuiltinEntry } from './builtins';
import {
  type FunctionRegistry,
  NotFoundError,
  type RegistryTable,
  resolveIn,
  splitReference,
  type VersionRecord,
} from './registry';
import type { JsonSchema } from './schema';

/** What an invocation names, as the dispatcher needs it: how to check its arguments, which object it reads, what to run. */
export type ResolvedFunction =
  | { readonly kind: 'builtin'; readonly name: string; readonly objectKeyArg?: string; readonly argsSchema: JsonSchema }
  | {
      readonly kind: 'wasm';
      readonly name: string;
      readonly version: number;
      readonly objectKeyArg?: string;
      readonly argsSchema?: JsonSchema;
      readonly record: VersionRecord;
    };

/**
 * The registry's table, cached in the shared state so that a dispatcher learns of a deploy
 * with one small read (the table's hash) a refresh, and reads the table only when it
 * changed. The durable registry stays the truth: an empty cache (a new or a flushed Redis)
 * is filled again from it.
 */
export interface RegistryCache {
  /** The cached table's hash, and the table when its hash differs from `knownHash`; `{}` when nothing is cached. */
  read(knownHash?: string): Promise<{ hash?: string; table?: RegistryTable }>;
  /** Caches a table; answers its hash. */
  write(table: RegistryTable): Promise<string>;
}

export function tableHash(table: RegistryTable): string {
  return createHash('sha256').update(JSON.stringify(table)).digest('hex');
}

/** The cache inside one process: the embedded default, where the deploy API and the dispatcher share a process. */
export class MemoryRegistryCache implements RegistryCache {
  private cached: { hash: string; table: RegistryTable } | undefined;

  async read(knownHash?: string): Promise<{ hash?: string; table?: RegistryTable }> {
    if (!this.cached) return {};
    return this.cached.hash === knownHash ? { hash: knownHash } : { ...this.cached };
  }

  async write(table: RegistryTable): Promise<string> {
    this.cached = { hash: tableHash(table), table };
    return this.cached.hash;
  }
}

/** The cache in Redis, beside the state store's keys (same hash tag): two keys, written together with MSET. */
export class RedisRegistryCache implements RegistryCache {
  private readonly hashKey: string;
  private readonly tableKey: string;

  constructor(
    private readonly send: (command: string[]) => Promise<RespValue>,
    keyPrefix = 'strata',
  ) {
    this.hashKey = `{${keyPrefix}}:functions:hash`;
    this.tableKey = `{${keyPrefix}}:functions:table`;
  }

  async read(knownHash?: string): Promise<{ hash?: string; table?: RegistryTable }> {
    const hash = await this.send(['GET', this.hashKey]);
    if (typeof hash !== 'string') return {};
    if (hash === knownHash) return { hash };
    const [again, table] = (await this.send(['MGET', this.hashKey, this.tableKey])) as (string | null)[];
    if (typeof again !== 'string' || typeof table !== 'string') return {};
    return { hash: again, table: JSON.parse(table) as RegistryTable };
  }

  async write(table: RegistryTable): Promise<string> {
    const hash = tableHash(table);
    await this.send(['MSET', this.hashKey, hash, this.tableKey, JSON.stringify(table)]);
    return hash;
  }
}

/**
 * After a change to the registry: caches its table. Two changes at once may each cache
 * a table that misses the other's; so it reads the registry again after writing, and
 * writes again until what it wrote is what the registry holds.
 */
export async function publishTable(registry: FunctionRegistry, cache: RegistryCache): Promise<string> {
  let table = await registry.table();
  for (let round = 0; ; round++) {
    const hash = await cache.write(table);
    const now = await registry.table();
    if (tableHash(now) === hash || round === 4) return hash;
    table = now;
  }
}

export interface FunctionDirectoryOptions {
  readonly cache?: RegistryCache;
  /** The durable registry, read when the cache is empty or unreachable. @default none: built-ins only */
  readonly registry?: Pick<FunctionRegistry, 'table'>;
  /** How old the table may be before a lookup checks the cache again. @default 1000 */
  readonly refreshMs?: number;
  readonly now?: () => number;
  /** A refresh failed; the last table is kept. */
  readonly onError?: (error: Error) => void;
}

/** How often a name that is not found may make the directory look again before its refresh is due. */
const MISS_REFRESH_MS = 100;
/** Names whose last miss is kept; past it the record starts again (a bound on memory, not on reads). */
const MISSES_KEPT = 1024;

/**
 * The dispatcher's lookup of every function: the built-ins, and users' functions from the
 * registry's table, refreshed as membership is (a small read at most once a refresh).
 */
export class FunctionDirectory {
  private table: RegistryTable | undefined;
  private hash: string | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;
  /** When each name last made the directory look again on a miss. */
  private readonly missedAt = new Map<string, number>();
  private readonly builtins = new Map<string, BuiltinEntry>(BUILTINS.map((entry) => [entry.name, entry]));

  constructor(private readonly options: FunctionDirectoryOptions = {}) {}

  /** `grep`, `grep:live`, `grep:3`, or a built-in's name; NotFoundError naming what is missing. */
  async resolve(reference: string): Promise<ResolvedFunction> {
    const builtin = this.builtins.get(reference);
    if (builtin) return { kind: 'builtin', ...builtin };
    const [name] = splitReference(reference);
    if (this.builtins.has(name))
      throw new NotFoundError(`${name} is a built-in function: it has no versions or aliases`);
    await this.refresh();
    let record: VersionRecord;
    try {
      record = resolveIn(this.table ?? { functions: {} }, reference);
    } catch (error) {
      // A miss may be a deploy made since the last refresh: look again at once, for each name
      // at most every MISS_REFRESH_MS (a caller asking for a missing name again and again
      // costs the cache one small read a tenth of a second).
      if (!(error instanceof NotFoundError) || !this.mayLookAgain(reference)) throw error;
      await this.refresh(true);
      record = resolveIn(this.table ?? { functions: {} }, reference);
    }
    const { manifest } = record;
    return {
      kind: 'wasm',
      name: record.name,
      version: record.version,
      objectKeyArg: manifest.dataStage?.objectKeyArg,
      argsSchema: manifest.argsSchema,
      record,
    };
  }

  /** The names a caller may use: built-ins and users' functions. */
  async names(): Promise<string[]> {
    await this.refresh();
    return [...this.builtins.keys(), ...Object.keys(this.table?.functions ?? {})].sort();
  }

  private mayLookAgain(reference: string): boolean {
    const now = this.now();
    if (now - (this.missedAt.get(reference) ?? Number.NEGATIVE_INFINITY) < MISS_REFRESH_MS) return false;
    if (this.missedAt.size >= MISSES_KEPT) this.missedAt.clear();
    this.missedAt.set(reference, now);
    return true;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async refresh(force = false): Promise<void> {
    const now = this.now();
    if (!force && now - this.checkedAt < (this.options.refreshMs ?? 1000)) return;
    this.refreshing ??= this.load()
      .then(() => {
        this.checkedAt = now;
      })
      .catch((error: Error) => this.options.onError?.(error))
      .finally(() => {
        this.refreshing = undefined;
      });
    await this.refreshing;
  }

  private async load(): Promise<void> {
    const { cache, registry } = this.options;
    let cached: { hash?: string; table?: RegistryTable };
    try {
      cached = cache ? await cache.read(this.hash) : {};
    } catch (error) {
      if (this.table || !registry) throw error;
      this.table = await registry.table(); // the cache is down and nothing is known yet: ask the truth, cache nothing
      return;
    }
    if (cached.table) {
      this.table = cached.table;
      this.hash = cached.hash;
    } else if (cached.hash === undefined && registry) {
      // Nothing cached: a new or flushed store. The registry is the truth; cache it for the others.
      this.table = await registry.table();
      this.hash = cache ? await cache.write(this.table) : tableHash(this.table);
    }
  }
}

export { NotFoundError };
