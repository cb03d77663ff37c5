import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { computeId, standInReport, storageId } from '../../bench/fleet/probe';
import { applyMembership, RedisStateStore } from '../../common/state';
import { HEARTBEAT, HEARTBEAT_STORAGE, STORAGE_NODES } from '../../common/state/redis-scripts';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { call, corpusFolder } from '../support/cluster';

// What a node costs the shared state must not grow with the fleet. A real compute node
// process runs beside a few hundred stand-in nodes on a real redis-server; MONITOR lists
// every command Redis runs, those its scripts run included ("[0 lua]", right after the
// EVALSHA that ran them). The node's calls (heartbeat, its view of the storage nodes, a
// tier-2 peer pick) and a dispatcher's catch-up after a change must run as many commands
// at 400 nodes as at 40, and none of them may read a whole fleet-sized key.

const STORAGE = 4;
const HEARTBEAT_MS = 200;

interface Call {
  readonly client: string;
  readonly sha: string;
  /** The commands the script ran inside Redis, each as its arguments. */
  readonly commands: string[][];
}

/** Parses MONITOR lines into script calls, each with the commands it ran. */
function scriptCalls(lines: readonly string[]): Call[] {
  const calls: { client: string; sha: string; commands: string[][] }[] = [];
  let current: (typeof calls)[number] | undefined;
  for (const line of lines) {
    const match = /^[\d.]+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
    if (!match) continue;
    const args = [...match[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    if (match[1] === 'lua') {
      current?.commands.push(args);
    } else if (args[0]?.toLowerCase() === 'evalsha') {
      current = { client: match[1], sha: args[1], commands: [] };
      calls.push(current);
    } else {
      current = undefined;
    }
  }
  return calls;
}

/** Runs `work` while redis-cli MONITOR records, and answers the script calls it saw. */
async function monitored(redis: RedisServer, work: () => Promise<void>): Promise<Call[]> {
  const monitor = spawn('redis-cli', ['-p', String(redis.port), 'monitor'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const reader = createInterface({ input: monitor.stdout! });
  reader.on('line', (line) => lines.push(line));
  await new Promise<void>((resolve) => reader.once('line', () => resolve())); // "OK": recording
  await work();
  monitor.kill();
  await new Promise((resolve) => monitor.once('exit', resolve));
  return scriptCalls(lines);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A key's name less the prefix: `node:<id>` for any node, else the index's own name. */
const keyKind = (key: string) => key.replace(/^\{[^}]*\}:/, '').replace(/^node:.*/, 'node:*');

interface Observed {
  /** Per script sha: the most commands one call ran. */
  readonly mostCommands: Map<string, number>;
  /** Each kind of key read whole (a range 0 -1, HGETALL, SMEMBERS) by the node's or the dispatcher's calls. */
  readonly readWhole: Set<string>;
  readonly nodeCallsPerSecond: number;
  readonly peerPicks: number;
}

/** Registers `n` compute stand-ins and the storage nodes, starts a real compute node, and watches its calls. */
async function observe(redis: RedisServer, n: number): Promise<Observed> {
  const store = await RedisStateStore.connect({ url: redis.url });
  let node: ChildProcess | undefined;
  try {
    await store.command(['FLUSHALL']);
    const now = Date.now();
    // Stand-ins listen nowhere (port 1 refuses at once), so a forward to one is "not delivered" and the next is asked.
    const reports = [
      ...Array.from({ length: n }, (_, i) => ({
        ...standInReport(computeId(i), 'compute', now, 20),
        address: '127.0.0.1:1',
      })),
      ...Array.from({ length: STORAGE }, (_, i) => standInReport(storageId(i), 'storage', now)),
    ];
    await Promise.all(reports.map((r) => store.heartbeat(r, 600_000)));

    node = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, '..', '..', 'nodes', 'compute', 'main.ts'),
        ...['--id', 'real', '--state', redis.url, '--objects', await corpusFolder()],
        ...['--slots', '1', '--heartbeat-ms', String(HEARTBEAT_MS), '--offload-policy', 'never'],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const child = node;
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on(
        'line',
        (line) => line.startsWith('ready ') && resolve(`http://${line.slice('ready '.length)}`),
      );
      child.once('exit', (code) => reject(new Error(`the compute node exited with ${code}`)));
    });
    const known = await store.membership();
    const ownClient = /addr=(\S+)/.exec(String(await store.command(['CLIENT', 'INFO'])))![1];
    const windowMs = 2000;
    const calls = await monitored(redis, async () => {
      // Two at once on one slot: the second finds the node full and asks the index for peers.
      const invocations = Promise.all([0, 1].map(() => call(url, 'POST', '/invoke/sleep', { ms: 300 })));
      // A dispatcher one change behind: a stand-in drains, and the reader catches up.
      await store.heartbeat({ ...reports[0], draining: true, heartbeatAt: Date.now() }, 600_000);
      const update = await store.membership(known.version);
      expect(update.changes).toHaveLength(1);
      expect(applyMembership(known.members!, update)!.find((m) => m.id === reports[0].id)?.draining).toBe(true);
      // The second runs after the first, or is refused once its wait for the slot runs out: either way it asked peers first.
      expect((await invocations).map((r) => r.status)).toContain(200);
      await sleep(windowMs);
    });

    const mostCommands = new Map<string, number>();
    const readWhole = new Set<string>();
    const nodeCalls = calls.filter((c) => c.client !== ownClient);
    const watched = [...nodeCalls, ...calls.filter((c) => c.client === ownClient && c.commands.length > 0).slice(-1)];
    for (const c of watched) {
      mostCommands.set(c.sha, Math.max(mostCommands.get(c.sha) ?? 0, c.commands.length));
      for (const [name, key, ...rest] of c.commands) {
        const command = name.toLowerCase();
        const whole =
          command === 'hgetall' ||
          command === 'smembers' ||
          ((command === 'zrange' || command === 'lrange') && rest[0] === '0' && rest[1] === '-1');
        if (whole) readWhole.add(keyKind(key));
      }
    }
    const peerPicks = nodeCalls.filter((c) =>
      c.commands.some(([name, key]) => /^zadd$/i.test(name) && /:leases$/.test(key)),
    ).length;
    return { mostCommands, readWhole, nodeCallsPerSecond: nodeCalls.length / (windowMs / 1000), peerPicks };
  } finally {
    node?.kill('SIGKILL');
    await store.close();
  }
}

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

test("a node's periodic calls and a dispatcher's catch-up run as many commands in Redis at 400 nodes as at 40, and read no fleet-sized key whole", async () => {
  const small = await observe(redis, 40);
  const large = await observe(redis, 400);
  for (const seen of [small, large]) {
    // The node asked the index for a peer (three tries, each refused), and read only what it should: at
    // most the storage set and its records, for the storage view (built again only after a storage node changed).
    expect(seen.peerPicks).toBeGreaterThanOrEqual(1);
    expect(['node:*', 'storage']).toEqual(expect.arrayContaining([...seen.readWhole]));
    // One call an interval, the heartbeat with the storage view in its reply, and a few peer picks: not one per node.
    expect(seen.mostCommands.has(HEARTBEAT_STORAGE.sha)).toBe(true);
    expect(seen.mostCommands.has(STORAGE_NODES.sha)).toBe(false);
    expect(seen.mostCommands.has(HEARTBEAT.sha)).toBe(false);
    expect(seen.nodeCallsPerSecond).toBeLessThan(1000 / HEARTBEAT_MS + 10);
  }
  expect([...large.mostCommands.keys()].sort()).toEqual([...small.mostCommands.keys()].sort());
  for (const [sha, most] of large.mostCommands) {
    // The same calls at ten times the fleet: at most a few more commands (a sweep that found more to do, or the
    // heartbeat that rewrites its node's 7 index entries once a minute), never n more.
    expect([sha, most]).toEqual([sha, Math.min(most, small.mostCommands.get(sha)! + 8)]);
  }
}, 120_000);
