/**
 * Users' functions end to end on the local cluster (real processes, real HTTP): deploy
 * through the API, invoke through the dispatcher, versions and aliases, a data stage
 * offloaded to the storage node, and the hostile suite of docs/functions.md — each
 * hostile module gets a 4xx or a function error, never a platform 5xx, and the slot
 * comes back and the node goes on serving.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ForwardResponse } from '../../common/http/forward';
import { FolderObjectStore } from '../../common/object-store';
import { LocalCluster } from '../../local/cluster';
import { CORPUS } from '../../local/corpus';
import { buildFunction, compileWat, EXAMPLES_DIR } from '../../local/functions-build';
import { call, corpusFolder, json } from '../support/cluster';
import { goodDataStage, HOSTILE_CASES, hostileModule } from '../support/wasm/hostile';

let cluster: LocalCluster;
let objects: string;

/** A module whose run answers `{"v":N}`: versions that tell themselves apart. */
const versionModule = (n: number) =>
  compileWat(`(module (import "env" "memory" (memory 1)) (import "strata" "output" (func $out (param i32 i32)))
    (data (i32.const 0) "{\\"v\\":${n}}")
    (func (export "alloc") (param i32) (result i32) (i32.const 64))
    (func (export "run") (param i32 i32) (call $out (i32.const 0) (i32.const ${`{"v":${n}}`.length}))))`);
/** A module whose run spins `iterations` times before it answers: a call that takes a while. */
const slowModule = (iterations: number) =>
  compileWat(`(module (import "env" "memory" (memory 1)) (import "strata" "output" (func $out (param i32 i32)))
    (data (i32.const 0) "{}")
    (func (export "alloc") (param i32) (result i32) (i32.const 64))
    (func (export "run") (param i32 i32) (local $i i32)
      (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const ${iterations}))))
      (call $out (i32.const 0) (i32.const 2))))`);
const RUN = (name: string, timeMs = 5000) => ({
  name,
  abi: 1,
  entryPoints: ['run'],
  limits: { memoryPages: 1, timeMs },
});

const deploy = (name: string, manifest: unknown, module: Uint8Array, alias?: string) =>
  call(cluster.url, 'PUT', `/functions/${name}`, { manifest, module: Buffer.from(module).toString('base64'), alias });
const invoke = (name: string, body: unknown = {}) => call(cluster.url, 'POST', `/invoke/${name}`, body);

/** After a heartbeat: every slot of every node free again, and each node's /health 200. */
async function slotsBackAndHealthy(): Promise<{ slotsUsed: number; healthy: boolean }> {
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const nodes = await cluster.state.liveNodes();
  const health = await Promise.all(
    nodes.map((node) => call(`http://${node.address}`, 'GET', '/health').then((reply) => reply.status)),
  );
  return {
    slotsUsed: nodes.reduce((sum, node) => sum + node.slotsUsed, 0),
    healthy: health.every((status) => status === 200),
  };
}

beforeAll(async () => {
  objects = await corpusFolder();
  cluster = await LocalCluster.start({
    computeNodes: 1,
    storageNodes: 1,
    slots: 2,
    objects: { folder: objects },
    functionsFolder: mkdtempSync(join(tmpdir(), 'strata-functions-')),
    // The storage node takes every data stage it is offered, however busy the machine is.
    offloadThresholds: { cpu: 1, memory: 1, loadPerCore: 1000 },
    heartbeatMs: 500,
  });
  await cluster.waitForNodes();
}, 120_000);

afterAll(() => cluster?.stop());

