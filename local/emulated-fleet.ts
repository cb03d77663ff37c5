/**
 * The benchmark's machines as emulated hosts (local/emulated-hosts.ts): a host per
 * compute node (c1, c2, ...), one storage host (s1: a one-host Ceph and the storage
 * agent, so its data stages read the object over the host's loopback) and a control
 * host (ctl: redis-server), and, if asked, a load-generator host (lg: the benchmark's
 * driver and dispatcher, bench/load-generator.ts). Each has its own CPU quota (cgroup v1 CFS, in cores of this
 * machine) and its own link (htb at the given rate each way); the compute↔storage path
 * crosses both ends' links. The hosts are made but not booted: the nodes are this
 * machine's programs run inside each host's network namespace and cgroups
 * (Host.commandPrefix()), which is what the figures need (a CPU budget, a link, counters
 * of their own) without a systemd per host. The dispatcher and the load driver stay in
 * the benchmark's process on this machine.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../common/object-store';
import { DATA_BUCKET } from '../common/settings';
import { aclFile, STATE_ROLES, type StateRole, stateUser, urlWithUser } from '../common/state/access';
import { type OneHostCeph, startCeph } from './ceph';
import { loadCorpus } from './corpus';
import { type Host, HostNetwork } from './emulated-hosts';
import { debianImage } from './host-image';
import { spawnRedis } from './redis-server';

export interface EmulatedFleetOptions {
  /** The compute nodes' CPU quotas, cores each: one node per entry. */
  readonly computeCpu: readonly number[];
  /** The storage host's quota (Ceph and the storage agent together), cores. */
  readonly storageCpu: number;
  /** The control host's quota (redis-server), cores. */
  readonly controlCpu: number;
  /** A load-generator host (lg) with this quota, cores, and the same link as the nodes. @default none */
  readonly loadCpu?: number;
  /** Every node's link, Mbit/s each way. */
  readonly linkMbit: number;
  /** The hosts' network: a name of 1-5 of [a-z0-9] and a /24 of its own. @default bench, 10.77.13.0/24 */
  readonly network?: { readonly name: string; readonly subnet24: string };
  readonly log?: (line: string) => void;
}

/** Where a node runs, as LocalCluster's nodeHost option takes it. */
export interface NodePlacement {
  readonly address: string;
  readonly commandPrefix: readonly string[];
  /** The S3 endpoint this node reads objects at (the storage host's loopback for its own agent). */
  readonly s3Endpoint: string;
  /** The host's CPU quota, cores: a node on a quarter core takes four times as long to start. */
  readonly cpu: number;
}

/** What each host used between two readings: cores of CPU, its quota, throttled share, link Mbit/s. */
export interface HostUsage {
  readonly host: string;
  readonly cpuCores: number;
  readonly quotaCores: number;
  /** Share of the quota's periods in which the quota stopped the host. */
  readonly throttled: number;
  readonly linkMbit: number;
  readonly linkRateMbit: number;
}

export type CounterReading = ReadonlyMap<string, ReturnType<Host['counters']> & { atNs: bigint }>;

/** The hosts' addresses in a /24 (given as its first three numbers, e.g. 10.77.13). */
const addresses = (prefix: string) => ({
  ctl: `${prefix}.10`,
  lg: `${prefix}.11`,
  s1: `${prefix}.20`,
  compute: (i: number) => `${prefix}.${31 + i}`,
});

export class EmulatedFleet {
  private constructor(
    private readonly network: HostNetwork,
    readonly ceph: OneHostCeph,
    private readonly redis: ChildProcess,
    /** The harness's own user (every right: the benchmark's INFO and CONFIG RESETSTAT). */
    readonly redisUrl: string,
    /** Each role's user (common/state/access.ts), as on AWS: LocalCluster's redisUsers. */
    readonly redisUsers: Readonly<Record<StateRole, string>>,
    /** RGW as the compute nodes reach it, over the storage host's link. */
    readonly s3Endpoint: string,
    private readonly quotas: Map<string, number>,
    private linkMbit: number,
  ) {}

