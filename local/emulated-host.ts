import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type CommandOptions, execute, type Finished, must, processAlive, sleep } from './commands';
import { type HostRecord, removeHostSync } from './emulated-cleanup';

export type { HostRecord } from './emulated-cleanup';

export interface HostOptions {
  /** The host's hostname, also in its link's name: 1-12 of [a-z0-9-], at most 14 with the network's name. */
  readonly name: string;
  /** Its IPv4 address on the network (eth0 inside the host). */
  readonly address: string;
  /** The root folder of a Debian image (debianImage()); the host writes to an overlay of its own. */
  readonly image: string;
  /** A CPU quota in cores, e.g. 0.5 (cgroup v1 CFS quota over everything in the host). @default no quota */
  readonly cpu?: number;
  /** The link's bandwidth each way, Mbit/s (htb on both ends of its veth). @default no limit */
  readonly bandwidthMbit?: number;
  /**
   * A data disk (a zram device: TYPE disk in lsblk), new and empty, or one kept from a
   * removed host (remove({ keepDisk: true })). @default none
   */
  readonly disk?: { readonly sizeGiB: number } | { readonly device: string };
  /**
   * A root disk of the host's own, GiB: its writable layer goes on a zram-backed ext4, so
   * that free space inside is the host's (a Ceph monitor warns below 30 %), not this
   * machine's. @default the writable layer is a folder of this machine
   */
  readonly rootDiskGiB?: number;
  /** Folders or files of this machine inside the host. */
  readonly binds?: readonly { readonly source: string; readonly target: string; readonly readOnly?: boolean }[];
  /** Files written into the host's file system before it boots: path -> content. */
  readonly files?: Readonly<Record<string, string>>;
}

interface NetworkInfo {
  readonly network: string;
  readonly bridge: string;
  readonly gateway: string;
  readonly prefix: number;
}

const INSIDE_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  TERM: 'dumb',
};

/** One emulated host: made by HostNetwork.create() or start(). */
export class Host {
  readonly name: string;
  readonly address: string;
  /** The host's root folder as this machine sees it (its overlay). */
  readonly root: string;
  /** Its network namespace, for this machine's tools: `ip netns exec NAME ...`. */
  readonly netns: string;

  constructor(
    private readonly options: HostOptions,
    private readonly net: NetworkInfo,
    private readonly record: HostRecord,
    private readonly save: () => void,
    private readonly forget: () => void,
  ) {
    if (!/^[a-z0-9][a-z0-9-]{0,11}$/.test(options.name) || net.network.length + options.name.length > 14) {
      throw new RangeError(
        `host name must be 1-12 of [a-z0-9-], at most ${14 - net.network.length} on network "${net.network}"; got "${options.name}"`,
      );
    }
    if (options.cpu !== undefined && !(options.cpu > 0 && options.cpu <= 64))
      throw new RangeError(`host ${options.name}: cpu must be a number of cores above 0, got ${options.cpu}`);
    if (options.bandwidthMbit !== undefined && !(options.bandwidthMbit > 0))
      throw new RangeError(`host ${options.name}: bandwidthMbit must be above 0, got ${options.bandwidthMbit}`);
    this.name = options.name;
    this.address = options.address;
    this.root = join(record.dir, 'root');
    this.netns = `strata-${net.network}-${options.name}`;
  }

  /** The data disk's device, e.g. /dev/zram3 (the same path inside the host). */
  get disk(): string | undefined {
    return this.record.zram === undefined ? undefined : `/dev/zram${this.record.zram}`;
  }

  get running(): boolean {
    return this.record.leaderPid !== undefined && processAlive(this.record.leaderPid);
  }

