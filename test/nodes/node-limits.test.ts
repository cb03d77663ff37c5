import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MemoryStateStore } from '../../common/state';
import { serveStateStore } from '../../local/shared-state';
import { NODE_HTTP_LIMITS } from '../../nodes/node-base';
import { checkPeerRule, peerAllowed } from '../../nodes/peers';
import { corpusFolder } from '../support/cluster';

/** POSTs a body to the node; resolves with the status and the body. */
function post(address: string, path: string, body: string | Buffer): Promise<{ status: number; body: string }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        agent: false, // a connection each, closed after the answer: none stays open to count against the limit
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves when the server closes the socket (read to its end: a paused socket never sees it). */
const closed = (socket: Socket) =>
  new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.resume();
  });

let store: MemoryStateStore;
let state: Awaited<ReturnType<typeof serveStateStore>>;
let node: ChildProcess;
let address: string;
let trap: Server;
let trapped = 0;

// A real node process, as on a host: the state URL (with the state server's token) in its
// environment, the peer rule in its flags.
beforeAll(async () => {
  trap = createServer((_req, res) => {
    trapped++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}');
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  store = new MemoryStateStore();
  state = await serveStateStore(store);
  node = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, '..', '..', 'nodes', 'compute', 'main.ts'),
      '--id',
      'c1',
      '--slots',
      '1',
      '--objects',
      await corpusFolder(),
      '--peers',
      '127.0.0.0/8',
      '--peer-ports',
      '8080,8081',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRATA_STATE_URL: state.url } },
  );
  let stderr = '';
  node.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: node.stdout! }).on(
      'line',
      (line) => line.startsWith('ready ') && resolve(line.slice('ready '.length)),
    );
    node.once('exit', (code) => reject(new Error(`the compute node exited with ${code}: ${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  node?.kill('SIGKILL');
  await new Promise((resolve) => trap.close(resolve));
  await new Promise((resolve) => state.server.close(resolve));
});

describe('a compute node and the peers the shared state names', () => {
  test('forwards nothing to an address outside its rule (here, a port that is no node port): it answers 503 itself', async () => {
    const port = (trap.address() as { port: number }).port;
    // What a client with write rights in the state store could register: "peers" with every
    // slot free, their heartbeats kept fresh (policies skip a peer whose heartbeat is old).
    const fake = (id: string, peer: string) =>
      store.heartbeat(
        {
          id,
          address: peer,
          role: 'compute',
          slotsTotal: 64,
          slotsUsed: 0,
          cpuBusy: 0,
          memoryUsed: 0,
          load1: 0,
          load5: 0,
          load15: 0,
          cores: 2,
          heartbeatAt: Date.now(),
          draining: false,
        },
        60_000,
      );
    const beat = () => Promise.all([fake('fake', `127.0.0.1:${port}`), fake('outside', '203.0.113.9:8080')]);
    await beat();
    const beating = setInterval(() => void beat(), 50);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the node's next view of its peers
    const busy = post(address, '/invoke/sleep', '{"ms":2000}');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await post(address, '/invoke/sleep', '{"ms":1}');
    clearInterval(beating);
    expect(second.status).toBe(503);
    expect(trapped).toBe(0);
    expect((await busy).status).toBe(200);
  });
});

describe("a node's HTTP server limits", () => {
  test(`a body over what the dispatcher may send (${NODE_HTTP_LIMITS.maxBodyBytes / 1024 / 1024} MiB) is refused (413) as soon as it passes it`, async () => {
    const big = JSON.stringify({ ms: 1, pad: 'x'.repeat(NODE_HTTP_LIMITS.maxBodyBytes) });
    expect((await post(address, '/invoke/sleep', big)).status).toBe(413);
    expect((await post(address, '/invoke/sleep', '{"ms":1}')).status).toBe(200);
  });

  test(`a sender that never finishes its headers is cut off after ${NODE_HTTP_LIMITS.headersTimeoutMs / 1000} s, not Node's 60`, async () => {
    const [host, port] = address.split(':');
    const socket = connect(Number(port), host);
    socket.write('POST /invoke/sleep HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await closed(socket);
    expect((await post(address, '/invoke/sleep', '{"ms":1}')).status).toBe(200);
  }, 20_000);

  test(`at most ${NODE_HTTP_LIMITS.maxConnections} connections are held open: the one over is closed at once`, async () => {
    const [host, port] = address.split(':');
    const open: Socket[] = [];
    for (let i = 0; i < NODE_HTTP_LIMITS.maxConnections; i++) open.push(connect(Number(port), host));
    await Promise.all(open.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const over = connect(Number(port), host);
    await closed(over);
    expect(open.filter((socket) => socket.destroyed)).toHaveLength(0);
    for (const socket of open) socket.destroy();
  }, 30_000);
});

describe('peerAllowed', () => {
  const rule = checkPeerRule({ cidrs: ['10.0.0.0/16'], ports: [8080, 8081] });
  test.each([
    ['10.0.3.7:8080', true],
    ['10.0.255.254:8081', true],
    ['10.1.0.1:8080', false],
    ['203.0.113.9:8080', false],
    ['10.0.0.5:22', false],
    ['10.0.0.5', false],
    ['evil.example:8080', false],
    ['10.0.0.256:8080', false],
    ['[::1]:8080', false],
  ])('%s: %s', (address, allowed) => {
    expect(peerAllowed(address, rule)).toBe(allowed);
  });

  test('a bad range or port is refused, naming what is accepted', () => {
    expect(() => checkPeerRule({ cidrs: ['10.0.0.0/33'] })).toThrow(
      'peer range must be an IPv4 range a.b.c.d/0..32, got "10.0.0.0/33"',
    );
    expect(() => checkPeerRule({ cidrs: [] })).toThrow('peers must name at least one IPv4 range');
    expect(() => checkPeerRule({ cidrs: ['10.0.0.0/8'], ports: [0] })).toThrow(
      'peer ports must be whole numbers from 1 to 65535, got 0',
    );
  });
});
