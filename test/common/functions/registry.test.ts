import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_NAMES } from '../../../common/functions/builtins';
import { FolderCodeStore } from '../../../common/functions/code-store';
import {
  FunctionDirectory,
  MemoryRegistryCache,
  publishTable,
  RedisRegistryCache,
} from '../../../common/functions/directory';
import { PackageError } from '../../../common/functions/manifest';
import { FunctionRegistry, NotFoundError, resolveIn } from '../../../common/functions/registry';
import { RedisStateStore } from '../../../common/state';
import { compileWat } from '../../../local/functions-build';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';

const manifest = (name: string) => ({ name, abi: 1, entryPoints: ['run'], limits: { memoryPages: 1, timeMs: 1000 } });
/** A valid module whose bytes differ by `n`: each a new version. */
const moduleNumber = (n: number) =>
  compileWat(`(module (import "env" "memory" (memory 1))
    (func (export "alloc") (param i32) (result i32) (i32.const ${n})) (func (export "run") (param i32 i32)))`);
const freshRegistry = () => {
  const store = new FolderCodeStore(mkdtempSync(join(tmpdir(), 'strata-registry-')));
  return { store, registry: new FunctionRegistry(store, BUILTIN_NAMES) };
};

describe('the registry: versions never change, aliases move', () => {
  test('each deploy of new bytes is a new version; the same package again is the same version', async () => {
    const { registry } = freshRegistry();
    const first = await registry.deploy('f', manifest('f'), await moduleNumber(1), 'live');
    const second = await registry.deploy('f', manifest('f'), await moduleNumber(2));
    const again = await registry.deploy('f', manifest('f'), await moduleNumber(2));
    expect([first.record.version, first.created, second.record.version, again.record.version, again.created]).toEqual([
      1,
      true,
      2,
      2,
      false,
    ]);
    expect(await registry.aliases('f')).toEqual({ live: 1 });
    const table = await registry.table();
    expect(resolveIn(table, 'f').version).toBe(1); // the unqualified name runs `live`
    expect(resolveIn(table, 'f:2').sha256).toBe(second.record.sha256);
    await registry.setAlias('f', 'live', 2);
    expect(resolveIn(await registry.table(), 'f:live').version).toBe(2);
    await registry.setAlias('f', 'live', 1); // rollback
    expect(resolveIn(await registry.table(), 'f').version).toBe(1);
    expect(Buffer.from(await registry.module(first.record.sha256))).toEqual(Buffer.from(await moduleNumber(1)));
  });

  test('ten deploys racing for one name each get a version of their own, and none is lost', async () => {
    const { registry } = freshRegistry();
    const modules = await Promise.all(Array.from({ length: 10 }, (_, i) => moduleNumber(i + 1)));
    const results = await Promise.all(modules.map((module) => registry.deploy('race', manifest('race'), module)));
    expect(results.map((result) => result.record.version).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    const versions = await registry.versions('race');
    expect(new Set(versions.map((record) => record.sha256)).size).toBe(10);
  });

  test('refusals leave nothing half-registered: a bad module, a built-in name, a name mismatch, an alias to a missing version', async () => {
    const { registry, store } = freshRegistry();
    await expect(registry.deploy('f', manifest('f'), Buffer.from('not wasm'))).rejects.toThrow(PackageError);
    await expect(registry.deploy('wordcount', manifest('wordcount'), await moduleNumber(1))).rejects.toThrow(
      'wordcount is a built-in function; choose another name',
    );
    await expect(registry.deploy('g', manifest('f'), await moduleNumber(1))).rejects.toThrow(
      'manifest.name is "f", but the deploy is for "g"',
    );
    expect(await store.list('')).toEqual([]);
    await registry.deploy('f', manifest('f'), await moduleNumber(1));
    await expect(registry.setAlias('f', 'live', 7)).rejects.toThrow(new NotFoundError('function f has no version 7'));
    await expect(registry.setAlias('f', '7up', 1)).rejects.toThrow(/alias must be 1 to 32 characters/);
    expect(await registry.aliases('f')).toEqual({});
  });

  test('remove takes the aliases first, then the versions; the name is gone', async () => {
    const { registry } = freshRegistry();
    await registry.deploy('f', manifest('f'), await moduleNumber(1), 'live');
    expect(await registry.remove('f')).toEqual({ versions: 1 });
    expect(await registry.table()).toEqual({ functions: {} });
    await expect(registry.remove('f')).rejects.toThrow(NotFoundError);
    // Deployed again (another module, maybe another owner): a number the name never had, since
    // a node keeps each version's record for good and would run the removed code under it.
    const again = await registry.deploy('f', manifest('f'), await moduleNumber(2), 'live');
    expect(again.record.version).toBe(2);
    await registry.remove('f');
    expect((await registry.deploy('f', manifest('f'), await moduleNumber(3))).record.version).toBe(3);
    expect(resolveIn(await registry.table(), 'f').sha256).toBe((await registry.version('f', 3)).sha256);
  });
});

describe('the directory: built-ins and the registry, cached', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 60_000);
  afterAll(() => redis?.stop());

  test('a new name is found at once (a miss looks again, at most every 100 ms); a moved alias at the next refresh', async () => {
    const { registry } = freshRegistry();
    const cache = new MemoryRegistryCache();
    let now = 0;
    const directory = new FunctionDirectory({ cache, registry, refreshMs: 1000, now: () => now });
    expect((await directory.resolve('wordcount')).kind).toBe('builtin');
    await expect(directory.resolve('f')).rejects.toThrow('no function "f"');
    await registry.deploy('f', manifest('f'), await moduleNumber(1), 'live');
    await publishTable(registry, cache);
    now += 50;
    await expect(directory.resolve('f')).rejects.toThrow(NotFoundError); // looked 50 ms ago
    now += 50;
    expect(await directory.resolve('f')).toMatchObject({ kind: 'wasm', name: 'f', version: 1 });
    await registry.deploy('f', manifest('f'), await moduleNumber(2), 'live');
    await publishTable(registry, cache);
    now += 999; // since the look at 100 ms
    expect(await directory.resolve('f')).toMatchObject({ version: 1 }); // found, so no early look
    now += 1;
    expect(await directory.resolve('f')).toMatchObject({ version: 2 });
    await expect(directory.resolve('wordcount:live')).rejects.toThrow(
      'wordcount is a built-in function: it has no versions or aliases',
    );
  });

  test('on a real Redis: a second dispatcher learns of a change by one small read, and a flushed Redis loses no function', async () => {
    const { registry } = freshRegistry();
    const store = await RedisStateStore.connect({ url: redis.url });
    try {
      const cache = new RedisRegistryCache((command) => store.command(command));
      await registry.deploy('f', manifest('f'), await moduleNumber(1), 'live');
      await publishTable(registry, cache);
      let now = 0;
      const directory = new FunctionDirectory({ cache, registry, refreshMs: 1000, now: () => now });
      expect((await directory.resolve('f')).kind).toBe('wasm');
      const sent = store.commandsSent;
      now += 1000;
      await directory.resolve('f');
      expect(store.commandsSent - sent).toBe(1); // unchanged: one GET of the hash
      await store.command(['FLUSHALL']);
      await registry.deploy('f', manifest('f'), await moduleNumber(2), 'live'); // a change the cache never heard of
      now += 1000;
      expect(await directory.resolve('f')).toMatchObject({ version: 2 }); // refilled from the registry
      expect(await store.command(['EXISTS', '{strata}:functions:table'])).toBe(1);
    } finally {
      await store.close();
    }
  });
});
