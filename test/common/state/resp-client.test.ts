import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { RespClient } from '../../../common/state/resp-client';
import { startRedisServer, type RedisServer } from '../../../local/redis-server';

/**
 * A Redis whose host froze or lost its power keeps its connections open and answers
 * nothing: no reset ever comes. The client must give up by itself, or every decision
 * waits on it and the dispatcher never falls back to what it last knew.
 */
describe('RespClient when the server goes silent', () => {
  let redis: RedisServer;
  let silent: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    redis = await startRedisServer();
    silent = createServer((socket) => {
      sockets.add(socket); // accepts, reads, never answers
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await redis?.stop();
  });

  it('fails a first connection whose AUTH gets no answer', async () => {
    const { port } = silent.address() as AddressInfo;
    await expect(RespClient.connect({ url: `redis://:token@127.0.0.1:${port}`, replyTimeoutMs: 300 })).rejects.toThrow(/did not answer within 300 ms/);
  });

  it('fails every pending command of a frozen server, then reconnects once it answers again', async () => {
    const client = await RespClient.connect({ url: redis.url, replyTimeoutMs: 300 });
    try {
      expect(await client.send(['PING'])).toBe('PONG');
      redis.freeze();
      const pending = [client.send(['PING']), client.send(['SET', 'k', 'v'])];
      for (const reply of pending) await expect(reply).rejects.toThrow(/connection was lost: the state store did not answer within 300 ms/);
      await new Promise((resolve) => setTimeout(resolve, 500)); // a reconnect or two meanwhile: TCP connects, the PING gets no answer
      expect(client.isOpen).toBe(false);
      await expect(client.send(['PING'])).rejects.toThrow(/connection is down/); // fails at once, no queue
      redis.thaw();
      while (!client.isOpen) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await client.send(['PING'])).toBe('PONG');
    } finally {
      redis.thaw();
      await client.close();
    }
  });
});