describe('deploy, invoke, alias, roll back', () => {
  test('a new version runs once its alias moves to it; moving the alias back rolls back; a version is addressable as name:N', async () => {
    expect((await deploy('hello', RUN('hello'), await versionModule(1), 'live')).status).toBe(201);
    expect(json(await invoke('hello'))).toEqual({ v: 1 });
    const second = await deploy('hello', RUN('hello'), await versionModule(2));
    expect([second.status, json(second).version]).toEqual([201, 2]);
    expect(json(await invoke('hello'))).toEqual({ v: 1 }); // `live` still names version 1
    expect(json(await invoke('hello:2'))).toEqual({ v: 2 });
    expect((await call(cluster.url, 'PUT', '/functions/hello/aliases/live', { version: 2 })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 600)); // the dispatcher's refresh
    expect(json(await invoke('hello'))).toEqual({ v: 2 });
    const back = await call(cluster.url, 'PUT', '/functions/hello/aliases/live', { version: 1 });
    expect(json(back)).toMatchObject({ alias: 'live', version: 1, previous: 2 });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const rolledBack = await invoke('hello');
    expect([json(rolledBack), rolledBack.headers['x-strata-function-version']]).toEqual([{ v: 1 }, '1']);
    expect(json(await call(cluster.url, 'GET', '/functions/hello'))).toMatchObject({
      versions: [{ version: 1 }, { version: 2 }],
      aliases: { live: 1 },
    });
  }, 60_000);

  test('the grep example: its data stage streams the object next to the data, with the answer a plain count gives', async () => {
    const grep = await buildFunction(join(EXAMPLES_DIR, 'grep'));
    expect((await deploy('grep', grep.manifest, grep.module, 'live')).status).toBe(201);
    const text = (await new FolderObjectStore(objects).get(CORPUS.large.key)).toString('utf8');
    const lines = text.split('\n');
    const expected = lines.filter((line) => line.includes('love')).length;
    // Offered to the storage node until it takes one (it refuses while this shared machine is over its thresholds).
    const tiers: string[] = [];
    const until = Date.now() + 60_000;
    while (!tiers.includes('offloaded:s1') && Date.now() < until) {
      const reply = await invoke('grep', { key: CORPUS.large.key, pattern: 'love' });
      expect(reply.status).toBe(200);
      expect(json(reply)).toMatchObject({ matches: expected });
      tiers.push(String(reply.headers['x-strata-tier3']));
    }
    expect(tiers).toContain('offloaded:s1');
  }, 120_000);

  test('arguments the schema refuses: 400 naming the field; an unknown function or version: 404', async () => {
    expect([
      (await invoke('grep', { key: CORPUS.small.key })).status,
      json(await invoke('grep', { key: 'k' })),
    ]).toEqual([400, { error: 'args.pattern is required', function: 'grep' }]);
    expect(json(await invoke('nothing'))).toMatchObject({ error: 'no function "nothing"' });
    expect((await invoke('hello:9')).status).toBe(404);
    expect((await invoke('hello:beta')).status).toBe(404);
  });
});

