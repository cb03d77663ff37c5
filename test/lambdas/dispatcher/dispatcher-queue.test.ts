import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invocationStrategy } from '@strata/policy-engine';
import { MemoryStateStore, RedisStateStore, type Reserved, type StateStore } from '../../../common/state';
import { Dispatcher } from '../../../lambdas/dispatcher/dispatcher';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';
import { report } from '../../common/state/contract';
import { invokeEvent } from '../../support/events';

// The dispatcher's queue on the memory store and on a real redis-server (a system test:
// dispatcher.test.ts, in the unit project, needs no redis-server).
const invoke = invokeEvent();

describe('the dispatcher while every node is full', () => {
  let server: Server;
  let redis: RedisServer;
  let ran: number[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
    // A node of one slot on loopback: records which invocation it ran, in order, each taking 15 ms.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        ran.push(JSON.parse(body).ms);
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 15);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server?.close();
    await redis?.stop();
  });

  test.each([
    ['one dispatcher (a local cluster), over the in-memory store', 'one', 'memory'],
    ['a dispatcher for each invocation (Lambda containers), the order kept in a real redis-server', 'each', 'redis'],
  ] as const)(
    'invocations queue in the order they arrived, with %s: the longest waiting takes each slot as it frees, here or elsewhere',
    async (_, dispatchers, kind) => {
      ran = [];
      const store: StateStore =
        kind === 'memory'
          ? new MemoryStateStore()
          : await RedisStateStore.connect({ url: redis.url, keyPrefix: `queue-${randomUUID()}` });
      const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      await store.heartbeat(report('a', { address, slotsTotal: 1 }), 60_000);
      // Another dispatcher holds the one slot: its release is seen here only by asking.
      const elsewhere = (await store.reserve({ kind: 'select', rule: 'least-outstanding' })) as Reserved;
      const dispatcher = () =>
        new Dispatcher({
          connect: async () => store,
          strategyName: 'least-outstanding',
          strategy: invocationStrategy('least-outstanding'),
        });
      const shared = dispatcher();
      const replies: Promise<{ statusCode: number }>[] = [];
      for (let n = 0; n < 8; n++) {
        const by = dispatchers === 'one' ? shared : dispatcher();
        replies.push(by.handle(invokeEvent(JSON.stringify({ ms: n }))));
        await new Promise((resolve) => setTimeout(resolve, 7)); // each waiter asks and pauses before the next arrives
      }
      await elsewhere.release();
      expect((await Promise.all(replies)).map((reply) => reply.statusCode)).toEqual(Array(8).fill(200));
      expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await store.close();
    },
  );

  test.each([
    ['the in-memory store', 'memory'],
    ['a real redis-server', 'redis'],
  ] as const)(
    'an invocation that gives up at the queue timeout leaves no place behind it, with %s: the next one is not held back',
    async (_, kind) => {
      const store: StateStore =
        kind === 'memory'
          ? new MemoryStateStore()
          : await RedisStateStore.connect({ url: redis.url, keyPrefix: `give-up-${randomUUID()}` });
      const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      await store.heartbeat(report('a', { address, slotsTotal: 1 }), 60_000);
      const elsewhere = (await store.reserve({ kind: 'select', rule: 'least-outstanding' })) as Reserved;
      const dispatcher = new Dispatcher({
        connect: async () => store,
        strategyName: 'least-outstanding',
        strategy: invocationStrategy('least-outstanding'),
        queueTimeoutMs: 60,
      });
      expect((await dispatcher.handle(invoke)).statusCode).toBe(503);
      await elsewhere.release();
      await new Promise((resolve) => setTimeout(resolve, 5));
      // A later invocation (another container) finds the freed slot: no place of the one that gave up is ahead of it.
      const place = { id: randomUUID(), since: Date.now(), holdMs: 750 };
      const next = await store.reserve({ kind: 'select', rule: 'least-outstanding' }, 1000, place);
      expect(next.kind).toBe('chosen');
      await store.close();
    },
  );
});
