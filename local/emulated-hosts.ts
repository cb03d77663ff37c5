/**
 * Emulated hosts: several real Debian 12 machines on this one, each with its own systemd
 * (PID 1), hostname, file system, network address and, if asked, a CPU quota, a link
 * bandwidth and a data disk. Used by `npm run rehearse` (the EC2 bring-up) and by the
 * benchmarks, which need hosts that do not share one CPU budget.
 *
 * How (../docs/rehearsal.md has more): systemd-nspawn boots each host on an overlay of a
 * cached Debian image (local/host-image.ts); the network is a bridge of this machine
 * with a veth per host in a network namespace of its own (the namespace outlives a
 * reboot, as an ENI does); a CPU quota is a cgroup v1 CFS quota; bandwidth is an htb
 * qdisc on both ends of the veth; a data disk is a zram device, which lsblk shows as
 * TYPE disk. Everything made is recorded in /run/strata-hosts/NETWORK.json and undone
 * by close(), on process exit, on Ctrl-C, and by the next open() of the same network
 * after a crash.
 *
 * @example
 * const network = await HostNetwork.open({ name: 'bench', subnet: '10.77.0.0/24' });
 * try {
 *   const image = await debianImage({ packages: ['stress-ng'] });
 *   const a = await network.start({ name: 'a', address: '10.77.0.11', image, cpu: 0.5, bandwidthMbit: 100 });
 *   console.log((await a.run(['hostname'])).stdout);
 * } finally {
 *   await network.close();
 * }
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must, mustSync, processAlive } from './commands';
import { cleanUpRecord, type NetworkRecord } from './emulated-cleanup';
import { Host, type HostOptions, type HostRecord } from './emulated-host';
import { addressInSubnet, parseSubnet, type Subnet } from './ipv4';

export { Host, type HostOptions } from './emulated-host';

export interface NetworkOptions {
  /** A short name, part of every link, table and cgroup made: 1-5 of [a-z0-9]. */
  readonly name: string;
  /** The hosts' subnet, e.g. 10.77.0.0/24; this machine takes its first address, as the hosts' gateway. */
  readonly subnet: string;
  /** Lets the hosts reach Debian's package registry through this machine (nftables masquerade). @default false */
  readonly nat?: boolean;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
}

const STATE_DIR = '/run/strata-hosts';
const HOSTS_DIR = '/var/lib/strata-hosts';
const open = new Set<HostNetwork>();

/** One bridge of emulated hosts. Open it, start hosts on it, close it (or let the process exit). */
export class HostNetwork {
  readonly name: string;
  readonly subnet: Subnet;
  /** This machine's address on the bridge: the hosts' default route. */
  readonly gateway: string;
  private readonly record: NetworkRecord;
  private readonly hostObjects = new Map<string, Host>();
  private closed = false;

  private constructor(options: NetworkOptions, subnet: Subnet, record: NetworkRecord) {
    this.name = options.name;
    this.subnet = subnet;
    this.gateway = subnet.first;
    this.record = record;
  }

  /**
   * Checks that this machine can emulate hosts (fails with one line naming what is
   * missing), cleans up what a crashed run of the same network left, and makes the bridge.
   */
  static async open(options: NetworkOptions): Promise<HostNetwork> {
    if (!/^[a-z0-9]{1,5}$/.test(options.name))
      throw new RangeError(`network name must be 1-5 of [a-z0-9], got "${options.name}"`);
    const subnet = parseSubnet(options.subnet);
    checkPrerequisites({ nat: options.nat ?? false });
    mkdirSync(STATE_DIR, { recursive: true });
    const statePath = join(STATE_DIR, `${options.name}.json`);
    if (existsSync(statePath)) {
      const previous = JSON.parse(readFileSync(statePath, 'utf8')) as NetworkRecord;
      if (previous.pid !== process.pid && processAlive(previous.pid)) {
        throw new Error(
          `emulated network "${options.name}" is in use by process ${previous.pid}; stop it, or pick another name`,
        );
      }
      options.log?.(`cleaning up what process ${previous.pid} left of network "${options.name}"`);
      cleanUpRecord(previous);
    }
    const record: NetworkRecord = {
      pid: process.pid,
      name: options.name,
      statePath,
      bridge: `${options.name}-br`,
      hosts: {},
    };
    const network = new HostNetwork(options, subnet, record);
    network.save();
    open.add(network);
    installExitHandlers();
    try {
      await must('ip', ['link', 'add', record.bridge, 'type', 'bridge']);
      await must('ip', ['addr', 'add', `${network.gateway}/${subnet.prefix}`, 'dev', record.bridge]);
      await must('ip', ['link', 'set', record.bridge, 'up']);
      if (options.nat) {
        record.nat = {
          table: `strata_${options.name}`,
          ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
        };
        network.save();
        await must('nft', ['-f', '-'], {
          input: `table ip ${record.nat.table} {
  chain postrouting { type nat hook postrouting priority 100; ip saddr ${subnet.cidr} oifname != "${record.bridge}" masquerade; }
}
`,
        });
        writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
      }
    } catch (error) {
      await network.close();
      throw error;
    }
    return network;
  }

