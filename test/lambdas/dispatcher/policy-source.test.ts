import { POLICY_KEY } from '../../../common/policy-setting';
import { policySource } from '../../../lambdas/dispatcher/handler';
import { redisForFile } from '../../support/redis';

// The dispatcher reads the live setting from Redis, and fills Redis from the durable store
// (SSM on AWS) only when the key is missing: against a real redis-server.
const redis = redisForFile();

test('a miss reads the durable setting once and caches it; a hit never reads it', async () => {
  let durableReads = 0;
  const durable = JSON.stringify({ version: 7, policies: {} });
  const source = policySource(
    (args) => redis.store.command(args),
    async () => {
      durableReads++;
      return durable;
    },
  );
  expect(await source()).toBe(durable);
  expect(await redis.store.command(['GET', POLICY_KEY])).toBe(durable);
  expect(await source()).toBe(durable);
  expect(durableReads).toBe(1);
});

test('a newer setting already in Redis is not overwritten by the fill (SET NX)', async () => {
  await redis.store.command(['SET', POLICY_KEY, '{"version":9}']);
  const source = policySource(
    (args) => redis.store.command(args),
    async () => '{"version":8}',
  );
  expect(await source()).toBe('{"version":9}');
});
