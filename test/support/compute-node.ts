import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MemoryStateStore } from '../../common/state';
import { serveStateStore } from '../../local/shared-state';
import { call, json } from './cluster';
import { type OnLoopback, onLoopback } from './loopback';

const ROOT = join(__dirname, '..', '..');

/** A peer the test plays: a server on loopback, registered in the state store as a compute node with `free` of 8 slots. */
export interface PlayedPeer {
  readonly id: string;
  readonly free: number;
  readonly serve: RequestListener;
}

export interface ComputeNodeWithPeers {
  /** The node's `host:port`. */
  readonly address: string;
  /** Takes the node's one slot for `ms`, so that the next invocation goes to a peer; resolves once it is taken. */
  busyFor(ms: number): Promise<{ done: Promise<unknown> }>;
  stop(): Promise<void>;
}

/**
 * A compute node process with one slot (`nodes/compute/main.ts` and `args`), its peers
 * played by test servers in an in-memory state store that it reads over HTTP. The peers
 * heartbeat every 200 ms: well inside the node's 3 s view of a live peer, on a busy machine too.
 */
export async function computeNodeWithPeers(
  peers: readonly PlayedPeer[],
  args: string[],
): Promise<ComputeNodeWithPeers> {
  const store = new MemoryStateStore();
  const state = await serveStateStore(store);
  const servers: OnLoopback[] = [];
  for (const peer of peers) servers.push(await onLoopback(createServer(peer.serve)));
  const beat = () =>
    Promise.all(
      peers.map((peer, i) =>
        store.heartbeat(
          {
            id: peer.id,
            address: servers[i].address,
            role: 'compute',
            slotsTotal: 8,
            slotsUsed: 8 - peer.free,
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
  const heartbeat = setInterval(() => void beat(), 200);
  const node: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'nodes/compute/main.ts'),
      ...['--slots', '1', '--state', state.url, '--heartbeat-ms', '1000'],
      ...['--objects', mkdtempSync(join(tmpdir(), 'strata-forward-'))],
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stop = async () => {
    clearInterval(heartbeat);
    node.kill('SIGKILL');
    for (const server of servers) await server.close();
    state.server.close();
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: node.stdout! }).on('line', (line) => {
        if (line.startsWith('ready ')) resolve(line.slice('ready '.length));
      });
      node.once('exit', (code) => reject(new Error(`the compute node exited with ${code}`)));
    });
    return {
      address,
      async busyFor(ms) {
        const busy = call(`http://${address}`, 'POST', '/invoke/sleep', { ms });
        while (json(await call(`http://${address}`, 'GET', '/health')).slotsUsed !== 1)
          await new Promise((resolve) => setTimeout(resolve, 10));
        return { done: busy }; // wrapped: an async function would wait for a promise it returns
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
