import { type ChildProcess, spawn } from 'node:child_process';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { type ForwardError, forward } from '../../../common/http/forward';
import { type OnLoopback, onLoopback } from '../../support/loopback';

/**
 * How a forward between nodes ends when the peer is not there: each kind of failure is
 * bounded by the caller's budget, and says whether the peer may have run the invocation
 * (only 'not-delivered' is safe to send to another node).
 */
describe('forward', () => {
  const servers: OnLoopback[] = [];
  let backlogFull: ChildProcess | undefined;
  let queued: ReturnType<typeof connect> | undefined;

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    queued?.destroy();
    backlogFull?.kill();
  });

  async function listen(server: Server | HttpServer): Promise<string> {
    const started = await onLoopback(server);
    servers.push(started);
    return started.address;
  }

  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: ForwardError) => ({ kind: error.kind, message: error.message }),
    );

  it('answers the whole reply of a node', async () => {
    const address = await listen(createHttpServer((req, res) => req.resume().on('end', () => res.end('{"ok":true}'))));
    const reply = await forward({ address, path: '/invoke/sleep', body: '{}', timeoutMs: 1000 });
    expect([reply.status, reply.body.toString()]).toEqual([200, '{"ok":true}']);
  });

  it('counts time queued for one of the 256 pooled sockets against the deadline, not the connect timeout', async () => {
    const address = await listen(
      createHttpServer((req, res) => req.resume().on('end', () => setTimeout(() => res.end('ok'), 400))),
    );
    const replies = await Promise.all(
      Array.from({ length: 300 }, () =>
        forward({ address, path: '/', timeoutMs: 10_000, connectTimeoutMs: 200 }).then(
          (reply) => reply.status,
          (error: ForwardError) => error.message,
        ),
      ),
    );
    expect(replies).toEqual(Array(300).fill(200)); // the last 44 waited ~400 ms for a socket
  });

  it('is not-delivered when nothing listens', async () => {
    const address = await listen(createServer());
    await servers.pop()!.close(); // the port is free again
    expect(await failure(forward({ address, path: '/', timeoutMs: 1000 }))).toMatchObject({ kind: 'not-delivered' });
  });

  it('is not-delivered when no SYN is answered (a host that lost its power), within the connect timeout', async () => {
    // A listener that never accepts, with a backlog of 0: once one connection waits in its
    // queue, the kernel drops every new SYN, as a powered-off host's silence.
    backlogFull = spawn('python3', [
      '-c',
      "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)",
    ]);
    const port = await new Promise<number>((resolve) =>
      backlogFull!.stdout!.once('data', (data) => resolve(Number(String(data).trim()))),
    );
    queued = connect(port, '127.0.0.1');
    await new Promise((resolve) => queued!.once('connect', resolve));
    expect(
      await failure(forward({ address: `127.0.0.1:${port}`, path: '/', timeoutMs: 20_000, connectTimeoutMs: 300 })),
    ).toEqual({
      kind: 'not-delivered',
      message: `not-delivered forwarding to 127.0.0.1:${port}: no connection within 300 ms`,
    });
  });

  it('times out a node that took the request and answers nothing (it may have run it)', async () => {
    const address = await listen(createServer(() => undefined));
    expect(await failure(forward({ address, path: '/', timeoutMs: 300 }))).toMatchObject({
      kind: 'timeout',
      message: expect.stringContaining('timed out after 300 ms'),
    });
  });

  it('times out at the deadline a node that answers a byte at a time (never idle)', async () => {
    const address = await listen(
      createHttpServer((_request, res) => {
        res.writeHead(200, { 'content-length': '1000' });
        const drip = setInterval(() => res.write('x'), 50);
        res.on('close', () => clearInterval(drip));
      }),
    );
    expect(await failure(forward({ address, path: '/', timeoutMs: 500 }))).toMatchObject({
      kind: 'timeout',
      message: expect.stringContaining('timed out after 500 ms'),
    });
  });
});
