import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MemoryStateStore } from '../../common/state';
import { serveStateStore } from '../../local/shared-state';
import { call, json } from '../support/cluster';
import { type OnLoopback, onLoopback } from '../support/loopback';

// A tier-2 plugin with no index rule (no `peer`): the full compute node reads the fleet's
// figures and offers the invocation to the peers in the plugin's order. fewest-hops puts
// them in reverse id order; peer-a has the most free slots, so the built-in default
// (most-slots) would pick it, and the plugin picks peer-z.
const ROOT = join(__dirname, '..', '..');
const PLUGIN = join(ROOT, 'test/support/plugins/fewest-hops.ts');
let state: { url: string; server: { close(): void } };
let node: ChildProcess;
let address: string;
const peers: OnLoopback[] = [];
let heartbeat: NodeJS.Timeout;

beforeAll(async () => {
  const store = new MemoryStateStore();
  state = await serveStateStore(store);
  for (const id of ['peer-a', 'peer-z'])
    peers.push(
      await onLoopback(
        createServer((req, res) =>
          req
            .resume()
            .on('end', () =>
              res.writeHead(200, { 'content-type': 'application/json', 'x-strata-node': id }).end('{"sleptMs":1}'),
            ),
        ),
      ),
    );
  const beat = () =>
    Promise.all(
      [
        { id: 'peer-a', free: 8 },
        { id: 'peer-z', free: 2 },
      ].map(({ id, free }, i) =>
        store.heartbeat(
          {
            id,
            address: peers[i].address,
            role: 'compute',
            slotsTotal: 8,
            slotsUsed: 8 - free,
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
        ),
      ),
    );
  await beat();
  heartbeat = setInterval(() => void beat(), 200);
  node = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'nodes/compute/main.ts'),
      ...['--id', 'c', '--slots', '1', '--state', state.url],
      ...['--objects', mkdtempSync(join(tmpdir(), 'strata-forward-plugin-'))],
      ...['--plugins', JSON.stringify([{ tier: 'node', name: 'fewest-hops', module: PLUGIN }])],
      ...['--node-policy', 'fewest-hops', '--heartbeat-ms', '1000'],
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
  for (const peer of peers) await peer.close();
  state?.server.close();
});

test("a full node forwards in a plugin's own order when the plugin has no index rule", async () => {
  const busy = call(`http://${address}`, 'POST', '/invoke/sleep', { ms: 1000 });
  while (json(await call(`http://${address}`, 'GET', '/health')).slotsUsed !== 1)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const reply = await call(`http://${address}`, 'POST', '/invoke/sleep', { ms: 1 });
  expect([reply.status, reply.headers['x-strata-node']]).toEqual([200, 'peer-z']);
  await busy;
});
