import { RedisStateStore } from '../../common/state';
import { type RedisServer, startRedisServer } from '../../local/redis-server';

/**
 * A real redis-server for a test file, and a RedisStateStore on it: started before the
 * file's tests, closed after them. Call it at the top of the file; read `server` and
 * `store` inside the tests (they are set by then).
 */
export function redisForFile(): { readonly server: RedisServer; readonly store: RedisStateStore } {
  const held = {} as { server: RedisServer; store: RedisStateStore };
  beforeAll(async () => {
    held.server = await startRedisServer();
    held.store = await RedisStateStore.connect({ url: held.server.url });
  });
  afterAll(async () => {
    await held.store?.close();
    await held.server?.stop();
  });
  return held;
}
