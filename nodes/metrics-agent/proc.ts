import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** Cumulative CPU time from the `cpu` line of /proc/stat, in clock ticks. */
export interface CpuTimes {
  readonly busy: number;
  readonly iowait: number;
  readonly total: number;
}

/** What the agent reads off the host at one sample. */
export interface HostSample {
  /** CPU busy fraction over the interval since the previous sample, 0..1. */
  readonly cpuBusy: number;
  /** Fraction of the interval the CPUs sat idle waiting for I/O, 0..1. */
  readonly iowait: number;
  /** 1 - MemAvailable / MemTotal: MemFree alone undercounts what the kernel can hand out. */
  readonly memoryUsed: number;
  readonly load1: number;
  readonly load5: number;
  readonly load15: number;
  readonly cores: number;
}

/** The aggregate `cpu` line: user nice system idle iowait irq softirq steal (guest time is inside user). */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const ticks = line?.trim().split(/\s+/).slice(1, 9).map(Number);
  if (!ticks || ticks.length < 5 || ticks.some((t) => !Number.isFinite(t)))
    throw new Error('/proc/stat has no readable "cpu" line');
  const [, , , idle, iowait] = ticks;
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - idle - iowait, iowait, total };
}

export function parseMeminfo(text: string): { readonly totalKb: number; readonly availableKb: number } {
  const value = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!match) throw new Error(`/proc/meminfo has no ${name} line`);
    return Number(match[1]);
  };
  return { totalKb: value('MemTotal'), availableKb: value('MemAvailable') };
}

export function parseLoadavg(text: string): readonly [number, number, number] {
  const [l1, l5, l15] = text.trim().split(/\s+/).map(Number);
  if (![l1, l5, l15].every(Number.isFinite)) throw new Error('/proc/loadavg is not readable');
  return [l1, l5, l15];
}

/**
 * What a node measures itself by: its host (the machine, or the cgroup quota it runs
 * under), or only its own process, for nodes that share one machine as plain processes
 * (`npm start`), where the machine's figures would count every other node's work.
 */
export type MeasureScope = 'host' | 'process';

/** `--measure`'s values, for messages. */
export const MEASURE_SCOPES: readonly MeasureScope[] = ['host', 'process'];

/** One thread's /proc/PID/task/TID/schedstat: nanoseconds on a CPU (then waiting for one, and time slices). */
export function parseSchedstat(text: string): number {
  const runNs = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(runNs)) throw new Error('schedstat is not readable');
  return runNs;
}

/**
 * Samples CPU, memory and load from a /proc folder (the real one by default, fixture
 * folders in tests). CPU busy is the change in busy ticks over the change in all ticks
 * since the previous sample, so it covers the real interval between samples; the first
 * sample covers the time since boot. A zero interval keeps the previous figure.
 */
export class ProcSampler {
  private previous: CpuTimes | undefined;
  private last = { cpuBusy: 0, iowait: 0 };
  private quota: CgroupQuota | undefined | null = null;
  private previousQuota: { usageNs: number; throttledNs: number; wallNs: bigint } | undefined;
  private previousThreads: { runNsByThread: Map<string, number>; wallNs: bigint } | undefined;
  private lastLoad = 0;

  constructor(
    private readonly procDir = '/proc',
    private readonly cores = availableParallelism(),
    private readonly cgroupDir = '/sys/fs/cgroup',
    private readonly scope: MeasureScope = 'host',
  ) {}

  async sample(): Promise<HostSample> {
    const read = (name: string) => readFile(join(this.procDir, name), 'utf8');
    if (this.quota === null && this.scope === 'host') this.quota = await cgroupQuota(this.procDir, this.cgroupDir);
    const [meminfo, cpu] = await Promise.all([
      read('meminfo'),
      this.scope === 'process'
        ? this.sampleProcess()
        : this.quota
          ? this.sampleQuota(this.quota)
          : this.sampleMachine(read),
    ]);
    const memory = parseMeminfo(meminfo);
    return { ...cpu, memoryUsed: clamp(1 - memory.availableKb / memory.totalKb) };
  }

  /** CPU busy and load of the whole machine, from /proc/stat (since the last sample) and /proc/loadavg. */
  private async sampleMachine(read: (name: string) => Promise<string>): Promise<Omit<HostSample, 'memoryUsed'>> {
    const [stat, loadavg] = await Promise.all([read('stat'), read('loadavg')]);
    const cpu = parseProcStat(stat);
    const since = this.previous ?? { busy: 0, iowait: 0, total: 0 };
    const elapsed = cpu.total - since.total;
    if (elapsed > 0) {
      this.last = {
        cpuBusy: clamp((cpu.busy - since.busy) / elapsed),
        iowait: clamp((cpu.iowait - since.iowait) / elapsed),
      };
    }
    this.previous = cpu;
    const [load1, load5, load15] = parseLoadavg(loadavg);
    return { ...this.last, load1, load5, load15, cores: this.cores };
  }

