import { createHash } from 'node:crypto';
import type { CodeStore } from './code-store';
import { checkFunctionName, checkModule, type Manifest, PackageError, parseManifest } from './manifest';

/** One version of a function: made once, never changed. */
export interface VersionRecord {
  readonly name: string;
  readonly version: number;
  /** The module's SHA-256 (hex): where its bytes are, and what they must hash to. */
  readonly sha256: string;
  readonly moduleBytes: number;
  readonly manifest: Manifest;
  /** The module's memory import's minimum, in pages (the runtime makes the memory). */
  readonly memoryMinPages: number;
  readonly createdAt: string;
}

export interface AliasRecord {
  readonly version: number;
  readonly updatedAt: string;
}

/** What every dispatcher holds: each function's versions and aliases. */
export interface RegistryTable {
  readonly functions: Readonly<
    Record<
      string,
      { readonly versions: Readonly<Record<string, VersionRecord>>; readonly aliases: Readonly<Record<string, number>> }
    >
  >;
}

/** A function, version or alias that does not exist; the API answers 404. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** An unqualified name runs this alias when it exists, the newest version otherwise. */
export const DEFAULT_ALIAS = 'live';
const ALIAS = /^[a-z][a-z0-9-]{0,31}$/;
/** Deploys racing for one name each take the next free number; past this many lost races, give up. */
const MAX_VERSION_RACES = 32;

export const moduleKey = (sha256: string) => `modules/${sha256}.wasm`;
const versionKey = (name: string, version: number) =>
  `functions/${name}/versions/${String(version).padStart(8, '0')}.json`;
const aliasKey = (name: string, alias: string) => `functions/${name}/aliases/${alias}.json`;
/** What a removed function leaves: its last version number, so that a later deploy of the name never takes one again. */
const removedKey = (name: string) => `functions/${name}/removed.json`;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The durable registry of users' functions (docs/functions.md): modules by their hash,
 * immutable numbered versions, movable aliases. Every write is one object, written
 * whole, so a failure leaves nothing half-registered: the module first (a module no
 * version names is harmless), then the version record, then the alias.
 */