  /** @internal HostNetwork.create() */
  async create(): Promise<void> {
    const { record, options, net } = this;
    mkdirSync(record.dir, { recursive: true });
    if (options.rootDiskGiB !== undefined) {
      record.rootZram = Number(readFileSync('/sys/class/zram-control/hot_add', 'utf8').trim());
      this.save();
      writeFileSync(`/sys/block/zram${record.rootZram}/disksize`, `${Math.round(options.rootDiskGiB * 1024)}M`);
      const device = `/dev/zram${record.rootZram}`;
      if (!existsSync(device)) {
        const [major, minor] = readFileSync(`/sys/block/zram${record.rootZram}/dev`, 'utf8').trim().split(':');
        await must('mknod', [device, 'b', major, minor]);
      }
      await must('mkfs.ext4', ['-q', '-F', device]);
      await must('mount', [device, record.dir]);
      record.rootMounted = record.dir;
      this.save();
    }
    for (const folder of ['upper', 'work', 'root']) mkdirSync(join(record.dir, folder), { recursive: true });
    await must('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${options.image},upperdir=${join(record.dir, 'upper')},workdir=${join(record.dir, 'work')}`,
      this.root,
    ]);
    record.mounted = this.root;
    this.save();
    const files: Record<string, string> = {
      '/etc/hostname': `${options.name}\n`,
      '/etc/hosts': `127.0.0.1 localhost\n127.0.1.1 ${options.name}\n${options.address} ${options.name}\n`,
      ...options.files,
    };
    for (const [path, content] of Object.entries(files)) this.writeFile(path, content);

