import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const SCRIPT = join(__dirname, 'ceph-one-host.sh');

/** A one-host Ceph cluster started by local/ceph-one-host.sh: MON, MGR, OSDs, the data pool and RGW on loopback. */
export interface OneHostCeph {
  readonly folder: string;
  /** Its ceph.conf, for the ceph CLI (CEPH_CONF). */
  readonly conf: string;
  /** RGW's S3 endpoint, http://127.0.0.1:PORT */
  readonly rgwEndpoint: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** What the start printed about itself: HEALTH_OK time, the pool script's lines, ready time. */
  readonly bootLog: string;
  /** Runs the ceph CLI against this cluster; answers its stdout, throws with its stderr on failure. */
  ceph(...args: string[]): string;
  createBucket(bucket: string): Promise<void>;
  stop(): Promise<void>;
}

/** Whether Debian's Ceph packages are installed; the message says how to install them. */
export function cephMissing(): string | undefined {
  for (const tool of ['ceph-mon', 'ceph-osd', 'ceph-mgr', 'radosgw']) {
    if (spawnSync('which', [tool]).status !== 0) {
      return `${tool} is not installed: run \`apt-get install -y --no-install-recommends ceph-mon ceph-mgr ceph-osd ceph-common radosgw uuid-runtime\` (.ci/run does this)`;
    }
  }
  return undefined;
}

/**
 * Boots a one-host Ceph in a fresh folder (or the one given) on ports that were free.
 * Fails, never skips, when Ceph is not installed.
 */
export async function startCeph(
  options: { folder?: string; osds?: number; rgwAddress?: string; commandPrefix?: readonly string[] } = {},
): Promise<OneHostCeph> {
  // A prefix (an emulated host's) runs the script and the ceph CLI elsewhere: [file, ...args] before the command.
  const [file, ...prefix] = options.commandPrefix ?? [];
  const run = (command: string, args: readonly string[]) =>
    file === undefined ? ([command, [...args]] as const) : ([file, [...prefix, command, ...args]] as const);
  const missing = cephMissing();
  if (missing) throw new Error(missing);
  const folder = options.folder ?? mkdtempSync(join(tmpdir(), 'strata-ceph-'));
  const ownFolder = options.folder === undefined; // a folder of our own goes when the cluster stops
  const base = await freePortRange();
  const child = spawn(
    ...run('bash', [
      SCRIPT,
      'start',
      folder,
      '--osds',
      String(options.osds ?? 3),
      '--base-port',
      String(base),
      ...(options.rgwAddress ? ['--rgw-address', options.rgwAddress] : []),
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) {
    if (ownFolder) rmSync(folder, { recursive: true, force: true });
    throw new Error(`local/ceph-one-host.sh start failed (${code}):\n${stderr}`);
  }
  const values = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );
  const env = { ...process.env, CEPH_CONF: values.CEPH_CONF };
  const credentials = { accessKeyId: values.S3_ACCESS_KEY, secretAccessKey: values.S3_SECRET_KEY };
  return {
    folder,
    conf: values.CEPH_CONF,
    rgwEndpoint: values.RGW_ENDPOINT,
    credentials,
    bootLog: stderr,
    ceph(...args) {
      const result = spawnSync(...run('ceph', args), { env, encoding: 'utf8', timeout: 60_000 });
      if (result.status !== 0) throw new Error(`ceph ${args.join(' ')} failed: ${result.stderr}`);
      return result.stdout;
    },
    async createBucket(bucket) {
      const client = new S3Client({
        endpoint: values.RGW_ENDPOINT,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials,
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      } finally {
        client.destroy();
      }
    },
    async stop() {
      spawnSync(...run('bash', [SCRIPT, 'stop', folder]), { stdio: 'inherit' });
      if (ownFolder) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/**
 * A base port whose first three ports and daemon range (base+10..99) were free:
 * one-host.sh's layout. Below the kernel's ephemeral range, so that no outgoing
 * connection takes one of them between this check and the daemons' bind.
 */
async function freePortRange(): Promise<number> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const ranges = Math.floor((ephemeralLow - 100 - 10000) / 100);
  if (ranges < 1) throw new Error(`no room for Ceph's ports below the ephemeral range (${ephemeralLow})`);
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 10000 + 100 * Math.floor(Math.random() * ranges);
    const ports = [0, 1, 2, ...Array.from({ length: 90 }, (_, i) => 10 + i)].map((offset) => base + offset);
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
  throw new Error(`no free range of 100 ports between 10000 and ${ephemeralLow}`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
