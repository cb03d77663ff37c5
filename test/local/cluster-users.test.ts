import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisStateStore } from '../../common/state';
import { aclFile, STATE_ROLES, type StateRole, stateUser, urlWithUser } from '../../common/state/access';
import { LocalCluster } from '../../local/cluster';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { call, corpusFolder, json } from '../support/cluster';

// The cluster on a Redis with the roles' users (as the emulated fleet runs it, and as on
// AWS): the dispatcher, the functions API and every node connect as their own user; the
// harness as a user of its own. An invocation runs end to end, and a user function deploys.
const passwords = Object.fromEntries(STATE_ROLES.map((role) => [role, randomBytes(24).toString('hex')])) as Record<
  StateRole,
  string
>;
const operator = randomBytes(24).toString('hex');
let redis: RedisServer;
let cluster: LocalCluster;

beforeAll(async () => {
  const hash = createHash('sha256').update(operator).digest('hex');
  redis = await startRedisServer({ acl: `${aclFile(passwords)}user operator on #${hash} ~* &* +@all\n` });
  cluster = await LocalCluster.start({
    redisUrl: urlWithUser(redis.url, 'operator', operator),
    redisUsers: Object.fromEntries(
      STATE_ROLES.map((role) => [role, urlWithUser(redis.url, stateUser(role), passwords[role])]),
    ) as Record<StateRole, string>,
    objects: { folder: await corpusFolder() },
    functionsFolder: mkdtempSync(join(tmpdir(), 'strata-functions-')),
    computeNodes: 2,
    slots: 2,
    offloadPolicy: 'always',
    storageThresholds: { cpu: 1, memory: 1, loadPerCore: 1000 },
  });
  await cluster.waitForNodes();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
});

test('each role connects as its own user; invocations and the functions routes work, nothing refused', async () => {
  const answer = await call(cluster.url, 'POST', '/invoke/wordcount', { key: 'corpus/small.txt' });
  expect(answer.status).toBe(200);
  expect(json(answer).words).toBeGreaterThan(0);
  expect((await call(cluster.url, 'GET', '/functions')).status).toBe(200);
  const admin = cluster.state as RedisStateStore;
  const users = String(await admin.command(['CLIENT', 'LIST']))
    .split('\n')
    .map((line) => /\buser=(\S+)/.exec(line)?.[1])
    .filter((user): user is string => user !== undefined);
  // Two compute nodes, one storage node, the dispatcher (its decisions and its functions
  // directory), the functions API, and the harness.
  expect(users.filter((user) => user === 'strata-compute')).toHaveLength(2);
  expect(users.filter((user) => user === 'strata-storage')).toHaveLength(1);
  expect(users).toEqual(expect.arrayContaining(['strata-dispatcher', 'strata-functions-api', 'operator']));
  expect(users.filter((user) => user === 'default')).toEqual([]);
  expect(await admin.command(['ACL', 'LOG'])).toEqual([]);
});