describe('hostile modules: a 4xx or a function error, never a platform 5xx; the slot comes back and the node serves on', () => {
  test.each(HOSTILE_CASES.filter((item) => item.expected.at === 'deploy').map((item) => [item.name, item.what]))(
    '%s (%s): refused at deploy, naming the fault, nothing registered',
    async (name) => {
      const item = await hostileModule(name);
      const reply = await deploy(name, item.manifest, item.module);
      expect(reply.status).toBe(400);
      expect(String(json(reply).error)).toMatch(item.expected.at === 'deploy' ? item.expected.message : /never/);
      expect((await call(cluster.url, 'GET', `/functions/${name}`)).status).toBe(404);
    },
  );

  test.each(HOSTILE_CASES.filter((item) => item.expected.at === 'invoke').map((item) => [item.name, item.what]))(
    '%s (%s): the function error, then the slot back and the node healthy',
    async (name) => {
      const item = await hostileModule(name);
      expect((await deploy(name, item.manifest, item.module)).status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const reply = await invoke(name);
      const expected = item.expected as { status: number; kind: string };
      expect([reply.status, reply.headers['x-strata-function-error'], json(reply).function]).toEqual([
        expected.status,
        expected.kind,
        name,
      ]);
      expect(await slotsBackAndHealthy()).toEqual({ slotsUsed: 0, healthy: true });
      expect(json(await invoke('hello'))).toEqual({ v: 1 });
    },
    60_000,
  );

  test('two hostile calls at once fill both slots; both come back, and a good call then runs', async () => {
    const replies = await Promise.all([invoke('hostile-infinite-loop'), invoke('hostile-deep-recursion')]);
    expect(replies.map((reply) => reply.status).sort()).toEqual([424, 504]);
    expect(await slotsBackAndHealthy()).toEqual({ slotsUsed: 0, healthy: true });
    expect((await invoke('hello')).status).toBe(200);
  }, 60_000);

  test('a truncated module and bytes that are not WebAssembly: 400; a module over 4 MiB: 413; a 100 MB upload: 413 at the API', async () => {
    const good = await versionModule(3);
    const truncated = await deploy('cut', RUN('cut'), good.subarray(0, good.length - 5));
    expect([truncated.status, String(json(truncated).error)]).toEqual([
      400,
      expect.stringMatching(/not valid WebAssembly \(or is truncated\)/),
    ]);
    expect((await deploy('text', RUN('text'), Buffer.from('(module)'))).status).toBe(400);
    const big = await deploy('big', RUN('big'), Buffer.alloc(4 * 1024 * 1024 + 1));
    expect([big.status, String(json(big).error)]).toEqual([413, expect.stringMatching(/at most 4194304 \(4 MiB\)/)]);
    const huge: ForwardResponse = await call(
      cluster.url,
      'PUT',
      '/functions/huge',
      Buffer.alloc(100 * 1024 * 1024, 0x41),
    );
    expect(huge.status).toBe(413);
    expect((await call(cluster.url, 'GET', '/functions')).status).toBe(200);
  }, 60_000);

  test('a manifest or a name Strata refuses: 400 naming the field', async () => {
    const module = await versionModule(4);
    expect(json(await deploy('Bad_Name', RUN('Bad_Name'), module))).toEqual({
      error: 'name must be 1 to 64 characters of a-z, 0-9 and -, starting with a letter; got "Bad_Name"',
    });
    expect(json(await deploy('x', { ...RUN('x'), limits: { memoryPages: 1, timeMs: 99_999 } }, module))).toEqual({
      error: 'manifest.limits.timeMs must be a whole number from 1 to 20000; got 99999',
    });
    expect(json(await deploy('wordcount', RUN('wordcount'), module)).error).toBe(
      'wordcount is a built-in function; choose another name',
    );
  });

  test('two deploys racing for one name: both land, as versions 1 and 2', async () => {
    const [a, b] = await Promise.all([
      deploy('raced', RUN('raced'), await versionModule(5)),
      deploy('raced', RUN('raced'), await versionModule(6)),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect([json(a).version, json(b).version].sort()).toEqual([1, 2]);
  });

  test('an alias to a version that does not exist: 404, and the alias is not made', async () => {
    const reply = await call(cluster.url, 'PUT', '/functions/raced/aliases/live', { version: 9 });
    expect([reply.status, json(reply).error]).toEqual([404, 'function raced has no version 9']);
    expect(json(await call(cluster.url, 'GET', '/functions/raced')).aliases).toEqual({});
  });

  test('a function removed while invocations of it run: they finish; the next is 404', async () => {
    expect((await deploy('slow', RUN('slow'), await slowModule(300_000_000))).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const running = invoke('slow');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(json(await call(cluster.url, 'DELETE', '/functions/slow'))).toEqual({ name: 'slow', removed: 1 });
    expect((await running).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await invoke('slow')).status).toBe(404);
  }, 60_000);

  test('a data stage of a good module runs on the storage node and on the compute node alike', async () => {
    const { manifest, module } = await goodDataStage();
    expect((await deploy('count-bytes', manifest, module)).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const size = (await new FolderObjectStore(objects).get(CORPUS.small.key)).length;
    const reply = await invoke('count-bytes', { key: CORPUS.small.key });
    expect(json(reply)).toEqual({ bytes: size });
  });
});
