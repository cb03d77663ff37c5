import { createHash, randomBytes } from 'node:crypto';
import {
  INDEXED_RULES,
  type IndexedSelection,
  type InvocationStrategy,
  invocationStrategy,
  type Selection,
} from '@strata/policy-engine';
import { FunctionDirectory, RedisRegistryCache } from '../../../common/functions/directory';
import { POLICY_KEY, redisSettingSource } from '../../../common/policy-setting';
import { syncLearning } from '../../../common/shared-learning';
import { RedisStateStore } from '../../../common/state';
import {
  accessString,
  aclFile,
  STATE_ROLES,
  type StateRole,
  stateUser,
  urlWithUser,
} from '../../../common/state/access';
import { RespClient } from '../../../common/state/resp-client';
import { FleetView } from '../../../lambdas/dispatcher/fleet-view';
import { policySource } from '../../../lambdas/dispatcher/handler';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';
import { nodes } from '../../support/nodes';
import { report } from './contract';

// A real redis-server with the roles' users (common/state/access.ts), the default user off,
// and an administrator of the test's own to read the ACL log.
const passwords = Object.fromEntries(STATE_ROLES.map((role) => [role, randomBytes(24).toString('hex')])) as Record<
  StateRole,
  string
>;
const adminPassword = randomBytes(24).toString('hex');
let server: RedisServer;
let admin: RespClient;
const open: RedisStateStore[] = [];

beforeAll(async () => {
  const hash = createHash('sha256').update(adminPassword).digest('hex');
  server = await startRedisServer({ acl: `${aclFile(passwords)}user admin on #${hash} ~* &* +@all\n` });
  admin = await RespClient.connect({ url: urlWithUser(server.url, 'admin', adminPassword) });
});

afterAll(async () => {
  await Promise.all(open.map((store) => store.close()));
  await admin?.close();
  await server?.stop();
});

beforeEach(async () => {
  await admin.send(['FLUSHALL']);
  await admin.send(['ACL', 'LOG', 'RESET']);
});

async function connectAs(role: StateRole): Promise<RedisStateStore> {
  const store = await RedisStateStore.connect({ url: urlWithUser(server.url, stateUser(role), passwords[role]) });
  open.push(store);
  return store;
}