  /**
   * Under a CPU quota (a container, an emulated host) the machine's /proc/stat and
   * loadavg say nothing about this node's budget: CPU busy is the group's CPU time over
   * its quota, and the load per core is that plus the share of the time the quota held
   * the group back (work waiting for CPU), so a saturated node is over 0.8 on both.
   */
  private async sampleQuota(quota: CgroupQuota): Promise<Omit<HostSample, 'memoryUsed'>> {
    const usageNs = Number(await readFile(quota.usageFile, 'utf8'));
    const stat = await readFile(quota.statFile, 'utf8');
    const throttledNs = Number(/^throttled_time (\d+)/m.exec(stat)?.[1] ?? 0);
    const wallNs = process.hrtime.bigint();
    const since = this.previousQuota;
    this.previousQuota = { usageNs, throttledNs, wallNs };
    if (since && wallNs > since.wallNs) {
      const wall = Number(wallNs - since.wallNs);
      const busy = clamp((usageNs - since.usageNs) / (wall * quota.cores));
      this.last = { cpuBusy: busy, iowait: 0 };
      this.lastLoad = (busy + clamp((throttledNs - since.throttledNs) / wall)) * Math.max(1, quota.cores);
    }
    return { ...this.last, load1: this.lastLoad, load5: this.lastLoad, load15: this.lastLoad, cores: quota.cores };
  }

  /**
   * This process alone, as if it had the machine's cores to itself: CPU busy is its
   * threads' time on a CPU over the interval and the cores, and its load is that time
   * over the interval (how many of its threads ran, on average). Their time waiting for a
   * CPU is left out: on a shared machine that is mostly the other processes' doing, and
   * these figures must move only with what this process runs.
   */
  private async sampleProcess(): Promise<Omit<HostSample, 'memoryUsed'>> {
    const taskDir = join(this.procDir, 'self', 'task');
    const runNsByThread = new Map<string, number>();
    for (const thread of await readdir(taskDir)) {
      // A thread may end between the listing and the read: it is left out of this interval.
      const text = await readFile(join(taskDir, thread, 'schedstat'), 'utf8').catch(() => undefined);
      if (text !== undefined) runNsByThread.set(thread, parseSchedstat(text));
    }
    const wallNs = process.hrtime.bigint();
    const since = this.previousThreads;
    this.previousThreads = { runNsByThread, wallNs };
    if (since && wallNs > since.wallNs) {
      let runNs = 0;
      for (const [thread, now] of runNsByThread) {
        // A thread not seen at the last sample counts from the next one: its figure is its
        // whole life's, which may have begun long before (one missed in a listing).
        const before = since.runNsByThread.get(thread);
        if (before !== undefined) runNs += Math.max(0, now - before);
      }
      const wall = Number(wallNs - since.wallNs);
      this.last = { cpuBusy: clamp(runNs / (wall * this.cores)), iowait: 0 };
      this.lastLoad = runNs / wall;
    }
    return { ...this.last, load1: this.lastLoad, load5: this.lastLoad, load15: this.lastLoad, cores: this.cores };
  }
}

interface CgroupQuota {
  readonly cores: number;
  readonly usageFile: string;
  readonly statFile: string;
}

/** This process's cgroup v1 CPU quota, if it has one and its usage is counted (cpuacct); else undefined. */
async function cgroupQuota(procDir: string, cgroupDir: string): Promise<CgroupQuota | undefined> {
  try {
    const lines = (await readFile(join(procDir, 'self', 'cgroup'), 'utf8')).split('\n').map((line) => line.split(':'));
    const path = (controller: string) =>
      lines.find(([, controllers]) => controllers?.split(',').includes(controller))?.[2];
    const cpu = path('cpu');
    const cpuacct = path('cpuacct');
    if (cpu === undefined || cpuacct === undefined) return undefined;
    const cpuDir = join(cgroupDir, existsSync(join(cgroupDir, 'cpu')) ? 'cpu' : 'cpu,cpuacct', cpu);
    const quotaUs = Number(await readFile(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8'));
    const periodUs = Number(await readFile(join(cpuDir, 'cpu.cfs_period_us'), 'utf8'));
    if (!(quotaUs > 0 && periodUs > 0)) return undefined;
    const usageFile = join(
      cgroupDir,
      existsSync(join(cgroupDir, 'cpuacct')) ? 'cpuacct' : 'cpu,cpuacct',
      cpuacct,
      'cpuacct.usage',
    );
    if (!existsSync(usageFile)) return undefined;
    return { cores: quotaUs / periodUs, usageFile, statFile: join(cpuDir, 'cpu.stat') };
  } catch {
    return undefined;
  }
}

function clamp(fraction: number): number {
  return Math.min(1, Math.max(0, fraction));
}