export class FunctionRegistry {
  constructor(
    private readonly store: CodeStore,
    /** Names no user function may take: the built-ins. */
    private readonly reserved: ReadonlySet<string> = new Set(),
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Checks and stores a new version; moves `alias` to it when asked. The module's bytes are checked against the ABI first. */
  async deploy(
    name: string,
    manifestValue: unknown,
    module: Uint8Array,
    alias?: string,
  ): Promise<{ record: VersionRecord; created: boolean }> {
    this.checkName(name);
    if (alias !== undefined) checkAlias(alias);
    const manifest = parseManifest(manifestValue);
    if (manifest.name !== name)
      throw new PackageError(`manifest.name is "${manifest.name}", but the deploy is for "${name}"`);
    const { memoryMinPages } = checkModule(module, manifest);
    const sha256 = sha256Hex(module);
    const existing = await this.versions(name);
    const same = existing.find(
      (record) => record.sha256 === sha256 && JSON.stringify(record.manifest) === JSON.stringify(manifest),
    );
    let record = same;
    if (!record) {
      if (!(await this.store.get(moduleKey(sha256)))) await this.store.put(moduleKey(sha256), Buffer.from(module));
      // Past every number the name ever had: a node keeps a version's record for good, so a
      // number taken again after a remove would run the removed function's code there.
      let version = Math.max(await this.lastRemovedVersion(name), ...existing.map((r) => r.version)) + 1;
      for (let race = 0; !record; race++, version++) {
        if (race === MAX_VERSION_RACES)
          throw new Error(`${MAX_VERSION_RACES} deploys of ${name} raced this one; try again`);
        const candidate: VersionRecord = {
          name,
          version,
          sha256,
          moduleBytes: module.byteLength,
          manifest,
          memoryMinPages,
          createdAt: this.now().toISOString(),
        };
        if (await this.store.create(versionKey(name, version), JSON.stringify(candidate))) record = candidate;
      }
    }
    if (alias !== undefined) await this.setAlias(name, alias, record.version);
    return { record, created: !same };
  }

  /** Every version of a function, oldest first (none for an unknown name). */
  async versions(name: string): Promise<VersionRecord[]> {
    const keys = (await this.store.list(`functions/${name}/versions/`)).sort();
    const records = await Promise.all(keys.map((key) => this.store.get(key)));
    return records
      .filter((body): body is Buffer => body !== undefined)
      .map((body) => JSON.parse(body.toString('utf8')) as VersionRecord);
  }

  /** One version, or NotFoundError. Versions never change, so callers may keep what this answers. */
  async version(name: string, version: number): Promise<VersionRecord> {
    const body = await this.store.get(versionKey(name, version));
    if (!body) throw new NotFoundError(`function ${name} has no version ${version}`);
    return JSON.parse(body.toString('utf8')) as VersionRecord;
  }

  async aliases(name: string): Promise<Record<string, number>> {
    const keys = await this.store.list(`functions/${name}/aliases/`);
    const entries = await Promise.all(
      keys.map(async (key) => {
        const body = await this.store.get(key);
        const alias = key.slice(key.lastIndexOf('/') + 1, -'.json'.length);
        return body ? ([alias, (JSON.parse(body.toString('utf8')) as AliasRecord).version] as const) : undefined;
      }),
    );
    return Object.fromEntries(entries.filter((entry) => entry !== undefined));
  }

  /** Points an alias at an existing version (a rollback is this, to an older one). */
  async setAlias(name: string, alias: string, version: number): Promise<AliasRecord> {
    checkAlias(alias);
    await this.version(name, version); // NotFoundError for a version that does not exist
    const record: AliasRecord = { version, updatedAt: this.now().toISOString() };
    await this.store.put(aliasKey(name, alias), JSON.stringify(record));
    return record;
  }

  /**
   * Removes a function: its last version number is kept first (removedKey), then its aliases
   * go (so none points at a missing version), then its versions. Modules stay, by hash.
   */
  async remove(name: string): Promise<{ versions: number }> {
    const aliases = await this.store.list(`functions/${name}/aliases/`);
    const versions = await this.versions(name);
    if (aliases.length === 0 && versions.length === 0) throw new NotFoundError(`no function ${name}`);
    const lastVersion = Math.max(await this.lastRemovedVersion(name), ...versions.map((r) => r.version));
    await this.store.put(removedKey(name), JSON.stringify({ lastVersion, removedAt: this.now().toISOString() }));
    for (const key of aliases) await this.store.delete(key);
    for (const record of versions) await this.store.delete(versionKey(name, record.version));
    return { versions: versions.length };
  }

  /** The last version number of the name before it was last removed; 0 if it never was. */
  private async lastRemovedVersion(name: string): Promise<number> {
    const body = await this.store.get(removedKey(name));
    return body ? (JSON.parse(body.toString('utf8')) as { lastVersion: number }).lastVersion : 0;
  }

  async names(): Promise<string[]> {
    const keys = await this.store.list('functions/');
    return [...new Set(keys.map((key) => key.split('/')[1]))].sort();
  }

  /** Everything, as the dispatchers hold it. */
  async table(): Promise<RegistryTable> {
    const functions: Record<string, RegistryTable['functions'][string]> = {};
    for (const name of await this.names()) {
      const versions = await this.versions(name);
      if (versions.length === 0) continue;
      functions[name] = {
        versions: Object.fromEntries(versions.map((record) => [String(record.version), record])),
        aliases: await this.aliases(name),
      };
    }
    return { functions };
  }

  /** A module's bytes, checked against the hash that names them. */
  async module(sha256: string): Promise<Uint8Array> {
    const bytes = await this.store.get(moduleKey(sha256));
    if (!bytes) throw new NotFoundError(`no module ${sha256}`);
    if (sha256Hex(bytes) !== sha256)
      throw new Error(`module ${sha256} in ${this.store.location} does not hash to its name`);
    return bytes;
  }

  private checkName(name: string): void {
    checkFunctionName(name);
    if (this.reserved.has(name)) throw new PackageError(`${name} is a built-in function; choose another name`);
  }
}

function checkAlias(alias: string): void {
  if (!ALIAS.test(alias) || /^\d/.test(alias)) {
    throw new PackageError(
      `alias must be 1 to 32 characters of a-z, 0-9 and -, starting with a letter; got ${JSON.stringify(alias)}`,
    );
  }
}

/**
 * Resolves `name`, `name:alias` or `name:3` in a table: the version it runs, or
 * NotFoundError naming what is missing.
 */
export function resolveIn(table: RegistryTable, reference: string): VersionRecord {
  const [name, qualifier] = splitReference(reference);
  const entry = Object.hasOwn(table.functions, name) ? table.functions[name] : undefined;
  if (!entry) throw new NotFoundError(`no function "${name}"`);
  let version: number | undefined;
  if (qualifier === undefined) {
    version = entry.aliases[DEFAULT_ALIAS] ?? Math.max(...Object.keys(entry.versions).map(Number));
  } else if (/^\d+$/.test(qualifier)) {
    version = Number(qualifier);
  } else {
    version = entry.aliases[qualifier];
    if (version === undefined) throw new NotFoundError(`function ${name} has no alias "${qualifier}"`);
  }
  const record = entry.versions[String(version)];
  if (!record) throw new NotFoundError(`function ${name} has no version ${version}`);
  return record;
}

/** `grep:live` -> ['grep', 'live']; `grep` -> ['grep', undefined] */
export function splitReference(reference: string): [string, string | undefined] {
  const at = reference.indexOf(':');
  return at === -1 ? [reference, undefined] : [reference.slice(0, at), reference.slice(at + 1)];
}
