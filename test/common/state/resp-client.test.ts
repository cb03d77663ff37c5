import { createServer } from 'node:net';
import { RespClient } from '../../../common/state/resp-client';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';
import { type OnLoopback, onLoopback } from '../../support/loopback';

/**
 * A Redis whose host froze or lost its power keeps its connections open and answers
 * nothing: no reset ever comes. The client must give up by itself, or every decision
 * waits on it and the dispatcher never falls back to what it last knew.
 */
describe('RespClient when the server goes silent', () => {
  let redis: RedisServer;
  let silent: OnLoopback;

  beforeAll(async () => {
    redis = await startRedisServer();
    silent = await onLoopback(createServer(() => undefined)); // accepts, reads, never answers
  });

  afterAll(async () => {
    await silent?.close();
    await redis?.stop();
  });

  it('reads replies that arrive a byte at a time: nested arrays, nulls, empty arrays and errors, in order', async () => {
    const replies = ['+PONG\r\n', '*3\r\n*2\r\n$1\r\na\r\n:5\r\n$-1\r\n*0\r\n', '-ERR boom\r\n', '$5\r\nhello\r\n'];
    const dripping = await onLoopback(
      createServer((socket) => {
        socket.setNoDelay(true);
        let next = 0;
        socket.on('data', async (data) => {
          const commands = String(data).split('*').length - 1; // one reply per command, in order
          for (let c = 0; c < commands; c++) {
            for (const byte of replies[next++]) {
              socket.write(byte);
              await new Promise((resolve) => setTimeout(resolve, 1));
            }
          }
        });
      }),
    );
    const client = await RespClient.connect({ url: `redis://${dripping.address}` });
    try {
      expect(await client.send(['EVALSHA', 'x', '0'])).toEqual([['a', 5], null, []]);
      await expect(client.send(['EVALSHA', 'y', '0'])).rejects.toThrow('ERR boom');
      expect(await client.send(['GET', 'k'])).toBe('hello');
    } finally {
      await client.close();
      await dripping.close();
    }
  });

  it('fails a first connection whose AUTH gets no answer', async () => {
    await expect(RespClient.connect({ url: `redis://:token@${silent.address}`, replyTimeoutMs: 300 })).rejects.toThrow(
      /did not answer within 300 ms/,
    );
  });

  it('fails every pending command of a frozen server, then reconnects once it answers again', async () => {
    const client = await RespClient.connect({ url: redis.url, replyTimeoutMs: 300 });
    try {
      expect(await client.send(['PING'])).toBe('PONG');
      redis.freeze();
      const pending = [client.send(['PING']), client.send(['SET', 'k', 'v'])];
      for (const reply of pending)
        await expect(reply).rejects.toThrow(/connection was lost: the state store did not answer within 300 ms/);
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
