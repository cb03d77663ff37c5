import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from './commands';

/** What was made for one host, as recorded while it was made; every field is undone by removeHostSync. */
export interface HostRecord {
  name: string;
  /** Its folder: the overlay's upper and work folders, the mount point, console.log. */
  dir: string;
  mounted?: string;
  /** The zram device and mount of the host's own root disk, if it has one. */
  rootZram?: number;
  rootMounted?: string;
  netns?: string;
  veth?: string;
  zram?: number;
  /** Leave the zram device for another host (a replacement keeping its disk). */
  keepZram?: boolean;
  cgroups?: string[];
  nspawnPid?: number;
  leaderPid?: number;
}

/** What was made for one network: its bridge, its NAT table and the ip_forward value before it, its hosts. */
export interface NetworkRecord {
  pid: number;
  name: string;
  statePath: string;
  bridge: string;
  nat?: { table: string; ipForward: string };
  hosts: Record<string, HostRecord>;
}

const HOSTS_DIR = '/var/lib/strata-hosts/';

/** Undoes everything in the record, hosts first; each step goes on when one fails (the error is printed). Synchronous: it runs in exit handlers. */
export function cleanUpRecord(record: NetworkRecord): void {
  for (const host of Object.values(record.hosts)) removeHostSync(host);
  quietly('ip', ['link', 'del', record.bridge]);
  if (record.nat) {
    quietly('nft', ['delete', 'table', 'ip', record.nat.table]);
    attempt(() => writeFileSync('/proc/sys/net/ipv4/ip_forward', record.nat!.ipForward));
  }
  for (const hierarchy of ['cpu', 'systemd', 'unified', 'cpuacct']) {
    for (const folder of [
      `/sys/fs/cgroup/${hierarchy}/strata-hosts/${record.name}`,
      `/sys/fs/cgroup/${hierarchy}/strata-hosts`,
    ])
      attempt(() => rmdirSync(folder));
  }
  attempt(() => rmSync(record.statePath, { force: true }));
  attempt(() => rmdirSync(join(HOSTS_DIR, record.name)));
}

/** Kills the host's processes (its PID 1 first: the kernel then ends every process in it), then unmounts and removes what it had. */
export function removeHostSync(host: HostRecord): void {
  for (const pid of [host.leaderPid, host.nspawnPid]) {
    if (pid !== undefined && processAlive(pid)) attempt(() => process.kill(pid, 'SIGKILL'));
  }
  // Whatever else is left in the host's cgroups (a process that outlived its nspawn) goes too.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const left = [host.leaderPid, host.nspawnPid, ...(host.cgroups ?? []).flatMap(processesIn)].filter(
      (pid): pid is number => pid !== undefined && processAlive(pid),
    );
    if (left.length === 0 || Date.now() > deadline) break;
    for (const pid of left) attempt(() => process.kill(pid, 'SIGKILL'));
    pause(100);
  }
  if (host.mounted && mountedAt(host.mounted)) {
    if (!quietly('umount', [host.mounted], true)) quietly('umount', ['-l', host.mounted]);
  }
  if (host.rootMounted && mountedAt(host.rootMounted)) {
    if (!quietly('umount', [host.rootMounted], true)) quietly('umount', ['-l', host.rootMounted]);
  }
  const stillMounted = [host.mounted, host.rootMounted].some((path) => path && mountedAt(path));
  if (host.dir.startsWith(HOSTS_DIR) && !stillMounted)
    attempt(() => rmSync(host.dir, { recursive: true, force: true }));
  if (host.rootZram !== undefined) releaseZram(host.rootZram);
  if (host.netns) quietly('ip', ['netns', 'del', host.netns], true);
  if (host.veth) quietly('ip', ['link', 'del', host.veth], true);
  if (host.zram !== undefined && !host.keepZram) releaseZram(host.zram);
  for (const cgroup of host.cgroups ?? []) removeCgroupTree(cgroup);
}

/** Empties and removes a zram device made with hot_add (retrying while its last user lets go of it). */
export function releaseZram(id: number): void {
  if (!existsSync(`/sys/block/zram${id}`)) return;
  for (let attemptNo = 0; attemptNo < 20; attemptNo++) {
    try {
      writeFileSync(`/sys/block/zram${id}/reset`, '1');
      writeFileSync('/sys/class/zram-control/hot_remove', String(id));
      rmSync(`/dev/zram${id}`, { force: true });
      return;
    } catch {
      pause(250);
    }
  }
  process.stderr.write(`emulated hosts: could not remove /dev/zram${id} (still in use)\n`);
}

/** Every process in a cgroup and the cgroups below it. */
function processesIn(path: string): number[] {
  if (!existsSync(path)) return [];
  const own = readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const below = readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => processesIn(join(path, entry.name)));
  return [...own, ...below];
}

/** rmdir of a cgroup and every cgroup below it, deepest first (a host's systemd makes its own inside). */
function removeCgroupTree(path: string): void {
  if (!existsSync(path)) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(join(path, entry.name));
  }
  attempt(() => rmdirSync(path));
}

function mountedAt(path: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === path);
}

/** Runs a command, printing its error unless told the failure is expected (e.g. the link already went with its namespace). */
function quietly(file: string, args: string[], expectFailure = false): boolean {
  const result = spawnSync(file, args, { encoding: 'utf8' });
  if (result.status === 0) return true;
  if (!expectFailure)
    process.stderr.write(
      `emulated hosts cleanup: ${file} ${args.join(' ')}: ${(result.stderr || result.error?.message || '').trim()}\n`,
    );
  return false;
}

function attempt(step: () => void): void {
  try {
    step();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ESRCH' && code !== 'ENOTEMPTY' && code !== 'EBUSY')
      process.stderr.write(`emulated hosts cleanup: ${(error as Error).message}\n`);
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