  /** Checks the quotas (their sum fits this machine), makes the hosts, starts Redis and Ceph, loads the corpus into RGW. */
  static async start(options: EmulatedFleetOptions): Promise<EmulatedFleet> {
    const quotas = new Map([
      ['ctl', options.controlCpu],
      ['s1', options.storageCpu],
      ...(options.loadCpu === undefined ? [] : [['lg', options.loadCpu] as [string, number]]),
      ...options.computeCpu.map((cpu, i): [string, number] => [`c${i + 1}`, cpu]),
    ]);
    checkQuotasFit(quotas);
    const log = options.log ?? (() => undefined);
    if (options.computeCpu.length < 1 || options.computeCpu.length > 200)
      throw new RangeError(`computeCpu must list 1 to 200 quotas, got ${options.computeCpu.length}`);
    const prefix = options.network?.subnet24 ?? '10.77.13';
    const ADDRESSES = addresses(prefix);
    const network = await HostNetwork.open({ name: options.network?.name ?? 'bench', subnet: `${prefix}.0/24`, log });
    try {
      // The hosts are not booted, but a host is made on an image: the base one will do.
      const image = await debianImage({ packages: [] }, log);
      const make = (name: string, address: string, cpu: number, bandwidthMbit?: number) =>
        network.create({ name, address, image, cpu, bandwidthMbit });
      // The control host's link is not limited: the dispatcher's traffic to Redis is not what is measured.
      const ctl = await make('ctl', ADDRESSES.ctl, options.controlCpu);
      const storage = await make('s1', ADDRESSES.s1, options.storageCpu, options.linkMbit);
      await Promise.all(
        options.computeCpu.map((cpu, i) => make(`c${i + 1}`, ADDRESSES.compute(i), cpu, options.linkMbit)),
      );
      if (options.loadCpu !== undefined) await make('lg', ADDRESSES.lg, options.loadCpu, options.linkMbit);

      const redis = await startRedis(ctl);
      // Ceph boots without the quota (its first minute is heavy), then the quota applies.
      await storage.limit({ cpu: null });
      log('starting Ceph on the storage host (one MON, MGR, 2 OSDs, RGW)');
      const ceph = await startCeph({ osds: 2, rgwAddress: '0.0.0.0', commandPrefix: storage.commandPrefix() });
      const s3Endpoint = ceph.rgwEndpoint.replace('127.0.0.1', ADDRESSES.s1);
      const client = new S3Client({
        endpoint: s3Endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: ceph.credentials,
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: DATA_BUCKET }));
      } finally {
        client.destroy();
      }
      await loadCorpus(new S3ObjectStore({ endpoint: s3Endpoint, bucket: DATA_BUCKET, credentials: ceph.credentials }));
      await storage.limit({ cpu: options.storageCpu });
      return new EmulatedFleet(
        network,
        ceph,
        redis.child,
        urlWithUser(`redis://${ADDRESSES.ctl}:6379`, OPERATOR, redis.passwords.operator),
        Object.fromEntries(
          STATE_ROLES.map((role) => [
            role,
            urlWithUser(`redis://${ADDRESSES.ctl}:6379`, stateUser(role), redis.passwords[role]),
          ]),
        ) as Record<StateRole, string>,
        s3Endpoint,
        quotas,
        options.linkMbit,
      );
    } catch (error) {
      await network.close();
      throw error;
    }
  }

  get computeNodes(): number {
    return [...this.quotas.keys()].filter((host) => /^c\d+$/.test(host)).length;
  }

  /** The command prefix that runs a program on the load-generator host, if there is one. */
  get loadGenerator(): readonly string[] | undefined {
    return this.quotas.has('lg') ? this.network.host('lg').commandPrefix() : undefined;
  }

  /** LocalCluster's nodeHost: compute node cN on host cN, storage node s1 on s1 (reading RGW on its loopback). */
  placement(id: string): NodePlacement {
    const host = this.network.host(id);
    return {
      address: host.address,
      commandPrefix: host.commandPrefix(),
      s3Endpoint: id.startsWith('s') ? this.ceph.rgwEndpoint : this.s3Endpoint,
      cpu: this.quotas.get(id)!,
    };
  }

  /** Changes every node's link rate, or the storage host's CPU quota, between runs. */
  async setLink(mbit: number): Promise<void> {
    for (const host of this.network.hosts) if (host.name !== 'ctl') await host.limit({ bandwidthMbit: mbit });
    this.linkMbit = mbit;
  }

  async setStorageCpu(cores: number): Promise<void> {
    checkQuotasFit(new Map(this.quotas).set('s1', cores));
    await this.network.host('s1').limit({ cpu: cores });
    this.quotas.set('s1', cores);
  }

  read(): CounterReading {
    return new Map(
      this.network.hosts.map((host) => [host.name, { ...host.counters(), atNs: process.hrtime.bigint() }]),
    );
  }

  /** What each host used between two readings. */
  usage(from: CounterReading, to: CounterReading): HostUsage[] {
    return [...to].map(([host, end]) => {
      const start = from.get(host)!;
      const seconds = Number(end.atNs - start.atNs) / 1e9;
      const periods = end.periods - start.periods;
      return {
        host,
        cpuCores: (end.cpuNs - start.cpuNs) / 1e9 / seconds,
        quotaCores: this.quotas.get(host) ?? 0,
        throttled: periods > 0 ? (end.throttledPeriods - start.throttledPeriods) / periods : 0,
        linkMbit: (Math.max(end.txBytes - start.txBytes, end.rxBytes - start.rxBytes) * 8) / 1e6 / seconds,
        linkRateMbit: host === 'ctl' ? Infinity : this.linkMbit,
      };
    });
  }

  async close(): Promise<void> {
    await this.ceph.stop().catch(() => undefined);
    this.redis.kill('SIGKILL');
    await this.network.close();
  }
}

