import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ForwardError, forward } from '../../../common/http/forward';

/**
 * How a forward between nodes ends when the peer is not there: each kind of failure is
 * bounded by the caller's budget, and says whether the peer may have run the invocation
 * (only 'not-delivered' is safe to send to another node).
 */
describe('forward', () => {
  const sockets = new Set<Socket>();
  const servers: (Server | HttpServer)[] = [];
  let backlogFull: ChildProcess | undefined;

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    backlogFull?.kill();
  });

  async function listen(server: Server | HttpServer): Promise<string> {
    servers.push(server);
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: ForwardError) => ({ kind: error.kind, message: error.message }));

  it('answers the whole reply of a node', async () => {
    const address = await listen(createHttpServer((req, res) => req.resume().on('end', () => res.end('{"ok":true}'))));
    const reply = await forward({ address, path: '/invoke/sleep', body: '{}', timeoutMs: 1000 });
    expect([reply.status, reply.body.toString()]).toEqual([200, '{"ok":true}']);
  });

  it('counts time queued for one of the 256 pooled sockets against the deadline, not the connect timeout', async () => {
    const address = await listen(createHttpServer((req, res) => req.resume().on('end', () => setTimeout(() => res.end('ok'), 400))));
    const replies = await Promise.all(Array.from({ length: 300 }, () => forward({ address, path: '/', timeoutMs: 10_000, connectTimeoutMs: 200 }).then((reply) => reply.status, (error: ForwardError) => error.message)));
    expect(replies).toEqual(Array(300).fill(200)); // the last 44 waited ~400 ms for a socket
  });

  it('is not-delivered when nothing listens', async () => {
    const address = await listen(createServer());
    await new Promise((resolve) => servers.pop()!.close(resolve)); // the port is free again
    expect(await failure(forward({ address, path: '/', timeoutMs: 1000 }))).toMatchObject({ kind: 'not-delivered' });
  });

  it('is not-delivered when no SYN is answered (a host that lost its power), within the connect timeout', async () => {
    // A listener that never accepts, with a backlog of 0: once one connection waits in its
    // queue, the kernel drops every new SYN, as a powered-off host's silence.
    backlogFull = spawn('python3', ['-c', "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)"]);
    const port = await new Promise<number>((resolve) => backlogFull!.stdout!.once('data', (data) => resolve(Number(String(data).trim()))));
    const queued = connect(port, '127.0.0.1');
    sockets.add(queued);
    await new Promise((resolve) => queued.once('connect', resolve));
    expect(await failure(forward({ address: `127.0.0.1:${port}`, path: '/', timeoutMs: 20_000, connectTimeoutMs: 300 }))).toEqual({
      kind: 'not-delivered',
      message: `not-delivered forwarding to 127.0.0.1:${port}: no connection within 300 ms`,
    });
  });

  it('times out a node that took the request and answers nothing (it may have run it)', async () => {
    const address = await listen(createServer(() => undefined));
    expect(await failure(forward({ address, path: '/', timeoutMs: 300 }))).toMatchObject({ kind: 'timeout', message: expect.stringContaining('timed out after 300 ms') });
  });

  it('times out at the deadline a node that answers a byte at a time (never idle)', async () => {
    const address = await listen(
      createHttpServer((_request, res) => {
        res.writeHead(200, { 'content-length': '1000' });
        const drip = setInterval(() => res.write('x'), 50);
        res.on('close', () => clearInterval(drip));
      }),
    );
    expect(await failure(forward({ address, path: '/', timeoutMs: 500 }))).toMatchObject({ kind: 'timeout', message: expect.stringContaining('timed out after 500 ms') });
  });
});
