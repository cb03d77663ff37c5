import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RespClient } from '../common/state/resp-client';
import { aclFileFlags, freePort, spawnReady } from './redis-server';

/** A real Redis Cluster of primaries on loopback ports, for the cells' tests and `npm run bench:fleet -- --cells`. */
export interface RedisCluster {
  /** One URL per primary, in slot order: the first holds slots 0 to about 16384 / n. */
  readonly urls: readonly string[];
  readonly ports: readonly number[];
  /** The URL to give a cluster-aware store: any node would do. */
  readonly url: string;
  /** Stops every primary and waits for them to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `primaries` redis-servers with `cluster-enabled yes` (no replicas, no
 * persistence), joins them with `redis-cli --cluster create`, which gives each an even,
 * contiguous share of the 16384 slots as ElastiCache does in cluster mode, and waits until
 * every node says `cluster_state:ok`. With `acl`, every node has these users (an ACL file's
 * text: common/state/access.ts), and the harness joins and watches them as a user of its own.
 */
export async function startRedisCluster(primaries = 3, options: { readonly acl?: string } = {}): Promise<RedisCluster> {
  if (spawnSync('redis-cli', ['--version']).error)
    throw new Error('redis-cli is not installed: run `apt-get install -y redis-server` (.ci/run does this)');
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  const admin =
    options.acl === undefined
      ? undefined
      : { user: 'strata-cluster-harness', password: randomBytes(16).toString('hex') };
  const aclArgs =
    options.acl !== undefined && admin
      ? aclFileFlags(
          `${options.acl.trimEnd()}\nuser ${admin.user} on #${createHash('sha256').update(admin.password).digest('hex')} ~* &* +@all\n`,
        )
      : [];
  try {
    for (let i = 0; i < primaries; i++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'strata-redis-cluster-'));
      children.push(
        await spawnReady(
          port,
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            // Long: on a shared machine a starved primary must not be taken for failed (no replica takes over here).
            '--cluster-node-timeout',
            '60000',
            ...aclArgs,
          ],
          `on port ${port} (cluster node ${i + 1} of ${primaries})`,
        ),
      );
      ports.push(port);
    }
    await create(ports, admin);
    await waitUntilOk(ports, admin);
  } catch (error) {
    await stop();
    throw error;
  }
  const urls = ports.map((port) => `redis://127.0.0.1:${port}`);
  return { urls, ports, url: urls[0], stop };
}

type Admin = { readonly user: string; readonly password: string } | undefined;

function create(ports: readonly number[], admin: Admin): Promise<void> {
  const args = [
    ...(admin ? ['--user', admin.user, '--pass', admin.password, '--no-auth-warning'] : []),
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ];
  return new Promise((resolve, reject) => {
    const cli = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    cli.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    cli.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    cli.once('error', reject);
    cli.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create exited with ${code}:\n${output}`)),
    );
  });
}

/** Every node agrees the cluster is whole: all 16384 slots served. */
async function waitUntilOk(ports: readonly number[], admin: Admin, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const credentials = admin ? `${admin.user}:${admin.password}@` : '';
  for (const port of ports) {
    const client = await RespClient.connect({ url: `redis://${credentials}127.0.0.1:${port}` });
    try {
      for (;;) {
        const info = String(await client.send(['CLUSTER', 'INFO']));
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline)
          throw new Error(`the Redis Cluster on ${ports.join(', ')} was not ok within ${timeoutMs} ms:\n${info}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await client.close();
    }
  }
}