/**
 * The resource that limited a run: the busiest of each host's CPU (against its quota)
 * and each link (against its rate), with its utilisation; under 0.7 nothing was saturated
 * and the figures are latency, not capacity.
 */
export function bottleneck(usage: readonly HostUsage[]): { resource: string; utilisation: number } {
  const candidates = usage.flatMap((u) => [
    {
      resource: `${u.host} CPU${u.host === 'ctl' ? ' (Redis)' : ''}`,
      utilisation: u.quotaCores > 0 ? u.cpuCores / u.quotaCores : 0,
    },
    ...(Number.isFinite(u.linkRateMbit)
      ? [{ resource: `${u.host} link`, utilisation: u.linkMbit / u.linkRateMbit }]
      : []),
  ]);
  const [top] = candidates.sort((a, b) => b.utilisation - a.utilisation);
  return top.utilisation >= 0.7
    ? top
    : {
        resource: `none (busiest: ${top.resource} at ${(100 * top.utilisation).toFixed(0)} %)`,
        utilisation: top.utilisation,
      };
}

/** Throws unless the hosts' CPU quotas (cores, by host) sum to no more than this machine's cores. */
function checkQuotasFit(quotas: ReadonlyMap<string, number>): void {
  const total = [...quotas.values()].reduce((a, b) => a + b, 0);
  const cores = cpus().length;
  if (total > cores + 1e-9) {
    throw new RangeError(
      `the hosts' CPU quotas sum to ${total.toFixed(2)} cores (${[...quotas].map(([host, cpu]) => `${host} ${cpu}`).join(', ')}); this machine has ${cores}`,
    );
  }
}

/** The harness's own user in the fleet's Redis. */
const OPERATOR = 'strata-operator';

/**
 * Debian's redis-server in the control host, on its address, without persistence. It
 * listens on the hosts' network, so each client is a user with a random password: the
 * roles' users as on AWS (common/state/access.ts), the harness's own, the default user
 * off. The users are in an ACL file only this user can read, with the passwords' SHA-256
 * (on the command line, any local user would see them in ps).
 */
async function startRedis(
  host: Host,
): Promise<{ child: ChildProcess; passwords: Record<StateRole | 'operator', string> }> {
  const passwords = Object.fromEntries(
    [...STATE_ROLES, 'operator'].map((name) => [name, randomBytes(24).toString('hex')]),
  ) as Record<StateRole | 'operator', string>;
  const folder = mkdtempSync(join(tmpdir(), 'strata-redis-'));
  const acl = join(folder, 'users.acl');
  const operatorHash = createHash('sha256').update(passwords.operator).digest('hex');
  writeFileSync(acl, `${aclFile(passwords)}user ${OPERATOR} on #${operatorHash} ~* &* +@all\n`, { mode: 0o600 });
  const args = [
    '--aclfile',
    acl,
    '--port',
    '6379',
    '--bind',
    '0.0.0.0',
    '--protected-mode',
    'yes',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    '/tmp',
  ];
  const child = await spawnRedis(args, {
    where: 'in host ctl',
    commandPrefix: host.commandPrefix(),
    timeoutMs: 15_000,
  });
  return { child, passwords };
}
