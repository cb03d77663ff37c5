import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MemoryStateStore } from '../../common/state';
import { serveStateStore } from '../../local/shared-state';
import { call, json } from '../support/cluster';
import { type OnLoopback, onLoopback } from '../support/loopback';

// A compute node process whose one slot is busy forwards to its peer: here a test server
// that plays the peer (registered in the same state store), so that the test decides how
// the hop goes.
const ROOT = join(__dirname, '..', '..');
let store: MemoryStateStore;
let state: { url: string; server: Server };
let node: ChildProcess;
let address: string;
let peer: OnLoopback;
let heartbeat: NodeJS.Timeout;
let behave: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;

beforeAll(async () => {
  store = new MemoryStateStore();
  state = await serveStateStore(store);
  peer = await onLoopback(createServer((req, res) => behave(req, res)));
  const beat = () =>
    store.heartbeat(
      {
        id: 'peer',
        address: peer.address,
        role: 'compute',
        slotsTotal: 8,
        slotsUsed: 0,
        cpuBusy: 0.1,
        memoryUsed: 0.1,
        load1: 0.1,
        load5: 0.1,
        load15: 0.1,
        cores: 2,
        heartbeatAt: Date.now(),
        draining: false,
      },
      5_000,
    );
  await beat();
  heartbeat = setInterval(() => void beat(), 200); // well inside the node's 3 s view of a live peer, on a busy machine too
  node = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'nodes/compute/main.ts'),
      '--id',
      'a',
      '--slots',
      '1',
      '--state',
      state.url,
      '--objects',
      mkdtempSync(join(tmpdir(), 'strata-forward-')),
      '--heartbeat-ms',
      '1000',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: node.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve(line.slice('ready '.length));
    });
    node.once('exit', (code) => reject(new Error(`the compute node exited with ${code}`)));
  });
}, 60_000);

afterAll(async () => {
  clearInterval(heartbeat);
  node?.kill('SIGKILL');
  await peer?.close();
  state?.server.close();
});

/** Takes the node's one slot for `ms`, so that the next invocation goes to the peer. */
async function busyFor(ms: number): Promise<{ done: Promise<unknown> }> {
  const busy = call(`http://${address}`, 'POST', '/invoke/sleep', { ms });
  while (json(await call(`http://${address}`, 'GET', '/health')).slotsUsed !== 1)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return { done: busy }; // wrapped: an async function would wait for a promise it returns
}

const invoke = (headers: Record<string, string> = {}) =>
  call(`http://${address}`, 'POST', '/invoke/sleep', { ms: 1 }, headers);

test("the node passes the caller's budget (x-strata-budget-ms), less what it has spent, to the peer it forwards to", async () => {
  let seen: IncomingHttpHeaders | undefined;
  behave = (req, res) => {
    seen = req.headers;
    req
      .resume()
      .on('end', () =>
        res.writeHead(200, { 'content-type': 'application/json', 'x-strata-node': 'peer' }).end('{"sleptMs":1}'),
      );
  };
  const busy = await busyFor(1000);
  const reply = await invoke({ 'x-strata-budget-ms': '5000' });
  expect([reply.status, reply.headers['x-strata-node'], reply.headers['x-strata-route']]).toEqual([200, 'peer', 'a>?']);
  const budget = Number(seen?.['x-strata-budget-ms']);
  expect(budget).toBeGreaterThan(0);
  expect(budget).toBeLessThanOrEqual(5000);
  expect(seen?.['x-strata-hops']).toBe('1');
  await busy.done;
});

test('a peer that takes the invocation and does not answer within the budget: 504 from the node, not 500', async () => {
  behave = (req) => req.resume(); // reads it, never answers
  const busy = await busyFor(1000);
  const reply = await invoke({ 'x-strata-budget-ms': '300' });
  expect([reply.status, reply.headers['x-strata-node']]).toEqual([504, 'a']);
  expect(json(reply).error).toMatch(/^timeout forwarding to 127\.0\.0\.1:\d+/);
  await busy.done;
});

test('a peer whose connection breaks after it took the invocation: 502 from the node, not 500', async () => {
  behave = (req) => req.resume().on('end', () => req.socket.destroy());
  const busy = await busyFor(1000);
  const reply = await invoke({ 'x-strata-budget-ms': '5000' });
  expect([reply.status, reply.headers['x-strata-node']]).toEqual([502, 'a']);
  expect(json(reply).error).toMatch(/^broken forwarding to 127\.0\.0\.1:\d+/);
  await busy.done;
});