  get hosts(): readonly Host[] {
    return [...this.hostObjects.values()];
  }

  host(name: string): Host {
    const host = this.hostObjects.get(name);
    if (!host) throw new Error(`no emulated host "${name}" on network "${this.name}"`);
    return host;
  }

  /** Makes a host (file system, network namespace, disk, cgroups) without booting it: set up its network first, then boot(). */
  async create(options: HostOptions): Promise<Host> {
    if (this.closed) throw new Error(`network "${this.name}" is closed`);
    if (this.hostObjects.has(options.name))
      throw new Error(`host "${options.name}" already exists on network "${this.name}"`);
    if (!addressInSubnet(options.address, this.subnet))
      throw new RangeError(`host ${options.name}: address ${options.address} is not in ${this.subnet.cidr}`);
    const record: HostRecord = { name: options.name, dir: join(HOSTS_DIR, this.name, options.name) };
    this.record.hosts[options.name] = record;
    this.save();
    const host = new Host(
      options,
      { network: this.name, bridge: this.record.bridge, gateway: this.gateway, prefix: this.subnet.prefix },
      record,
      () => this.save(),
      () => {
        this.hostObjects.delete(options.name);
        delete this.record.hosts[options.name];
        this.save();
      },
    );
    this.hostObjects.set(options.name, host);
    try {
      await host.create();
    } catch (error) {
      host.removeSync();
      throw error;
    }
    return host;
  }

  /** create() then boot(): the host is up (systemd reached its default target) when this resolves. */
  async start(options: HostOptions): Promise<Host> {
    const host = await this.create(options);
    try {
      await host.boot();
    } catch (error) {
      host.removeSync();
      throw error;
    }
    return host;
  }

  /** Stops every host at once (no orderly shutdown) and removes all that was made. */
  async close(): Promise<void> {
    this.closeSync();
  }

  /** @internal the exit handler's form */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    cleanUpRecord(this.record);
    this.hostObjects.clear();
    open.delete(this);
  }

  private save(): void {
    if (!this.closed) writeFileSync(this.record.statePath, JSON.stringify(this.record, null, 2));
  }
}

/**
 * Throws one line naming what this machine lacks for emulated hosts: root, systemd-nspawn,
 * nsenter, ip, cgroup v1 CPU, overlayfs, zram, tc, nft. Never falls back to anything else.
 */
export function checkPrerequisites(needs: { nat?: boolean } = {}): void {
  const missing = (what: string): never => {
    throw new Error(`emulated hosts cannot run here: ${what}`);
  };
  if (process.getuid?.() !== 0) missing('they need root (network namespaces, mounts, cgroups)');
  for (const [tool, pkg] of [
    ['systemd-nspawn', 'systemd-container'],
    ['nsenter', 'util-linux'],
    ['ip', 'iproute2'],
    ['tc', 'iproute2'],
    ['debootstrap', 'debootstrap'],
    ...(needs.nat ? [['nft', 'nftables']] : []),
  ]) {
    try {
      mustSync('sh', ['-c', `command -v ${tool}`]);
    } catch {
      missing(`${tool} is not installed (apt-get install -y ${pkg}; .ci/run does this)`);
    }
  }
  if (!existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'))
    missing('no cgroup v1 cpu controller at /sys/fs/cgroup/cpu (CPU quotas need it)');
  if (!existsSync('/sys/fs/cgroup/systemd/cgroup.procs'))
    missing('no name=systemd cgroup hierarchy at /sys/fs/cgroup/systemd (systemd-nspawn needs it)');
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay'))
    missing('the kernel has no overlayfs (each host is an overlay of the image)');
  if (!existsSync('/sys/class/zram-control/hot_add')) missing('no zram (modprobe zram): data disks are zram devices');
}

let handlersInstalled = false;
/** Whatever way the process ends, the hosts go: on exit, and on Ctrl-C / SIGTERM / SIGHUP (then exit 130/143/129). */
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const closeAll = () => {
    for (const network of [...open]) {
      try {
        network.closeSync();
      } catch (error) {
        process.stderr.write(`emulated hosts: cleanup of "${network.name}" failed: ${(error as Error).message}\n`);
      }
    }
  };
  process.on('exit', closeAll);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(signal, () => {
      if (open.size > 0) process.stderr.write(`\n${signal}: stopping the emulated hosts and cleaning up\n`);
      closeAll();
      process.exit(code);
    });
  }
}
