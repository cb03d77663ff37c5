import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real redis-server on a free loopback port, for the integration tests, the benchmarks and local runs. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops the server and starts a new, empty one on the same port (as a restart without persistence). */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers, as when its host loses its power. */
  freeze(): void;
  /** SIGCONT after a freeze. */
  thaw(): void;
}

/**
 * Starts Debian's `redis-server` with no persistence on a free loopback port and waits
 * until it accepts connections; with `replicaOf`, as a replica of that server; with `acl`, with
 * these users (an ACL file's text: common/state/access.ts); with `flags`, these flags after the
 * others (the benchmarks' `--io-threads`); with `commandPrefix`, run under that command (the
 * benchmarks' `taskset -c 0`). Fails, never skips, when the binary is missing: the
 * integration tests must run (.ci/run installs it).
 */
export async function startRedisServer(
  options: {
    readonly replicaOf?: RedisServer;
    readonly acl?: string;
    readonly flags?: readonly string[];
    readonly commandPrefix?: readonly string[];
  } = {},
): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: run `apt-get install -y redis-server` (.ci/run does this)');
  }
  const extra = [
    ...(options.replicaOf ? ['--replicaof', '127.0.0.1', String(options.replicaOf.port)] : []),
    ...(options.acl === undefined ? [] : aclFileFlags(options.acl)),
    ...(options.flags ?? []),
  ];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(port, extra, options.commandPrefix);
    } catch (error) {
      if (attempt >= 3) throw error; // another process took the port between our check and redis' bind
    }
  }
}

/** redis-server's flags for these users: the ACL file's text in a file only this user can read. */
export function aclFileFlags(acl: string): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'strata-acl-')), 'users.acl');
  writeFileSync(file, acl, { mode: 0o600 });
  return ['--aclfile', file];
}

async function launch(port: number, extra: string[], commandPrefix?: readonly string[]): Promise<RedisServer> {
  const child = await spawnReady(port, extra, `on port ${port}`, commandPrefix);
  let current = child;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopChild(current),
    restart: async () => {
      await stopChild(current);
      current = await spawnReady(port, extra, `on port ${port}`, commandPrefix);
    },
    freeze: () => void current.kill('SIGSTOP'),
    thaw: () => void current.kill('SIGCONT'),
  };
}

/**
 * Starts redis-server on the loopback port, with no persistence and a folder of its own, and
 * resolves once it accepts connections; `extra` flags after these (a cluster node's: local/redis-cluster.ts),
 * under `commandPrefix` if given.
 */
export function spawnReady(
  port: number,
  extra: readonly string[] = [],
  where = `on port ${port}`,
  commandPrefix?: readonly string[],
): Promise<ChildProcess> {
  // A folder of its own: a replica writes the primary's snapshot to disk even without persistence.
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'yes',
    '--dir',
    mkdtempSync(join(tmpdir(), 'strata-redis-')),
    ...extra,
  ];
  return spawnRedis(args, { where, commandPrefix });
}

/**
 * Starts redis-server with these arguments, after a command prefix if given (an emulated
 * host's: local/emulated-host.ts), and resolves once it accepts connections; kills it and
 * rejects with its output if it exits or is not ready within the timeout.
 */
export async function spawnRedis(
  args: readonly string[],
  options: { where: string; commandPrefix?: readonly string[]; timeoutMs?: number },
): Promise<ChildProcess> {
  const [file, ...prefix] = [...(options.commandPrefix ?? []), 'redis-server'];
  const child = spawn(file, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => fail(new Error(`redis-server did not start ${options.where}:\n${output}`)),
      options.timeoutMs ?? 10_000,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${code} ${options.where}:\n${output}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    child.kill('SIGCONT'); // a frozen server takes its SIGTERM once it runs again
  });
}

/** A port that was free a moment ago, from the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