    // The link: a veth from the bridge into a namespace of the host's own, addressed before boot.
    record.netns = this.netns;
    record.veth = `${net.network}-${options.name}`;
    this.save();
    const peer = `tmp${randomBytes(4).toString('hex')}`;
    await must('ip', ['netns', 'add', this.netns]);
    await must('ip', ['link', 'add', record.veth, 'type', 'veth', 'peer', 'name', peer]);
    await must('ip', ['link', 'set', peer, 'netns', this.netns]);
    const inside = (...args: string[]) => must('ip', ['-n', this.netns, ...args]);
    await inside('link', 'set', peer, 'name', 'eth0');
    await inside('addr', 'add', `${options.address}/${net.prefix}`, 'dev', 'eth0');
    await inside('link', 'set', 'lo', 'up');
    await inside('link', 'set', 'eth0', 'up');
    await inside('route', 'add', 'default', 'via', net.gateway);
    await must('ip', ['link', 'set', record.veth, 'master', net.bridge]);
    await must('ip', ['link', 'set', record.veth, 'up']);
    if (options.bandwidthMbit !== undefined) {
      const rate = `${options.bandwidthMbit}mbit`;
      for (const [prefix, dev] of [
        [[], record.veth],
        [['ip', 'netns', 'exec', this.netns], 'eth0'],
      ] as const) {
        const tc = async (...args: string[]) => {
          const [file, ...rest] = [...prefix, 'tc', ...args];
          await must(file, rest);
        };
        await tc('qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '10');
        await tc('class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', rate, 'ceil', rate);
      }
    }

    if (options.disk && 'device' in options.disk) {
      const match = /^\/dev\/zram(\d+)$/.exec(options.disk.device);
      if (!match || !existsSync(options.disk.device))
        throw new Error(`host ${options.name}: ${options.disk.device} is not a zram device of this machine`);
      record.zram = Number(match[1]);
      this.save();
    } else if (options.disk) {
      record.zram = Number(readFileSync('/sys/class/zram-control/hot_add', 'utf8').trim());
      this.save();
      writeFileSync(`/sys/block/zram${record.zram}/disksize`, `${Math.round(options.disk.sizeGiB * 1024)}M`);
      if (!existsSync(this.disk!)) {
        const [major, minor] = readFileSync(`/sys/block/zram${record.zram}/dev`, 'utf8').trim().split(':');
        await must('mknod', [this.disk!, 'b', major, minor]);
      }
    }

    // Cgroups of its own: nspawn (with --keep-unit) makes its payload cgroup where it starts,
    // so two hosts must not start in the same one; the cpu one carries the quota.
    record.cgroups = ['cpu', 'systemd', 'unified', 'cpuacct']
      .filter((hierarchy) => existsSync(`/sys/fs/cgroup/${hierarchy}/cgroup.procs`))
      .map((hierarchy) => `/sys/fs/cgroup/${hierarchy}/strata-hosts/${net.network}/${options.name}`);
    this.save();
    for (const cgroup of record.cgroups) mkdirSync(cgroup, { recursive: true });
    if (options.cpu !== undefined) {
      const cpu = record.cgroups[0];
      writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000');
      writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(options.cpu * 100000)));
    }
  }

  /** Boots the host (again, after stop(): a reboot on the same file system and disk); resolves once systemd has finished starting up. */
  async boot(timeoutMs = 120_000): Promise<void> {
    if (this.running) throw new Error(`host ${this.name} is already running`);
    const args = [
      '-D',
      this.root,
      '--register=no',
      '--keep-unit',
      '--boot',
      `--network-namespace-path=/run/netns/${this.netns}`,
      '-M',
      this.name,
      `--hostname=${this.name}`,
      '--resolv-conf=copy-host',
      '--timezone=off',
      '--link-journal=no',
      // Its network namespace is its own, so it may change it (as --private-network would allow).
      '--capability=CAP_NET_ADMIN',
    ];
    if (this.disk) args.push(`--bind=${this.disk}`);
    for (const bind of this.options.binds ?? [])
      args.push(`--bind${bind.readOnly ? '-ro' : ''}=${bind.source}:${bind.target}`);
    const console = openSync(join(this.record.dir, 'console.log'), 'a');
    const child = spawn(
      'sh',
      [
        '-c',
        'for g in $STRATA_CGROUPS; do echo $$ > "$g/cgroup.procs" || exit 1; done; exec systemd-nspawn "$@"',
        'sh',
        ...args,
      ],
      {
        env: { ...process.env, STRATA_CGROUPS: (this.record.cgroups ?? []).join(' '), SYSTEMD_NSPAWN_TMPFS_TMP: '0' },
        stdio: ['ignore', console, console],
        detached: true, // its own process group: a Ctrl-C reaches the harness, which stops the hosts itself
      },
    );
    closeSync(console);
    child.unref();
    this.record.nspawnPid = child.pid;
    this.record.leaderPid = undefined;
    this.save();
    // The container's PID 1 is nspawn's child once it has become systemd: entering an
    // earlier process would join namespaces the container has not finished making.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!processAlive(child.pid!))
        throw new Error(
          `host ${this.name}: systemd-nspawn exited at boot; its output is in ${join(this.record.dir, 'console.log')}:\n${this.consoleTail()}`,
        );
      const leader = readChildren(child.pid!).find((pid) => commandName(pid) === 'systemd');
      if (leader !== undefined && this.record.leaderPid === undefined) {
        this.record.leaderPid = leader;
        this.save();
      }
      if (leader !== undefined) {
        const state = (await this.run(['systemctl', 'is-system-running'], { timeoutMs: 10_000 })).stdout.trim();
        if (state === 'running' || state === 'degraded') return;
      }
      if (Date.now() > deadline)
        throw new Error(`host ${this.name} did not finish booting within ${timeoutMs} ms:\n${this.consoleTail()}`);
      await sleep(250);
    }
  }

  /** Cuts the power: every process of the host dies at once. Its file system, disk and link stay, for boot(). */
  async stop(): Promise<void> {
    const { leaderPid, nspawnPid } = this.record;
    if (leaderPid !== undefined && processAlive(leaderPid)) process.kill(leaderPid, 'SIGKILL');
    await waitGone([leaderPid, nspawnPid], 15_000);
    this.record.leaderPid = undefined;
    this.record.nspawnPid = undefined;
    this.save();
  }

  /** An orderly shutdown (systemd stops every unit), as `poweroff` inside; a power cut after timeoutMs. */
  async shutdown(timeoutMs = 60_000): Promise<void> {
    const { nspawnPid, leaderPid } = this.record;
    if (nspawnPid !== undefined && processAlive(nspawnPid)) process.kill(nspawnPid, 'SIGTERM'); // nspawn turns it into SIGRTMIN+3: poweroff
    await waitGone([leaderPid, nspawnPid], timeoutMs).catch(() => undefined);
    await this.stop();
  }

  /**
   * Runs a command inside the host (all its namespaces; under its CPU quota) with a clean
   * environment; a string runs under /bin/sh -c. Never throws for a non-zero exit.
   */
  run(command: string | readonly string[], options: CommandOptions = {}): Promise<Finished> {
    if (!this.running) return Promise.resolve({ status: null, stdout: '', stderr: `host ${this.name} is not running` });
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    return execute('sh', this.insideArgs(argv, options.env), { ...options, env: undefined });
  }

  /** Starts a long-running command inside the host (as run() does) and answers its process, with pipes to its standard streams. */
  spawn(argv: readonly string[], env: Readonly<Record<string, string>> = {}): ChildProcess {
    if (!this.running) throw new Error(`host ${this.name} is not running`);
    return spawn('sh', this.insideArgs(argv, env), { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** sh's arguments that run argv inside the host (all its namespaces, its CPU cgroups) with only INSIDE_ENV and env set. */
  private insideArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): string[] {
    return [
      '-c',
      `${this.enterCpuCgroups()}exec nsenter -t ${this.record.leaderPid} -a -- env -i "$@"`,
      'sh',
      ...Object.entries({ ...INSIDE_ENV, ...env }).map(([key, value]) => `${key}=${value}`),
      ...argv,
    ];
  }

  /** Shell that moves itself into the host's CPU cgroups (the quota; cpuacct counts its time), or nothing when it has none. */
  private enterCpuCgroups(): string {
    const cgroups = (this.record.cgroups ?? []).filter((cgroup) => /^\/sys\/fs\/cgroup\/cpu(acct)?\//.test(cgroup));
    return cgroups.length > 0 ? `for g in ${cgroups.join(' ')}; do echo $$ > "$g/cgroup.procs" || exit 1; done; ` : '';
  }

  /** run(), throwing with the command's output when it fails; answers its standard output. */
  async must(command: string | readonly string[], options: CommandOptions = {}): Promise<string> {
    const result = await this.run(command, options);
    if (result.status !== 0)
      throw new Error(
        `${this.name}: ${typeof command === 'string' ? command : command.join(' ')} failed (${result.status ?? 'timed out'}):\n${`${result.stdout}${result.stderr}`.trim().split('\n').slice(-25).join('\n')}`,
      );
    return result.stdout;
  }

  /**
   * A command prefix that runs one of this machine's programs as if on the host, without
   * booting it: in the host's network namespace and cgroups (under its CPU quota, counted
   * by counters()). The benchmark runs its nodes this way: their own CPU budget and link,
   * this machine's files and Node.js.
   */
  commandPrefix(): string[] {
    return ['sh', '-c', `${this.enterCpuCgroups()}exec nsenter --net=/run/netns/${this.netns} -- "$@"`, 'sh'];
  }

  /** Changes the host's CPU quota (cores; undefined: none) and its link's bandwidth (Mbit/s), live. */
  async limit(change: { cpu?: number | null; bandwidthMbit?: number }): Promise<void> {
    if (change.cpu !== undefined) {
      if (change.cpu !== null && !(change.cpu > 0 && change.cpu <= 64))
        throw new RangeError(`host ${this.name}: cpu must be a number of cores above 0, got ${change.cpu}`);
      const cpu = this.record.cgroups?.find((cgroup) => cgroup.startsWith('/sys/fs/cgroup/cpu/'));
      if (cpu)
        writeFileSync(
          join(cpu, 'cpu.cfs_quota_us'),
          change.cpu === null ? '-1' : String(Math.round(change.cpu * 100000)),
        );
    }
    if (change.bandwidthMbit !== undefined) {
      if (this.options.bandwidthMbit === undefined)
        throw new Error(`host ${this.name} was made without a bandwidth limit; only a limited link can be changed`);
      const rate = `${change.bandwidthMbit}mbit`;
      await must('tc', [
        'class',
        'change',
        'dev',
        this.record.veth!,
        'parent',
        '1:',
        'classid',
        '1:10',
        'htb',
        'rate',
        rate,
        'ceil',
        rate,
      ]);
      await must('ip', [
        'netns',
        'exec',
        this.netns,
        'tc',
        'class',
        'change',
        'dev',
        'eth0',
        'parent',
        '1:',
        'classid',
        '1:10',
        'htb',
        'rate',
        rate,
        'ceil',
        rate,
      ]);
    }
  }

  /**
   * The host's own counters: CPU time used by everything in it (cpuacct, ns), the time
   * its quota throttled it (ns) and in how many periods, and the bytes over its link
   * (sent and received, as the host sees them).
   */
  counters(): {
    cpuNs: number;
    throttledNs: number;
    periods: number;
    throttledPeriods: number;
    txBytes: number;
    rxBytes: number;
  } {
    const cgroup = (hierarchy: string) =>
      this.record.cgroups?.find((path) => path.startsWith(`/sys/fs/cgroup/${hierarchy}/`));
    const cpuacct = cgroup('cpuacct');
    const cpu = cgroup('cpu');
    const stat = cpu
      ? Object.fromEntries(
          readFileSync(join(cpu, 'cpu.stat'), 'utf8')
            .trim()
            .split('\n')
            .map((line) => line.split(' '))
            .map(([k, v]) => [k, Number(v)]),
        )
      : {};
    // The bridge end of the veth: what it transmits, the host receives.
    const bytes = (name: string) =>
      Number(readFileSync(`/sys/class/net/${this.record.veth}/statistics/${name}`, 'utf8'));
    return {
      cpuNs: cpuacct ? Number(readFileSync(join(cpuacct, 'cpuacct.usage'), 'utf8')) : 0,
      throttledNs: stat.throttled_time ?? 0,
      periods: stat.nr_periods ?? 0,
      throttledPeriods: stat.nr_throttled ?? 0,
      txBytes: bytes('rx_bytes'),
      rxBytes: bytes('tx_bytes'),
    };
  }

  /** Runs one of this machine's programs in the host's network namespace only (e.g. nft, tc, ss). */
  inNetwork(file: string, args: readonly string[], options: CommandOptions = {}): Promise<string> {
    return must('ip', ['netns', 'exec', this.netns, file, ...args], options);
  }

  /** Writes a file into the host's file system (through its overlay), making its folders. */
  writeFile(path: string, content: string, mode = 0o644): void {
    const target = join(this.root, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content, { mode });
  }

  readFile(path: string): string {
    return readFileSync(join(this.root, path), 'utf8');
  }

  /** Stops the host if it runs and removes all of it; with keepDisk, its disk stays for another host and is answered. */
  async remove(options: { keepDisk?: boolean } = {}): Promise<string | undefined> {
    await this.stop();
    const disk = options.keepDisk ? this.disk : undefined;
    this.record.keepZram = options.keepDisk ?? false;
    this.removeSync();
    return disk;
  }

  /** @internal */
  removeSync(): void {
    removeHostSync(this.record);
    this.forget();
  }

  private consoleTail(): string {
    try {
      return readFileSync(join(this.record.dir, 'console.log'), 'utf8').trim().split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitGone(pids: (number | undefined)[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((pid) => pid !== undefined && processAlive(pid))) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} did not end within ${timeoutMs} ms`);
    await sleep(100);
  }
}