/** What the server refused since the test began: each `user command key`. */
async function refusals(): Promise<string[]> {
  const log = (await admin.send(['ACL', 'LOG'])) as (string | number)[][];
  return log.map((entry) => {
    const fields = new Map<string, string | number>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    return `${fields.get('username')} ${fields.get('reason')} ${fields.get('object')}`;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every rule a reservation can name: the engine's indexed rules, and the three over a candidate list. */
function everySelection(ids: readonly string[]): Selection[] {
  const indexed = Object.keys(INDEXED_RULES).map(
    (rule) =>
      ({
        kind: 'select',
        rule,
        cursor: 'rr',
        draws: [0.2, 0.7],
        quantile: 0.5,
        hash: 12345,
        stepSeed: 678,
        exclude: [ids[0]],
      }) as unknown as IndexedSelection,
  );
  const candidates = ids.map((id) => ({ id, limit: 4 }));
  return [
    ...indexed,
    { kind: 'select', rule: 'in-order', candidates },
    { kind: 'select', rule: 'rotate', cursor: 'rotate', candidates },
    { kind: 'select', rule: 'fewest-in-flight', sample: 2, candidates },
  ] as Selection[];
}

/** A storage node's life as its agent and node base run it: heartbeats, the storage list, a deregistration. */
async function storageWork(store: RedisStateStore): Promise<void> {
  await store.heartbeat(report('s1', { role: 'storage', address: '10.0.1.1:9100' }), 3000);
  await store.heartbeat(report('s2', { role: 'storage', address: '10.0.1.2:9100', serviceMs: 4 }), 3000);
  expect((await store.storageNodes()).map((node) => node.id)).toEqual(['s1', 's2']);
  // The placement map for tier 3 by locality (nodes/storage/placement.ts), published when the OSD map moved.
  expect(await store.publishPlacement(3, '{"poolId":2,"pgNum":1,"bucketMarker":"m","hosts":["10.0.1.1"]}')).toBe(true);
  await store.deregister('s2');
}

/** A compute node's: heartbeats (its own figures, then ones that expire), tier 3's storage list, a peer reserved by every rule and released, a drain. */
async function computeWork(store: RedisStateStore): Promise<void> {
  const ids = ['c1', 'c2', 'c3'];
  for (const [i, id] of ids.entries())
    await store.heartbeat(
      report(id, { slotsTotal: 4, serviceMs: 5 + i, functionServiceMs: { wordcount: 3 + i } }),
      3000,
    );
  await store.storageNodes();
  // Tier 3 by locality: the placement map the storage agents published, then only its version.
  const placement = await store.placement();
  expect(placement?.map).toEqual(expect.any(String));
  expect(await store.placement(placement?.version)).toEqual({ version: placement?.version });
  for (const selection of everySelection(ids)) {
    const peer = await store.reserve(selection, 3000);
    expect(peer.kind).toBe('chosen');
    if (peer.kind === 'chosen') await peer.release();
  }
  // A node and a lease that run out: the next script sweeps them (remove, give back).
  await store.heartbeat(report('c9', { slotsTotal: 4 }), 30);
  await store.reserve(everySelection(['c9'])[0] as Selection, 30);
  await sleep(80);
  await store.deregister('c3');
  // The live policy setting, one GET a refresh (nodes/compute/main.ts).
  expect(await redisSettingSource((command) => store.command(command))()).toEqual(expect.any(String));
}

/** The dispatcher's: the fleet as the strategies read it (the membership log, or every node's figures), every rule reserved and released, the functions directory's cache. */
async function dispatcherWork(store: RedisStateStore): Promise<void> {
  for (const reads of ['membership', 'figures'] as const) {
    const view = new FleetView({ connect: async () => store, reads: () => reads, now: () => Date.now() });
    expect((await view.liveNodes()).length).toBeGreaterThan(0);
    await sleep(5);
    await view.liveNodes();
  }
  await store.membership(0);
  for (const selection of everySelection(['c1', 'c2'])) {
    const reservation = await store.reserve(selection, 50);
    if (reservation.kind === 'chosen') await reservation.release();
  }
  await store.reserve(everySelection(['c1'])[0] as Selection, 20); // a lease it never releases
  await sleep(60);
  await store.membership(0); // the sweep gives it back
  // The functions directory: the first container finds the cache empty and fills it from the
  // registry (GET, MSET); the next reads the table there (GET, MGET).
  const directory = () =>
    new FunctionDirectory({
      cache: new RedisRegistryCache((command) => store.command(command)),
      registry: { table: async () => ({ functions: {} }) },
    });
  for (const container of [directory(), directory()]) {
    expect(await container.names()).toContain('wordcount');
    await expect(container.resolve('grep')).rejects.toThrow(/grep/);
  }
  expect(await store.command(['GET', '{strata}:functions:hash'])).toEqual(expect.any(String));
  // The live policy setting: filled from SSM when missing (SET NX), read each refresh, and
  // published again when `strata policy set` asks (SET).
  const setting = JSON.stringify({ version: 1 });
  const source = policySource(
    (command) => store.command(command),
    async () => setting,
  );
  expect(await source()).toBe(setting);
  expect(await source()).toBe(setting);
  await store.command(['SET', POLICY_KEY, setting]);
  // What the adaptive strategy learns, merged into the shared state: a window's counters added, then the state rolled.
  const adaptive = invocationStrategy('adaptive') as InvocationStrategy &
    Required<Pick<InvocationStrategy, 'observe' | 'learning'>>;
  const now = Date.now();
  adaptive(nodes(2), { functionName: 'f', hops: 0 }, { now, random: Math.random, heartbeatTtlMs: 3000 });
  adaptive.observe(now, 12, now);
  await syncLearning((command) => store.command(command), adaptive.learning, now);
  await syncLearning((command) => store.command(command), adaptive.learning, now + 5000);
}

/** The functions API's: writes the directory's cache after a change, and reads it back. */
async function functionsApiWork(store: RedisStateStore): Promise<void> {
  const cache = new RedisRegistryCache((command) => store.command(command));
  const hash = await cache.write({ functions: {} });
  expect((await cache.read()).hash).toBe(hash);
}

describe('each role connects as its own user and does all its work, with nothing refused', () => {
  test('storage, compute, dispatcher and functions API, in the order a fleet starts', async () => {
    await storageWork(await connectAs('storage'));
    await dispatcherWork(await connectAs('dispatcher')); // it publishes the policy setting the nodes read
    await computeWork(await connectAs('compute'));
    await functionsApiWork(await connectAs('functions-api'));
    expect(await refusals()).toEqual([]);
  });
});

/** A refusal for lack of rights: NOPERM, or inside a script, the script's error saying so. */
const REFUSED = /^NOPERM|^ERR The user executing the script can't (run this command|access at least one of the keys)/;

/** The command is refused for lack of rights. */
async function refused(store: RedisStateStore, command: string[]): Promise<void> {
  await expect(store.command(command)).rejects.toThrow(REFUSED);
}

describe('each role is refused what it does not run', () => {
  const EVERYONE_REFUSED = [
    ['FLUSHALL'],
    ['FLUSHDB'],
    ['CONFIG', 'GET', '*'],
    ['CONFIG', 'SET', 'maxmemory', '1'],
    ['KEYS', '*'],
    ['SCAN', '0'],
    ['SCRIPT', 'FLUSH'],
    ['EVAL', 'return 1', '0'],
    ['ACL', 'SETUSER', 'intruder', 'on', '>intruder-password', '~*', '+@all'],
    ['CLIENT', 'KILL', 'TYPE', 'normal'],
    ['REPLICAOF', '127.0.0.1', '1'],
  ];

  test.each(STATE_ROLES)('%s: no administration, no key listing, no script of its own', async (role) => {
    const store = await connectAs(role);
    for (const command of EVERYONE_REFUSED) await refused(store, command);
    await refused(store, ['DEL', '{strata}:elsewhere']);
  });

  test('the dispatcher cannot write a node record: no heartbeat, no HSET, no epoch', async () => {
    const store = await connectAs('dispatcher');
    await expect(store.heartbeat(report('fake', { address: '203.0.113.9:8080' }), 3000)).rejects.toThrow(REFUSED);
    await refused(store, ['HSET', '{strata}:node:fake', 'address', '203.0.113.9:8080']);
    await refused(store, ['DEL', '{strata}:epochs']);
  });

  test.each(['compute', 'storage'] as const)('%s node: the functions directory is out of its reach', async (role) => {
    const store = await connectAs(role);
    await refused(store, ['GET', '{strata}:functions:hash']);
    await refused(store, ['MSET', '{strata}:functions:hash', 'x', '{strata}:functions:table', '{}']);
    await refused(store, ['DEL', '{strata}:functions:table']);
  });

  test('the live policy setting: the dispatcher publishes it, a compute node only reads it, the others neither', async () => {
    await refused(await connectAs('compute'), ['SET', POLICY_KEY, '{}']);
    for (const role of ['storage', 'functions-api'] as const) {
      await refused(await connectAs(role), ['GET', POLICY_KEY]);
      await refused(await connectAs(role), ['SET', POLICY_KEY, '{}']);
    }
  });

  test('the placement map: storage agents publish it, compute nodes read it, the dispatcher and functions API neither', async () => {
    const map = '{"poolId":2,"pgNum":1,"bucketMarker":"m","hosts":["10.0.1.1"]}';
    await (await connectAs('storage')).publishPlacement(3, map);
    for (const role of ['dispatcher', 'functions-api'] as const) {
      await expect((await connectAs(role)).placement()).rejects.toThrow(REFUSED);
      await expect((await connectAs(role)).publishPlacement(4, map)).rejects.toThrow(REFUSED);
      await refused(await connectAs(role), ['HGET', '{strata}:placement', 'map']);
    }
  });

  test('a storage node cannot reserve by a cursor or rank the index (it never reserves)', async () => {
    const compute = await connectAs('compute');
    await compute.heartbeat(report('c1', { slotsTotal: 4 }), 3000);
    const store = await connectAs('storage');
    const rotate = everySelection(['c1']).find((selection) => selection.rule === 'rotate')!;
    await expect(store.reserve(rotate)).rejects.toThrow(REFUSED);
    await refused(store, ['ZRANK', '{strata}:free', 'c1']);
  });

  test('the functions API reaches the directory cache and nothing of the fleet', async () => {
    const compute = await connectAs('compute');
    await compute.heartbeat(report('c1'), 3000);
    const store = await connectAs('functions-api');
    await expect(store.liveNodes()).rejects.toThrow(REFUSED);
    await refused(store, ['GET', '{strata}:version']);
    await refused(store, ['HSET', '{strata}:node:c1', 'address', '203.0.113.9:8080']);
    await refused(store, ['DEL', '{strata}:node:c1']);
    expect(Number(await admin.send(['EXISTS', '{strata}:node:c1']))).toBe(1);
  });

  test('the default user is off: a client that names no user, or a wrong password, gets nothing', async () => {
    await expect(RespClient.connect({ url: server.url })).rejects.toThrow(/NOAUTH|connection/i);
    await expect(
      RespClient.connect({ url: urlWithUser(server.url, stateUser('compute'), 'not-the-password') }),
    ).rejects.toThrow();
    await expect(
      RespClient.connect({ url: `redis://:${passwords.compute}@127.0.0.1:${server.port}` }),
    ).rejects.toThrow();
  });
});

describe('access strings', () => {
  test.each(STATE_ROLES)(
    '%s: only the syntax ElastiCache RBAC takes, no wildcard key or command category but -@all',
    (role) => {
      const rules = accessString(role).split(' ');
      expect(rules[0]).toBe('on');
      for (const rule of rules.slice(1)) expect(rule).toMatch(/^(~\{strata\}[a-z:*-]*|-@all|\+[a-z]+(\|[a-z]+)?)$/);
      expect(rules).not.toContain('~*');
      expect(rules.filter((rule) => rule.startsWith('+@'))).toEqual([]);
    },
  );

  test('a key prefix of its own (a cell, a benchmark) gets the same rights on its own keys', () => {
    // The live policy setting is one key whatever the prefix, in cell 0's slot.
    expect(accessString('compute', 'cell-2')).toBe(
      accessString('compute').replaceAll('{strata}', '{cell-2}').replace('~{cell-2}:policy', '~{strata}:policy'),
    );
  });
});
