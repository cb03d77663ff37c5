import { POLICY_KEY } from '../../../common/policy-setting';
import { RedisStateStore } from '../../../common/state';
import { policySource } from '../../../lambdas/dispatcher/handler';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';

// The dispatcher reads the live setting from Redis, and fills Redis from the durable store
// (SSM on AWS) only when the key is missing: against a real redis-server.
let redis: RedisServer;
let store: RedisStateStore;
beforeAll(async () => {
  redis = await startRedisServer();
  store = await RedisStateStore.connect({ url: redis.url });
});
afterAll(async () => {
  await store?.close();
  await redis?.stop();
});

test('a miss reads the durable setting once and caches it; a hit never reads it', async () => {
  let durableReads = 0;
  const durable = JSON.stringify({ version: 7, policies: {} });
  const source = policySource(
    (args) => store.command(args),
    async () => {
      durableReads++;
      return durable;
    },
  );
  expect(await source()).toBe(durable);
  expect(await store.command(['GET', POLICY_KEY])).toBe(durable);
  expect(await source()).toBe(durable);
  expect(durableReads).toBe(1);
});

test('a newer setting already in Redis is not overwritten by the fill (SET NX)', async () => {
  await store.command(['SET', POLICY_KEY, '{"version":9}']);
  const source = policySource(
    (args) => store.command(args),
    async () => '{"version":8}',
  );
  expect(await source()).toBe('{"version":9}');
});
