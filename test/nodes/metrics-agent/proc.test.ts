import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineFile } from '../../../common/cli';
import { MemoryStateStore } from '../../../common/state';
import { emfRecord, MetricsAgent } from '../../../nodes/metrics-agent/agent';
import { ProcSampler, parseLoadavg, parseMeminfo, parseProcStat } from '../../../nodes/metrics-agent/proc';

const MEMINFO =
  'MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\nBuffers:          100 kB\n';

function procFolder(statTicks: number[]): { dir: string; setStat: (ticks: number[]) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'proc-'));
  const setStat = (ticks: number[]) =>
    writeFileSync(join(dir, 'stat'), `cpu  ${ticks.join(' ')} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n`);
  setStat(statTicks);
  writeFileSync(join(dir, 'meminfo'), MEMINFO);
  writeFileSync(join(dir, 'loadavg'), '1.50 0.75 0.25 2/345 6789\n');
  return { dir, setStat };
}

describe('/proc parsing', () => {
  test('reads busy, iowait and total ticks from the aggregate cpu line', () => {
    // user nice system idle iowait irq softirq steal
    expect(parseProcStat('cpu  100 10 50 800 20 5 5 10 0 0\ncpu0 1 1 1 1 1 1 1 1\n')).toEqual({
      busy: 180,
      iowait: 20,
      total: 1000,
    });
  });

  test('takes memory in use from MemAvailable, not MemFree', () => {
    expect(parseMeminfo(MEMINFO)).toEqual({ totalKb: 16_000_000, availableKb: 4_000_000 });
  });

  test('reads the three load averages', () => {
    expect(parseLoadavg('0.52 0.58 0.59 1/467 12345\n')).toEqual([0.52, 0.58, 0.59]);
  });

  test('rejects files it cannot read, naming them', () => {
    expect(() => parseProcStat('intr 1\n')).toThrow('/proc/stat has no readable "cpu" line');
    expect(() => parseMeminfo('MemTotal: 1 kB\n')).toThrow('/proc/meminfo has no MemAvailable line');
  });
});

describe('ProcSampler', () => {
  test('measures CPU over the interval between samples, and keeps the last figure over a zero interval', async () => {
    const proc = procFolder([100, 0, 100, 700, 100, 0, 0, 0]); // since boot: 20% busy, 10% iowait
    const sampler = new ProcSampler(proc.dir, 4);
    expect(await sampler.sample()).toEqual({
      cpuBusy: 0.2,
      iowait: 0.1,
      memoryUsed: 0.75,
      load1: 1.5,
      load5: 0.75,
      load15: 0.25,
      cores: 4,
    });
    proc.setStat([400, 0, 200, 800, 200, 0, 0, 0]); // +300 user +100 system +100 idle +100 iowait: 400 of 600 busy
    expect((await sampler.sample()).cpuBusy).toBeCloseTo(400 / 600);
    expect((await sampler.sample()).cpuBusy).toBeCloseTo(400 / 600); // nothing elapsed: no division by zero
  });

  test('under a cgroup CPU quota (a container, an emulated host) it measures the group against its quota', async () => {
    const proc = procFolder([100, 0, 100, 700, 100, 0, 0, 0]);
    mkdirSync(join(proc.dir, 'self'));
    writeFileSync(join(proc.dir, 'self', 'cgroup'), '5:cpuacct:/hosts/s1\n4:cpu:/hosts/s1\n1:name=systemd:/hosts/s1\n');
    const cgroups = mkdtempSync(join(tmpdir(), 'cgroup-'));
    const cpu = join(cgroups, 'cpu', 'hosts', 's1');
    const cpuacct = join(cgroups, 'cpuacct', 'hosts', 's1');
    mkdirSync(cpu, { recursive: true });
    mkdirSync(cpuacct, { recursive: true });
    writeFileSync(join(cpu, 'cpu.cfs_quota_us'), '50000\n');
    writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000\n');
    writeFileSync(join(cpu, 'cpu.stat'), 'nr_periods 10\nnr_throttled 0\nthrottled_time 0\n');
    writeFileSync(join(cpuacct, 'cpuacct.usage'), '1000000000\n');
    const sampler = new ProcSampler(proc.dir, 2, cgroups);
    const started = process.hrtime.bigint(); // before the first sample: the sampler's interval lies inside ours
    expect((await sampler.sample()).cores).toBe(0.5); // the quota's cores, not the machine's 2
    await new Promise((resolve) => setTimeout(resolve, 200));
    writeFileSync(join(cpuacct, 'cpuacct.usage'), String(1e9 + 20e6)); // 20 ms of CPU
    const sample = await sampler.sample();
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(sample.cpuBusy).toBeGreaterThan(0);
    expect(sample.cpuBusy).toBeLessThanOrEqual(20 / (0.5 * 200) + 1e-9); // 20 ms over at least 200 ms at half a core
    expect(sample.cpuBusy).toBeGreaterThanOrEqual(20 / (0.5 * wallMs) - 1e-9);
    expect(sample.load1).toBeCloseTo(sample.cpuBusy); // not throttled: the load is the busy share
    expect(sample.memoryUsed).toBe(0.75); // memory is still the machine's
    rmSync(cgroups, { recursive: true, force: true });
  });

  test('without a quota (none set, or no such cgroup) it reads /proc as before', async () => {
    const proc = procFolder([100, 0, 100, 700, 100, 0, 0, 0]);
    mkdirSync(join(proc.dir, 'self'));
    writeFileSync(join(proc.dir, 'self', 'cgroup'), '5:cpuacct:/\n4:cpu:/\n');
    const cgroups = mkdtempSync(join(tmpdir(), 'cgroup-'));
    mkdirSync(join(cgroups, 'cpu'), { recursive: true });
    writeFileSync(join(cgroups, 'cpu', 'cpu.cfs_quota_us'), '-1\n');
    writeFileSync(join(cgroups, 'cpu', 'cpu.cfs_period_us'), '100000\n');
    expect(await new ProcSampler(proc.dir, 4, cgroups).sample()).toEqual({
      cpuBusy: 0.2,
      iowait: 0.1,
      memoryUsed: 0.75,
      load1: 1.5,
      load5: 0.75,
      load15: 0.25,
      cores: 4,
    });
    rmSync(cgroups, { recursive: true, force: true });
  });

  test("measuring its own process, it counts its threads' CPU and run-queue wait, not the machine's", async () => {
    const proc = procFolder([100, 0, 100, 700, 100, 0, 0, 0]); // the machine: 20 % busy, load 1.5
    const thread = (tid: string, runMs: number, waitMs: number) => {
      mkdirSync(join(proc.dir, 'self', 'task', tid), { recursive: true });
      writeFileSync(join(proc.dir, 'self', 'task', tid, 'schedstat'), `${runMs * 1e6} ${waitMs * 1e6} 7\n`);
    };
    thread('101', 1_000, 500);
    thread('102', 2_000, 0);
    const sampler = new ProcSampler(proc.dir, 2, undefined, 'process');
    const started = process.hrtime.bigint();
    expect(await sampler.sample()).toMatchObject({ cpuBusy: 0, load1: 0, cores: 2, memoryUsed: 0.75 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    thread('101', 1_100, 900); // +100 ms on a CPU, +400 ms waiting for one (others' work, mostly)
    rmSync(join(proc.dir, 'self', 'task', '102'), { recursive: true }); // ended: left out
    thread('103', 5_000, 3_000); // not seen before: its whole life's figures, counted from the next sample
    const sample = await sampler.sample();
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(sample.cpuBusy).toBeLessThanOrEqual(100 / (200 * 2) + 1e-9); // 100 ms of CPU over 2 cores
    expect(sample.cpuBusy).toBeGreaterThanOrEqual(100 / (wallMs * 2) - 1e-9);
    expect(sample.load1).toBeLessThanOrEqual(100 / 200 + 1e-9); // threads on a CPU, on average
    expect(sample.load1).toBeGreaterThanOrEqual(100 / wallMs - 1e-9);
    expect(sample.load5).toBe(sample.load1);
    thread('103', 5_040, 3_000);
    expect((await sampler.sample()).load1).toBeGreaterThan(0); // from then on it counts
  });

  test("measuring its own process on the real /proc: a busy thread is load, another process's work is not", async () => {
    const sampler = new ProcSampler(undefined, undefined, undefined, 'process');
    const started = process.hrtime.bigint();
    await sampler.sample();
    const spunUntil = process.cpuUsage().user + 150_000;
    while (process.cpuUsage().user < spunUntil); // 150 ms of CPU time, however long a busy machine takes to give it
    const busy = await sampler.sample();
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(busy.load1).toBeGreaterThanOrEqual((0.5 * 150) / wallMs); // most of the 150 ms is this thread's
    const other = spawn(process.execPath, ['-e', 'const t = Date.now() + 600; while (Date.now() < t);']);
    await new Promise((resolve) => other.once('spawn', resolve));
    // This process is idle but not still (its runtime's own threads: compiling, collecting
    // garbage), so what it may be measured at is its own CPU time, all threads, over the
    // interval; the other process spinning a core is not in it.
    const cpuBefore = process.cpuUsage();
    await sampler.sample();
    const idleFrom = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, 300)); // this process idle, the other busy
    const idleMs = Number(process.hrtime.bigint() - idleFrom) / 1e6;
    const idle = await sampler.sample();
    const own = process.cpuUsage(cpuBefore);
    other.kill();
    const ownLoad = (own.user + own.system) / 1000 / idleMs;
    expect(idle.load1).toBeLessThan(ownLoad + 0.25);
    expect(idle.cpuBusy).toBeLessThan(ownLoad / idle.cores + 0.125);
  });

  test("reads this machine's real /proc", async () => {
    const sampler = new ProcSampler();
    await sampler.sample();
    const busyUntil = Date.now() + 150;
    while (Date.now() < busyUntil); // keep one core busy for part of the interval
    const sample = await sampler.sample();
    expect(sample.cpuBusy).toBeGreaterThan(0);
    expect(sample.cpuBusy).toBeLessThanOrEqual(1);
    expect(sample.memoryUsed).toBeGreaterThan(0);
    expect(sample.memoryUsed).toBeLessThan(1);
    expect(sample.load1).toBeGreaterThanOrEqual(0);
    expect(sample.cores).toBeGreaterThanOrEqual(1);
  });
});

describe('MetricsAgent', () => {
  test('publishes its node to the state store with slots and a heartbeat that expires', async () => {
    let now = 1_000;
    const store = new MemoryStateStore(() => now);
    const emf: string[] = [];
    const agent = new MetricsAgent({
      id: 'n1',
      address: '127.0.0.1:9001',
      role: 'compute',
      store,
      slots: () => ({ total: 4, used: 3 }),
      draining: () => false,
      intervalMs: 1000,
      sampler: new ProcSampler(procFolder([100, 0, 100, 700, 100, 0, 0, 0]).dir, 2),
      emf: (line) => emf.push(line),
      now: () => now,
    });
    await agent.publish();
    expect(await store.liveNodes()).toEqual([
      expect.objectContaining({
        id: 'n1',
        slotsTotal: 4,
        slotsUsed: 3,
        cpuBusy: 0.2,
        memoryUsed: 0.75,
        load1: 1.5,
        cores: 2,
        heartbeatAt: 1_000,
        inFlight: 0,
      }),
    ]);
    const record = JSON.parse(emf[0]);
    expect(record).toMatchObject({
      NodeId: 'n1',
      Role: 'compute',
      CpuBusy: 20,
      IoWait: 10,
      MemoryUsed: 75,
      LoadPerCore: 0.75,
      SlotsUsed: 3,
      SlotUse: 75,
    });
    expect(record._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: 'CpuBusy', Unit: 'Percent' });
    now += 3_000; // the default TTL is three intervals
    expect(await store.liveNodes()).toEqual([]);
  });

  test('counts a failed publish and carries on', async () => {
    const store = new MemoryStateStore();
    store.heartbeat = async () => {
      throw new Error('connection refused');
    };
    const agent = new MetricsAgent({
      id: 'n1',
      address: 'a',
      role: 'storage',
      store,
      slots: () => ({ total: 1, used: 0 }),
      draining: () => true,
    });
    const report = await agent.publish();
    expect(agent.failedPublishes).toBe(1);
    expect(report.draining).toBe(true);
  });

  test('an EMF file it cannot write (here a folder: EISDIR) neither stops start() nor the heartbeat; it says so once, and again when the file works', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'emf-'));
    const path = join(folder, 'metrics.emf');
    mkdirSync(path); // what appendFileSync cannot append to, as a root-owned file is for user strata
    const store = new MemoryStateStore();
    const warnings: string[] = [];
    const agent = new MetricsAgent({
      id: 's1',
      address: 'a',
      role: 'storage',
      store,
      slots: () => ({ total: 2, used: 0 }),
      draining: () => false,
      emf: lineFile(path),
      warn: (message) => warnings.push(message),
    });
    await expect(agent.start()).resolves.toBeUndefined();
    agent.stop();
    expect((await store.liveNodes()).map((n) => n.id)).toEqual(['s1']);
    await agent.publish();
    expect(agent.failedEmfWrites).toBe(2);
    expect(warnings).toEqual([expect.stringContaining('cannot write EMF records (EISDIR')]);
    rmSync(path, { recursive: true });
    await agent.publish();
    expect(warnings[1]).toBe('metrics agent: EMF records are written again');
    expect(JSON.parse(readFileSync(path, 'utf8')).NodeId).toBe('s1');
  });

  test('emfRecord names every metric it carries', () => {
    const record = emfRecord(
      {
        id: 'n',
        address: 'a',
        role: 'compute',
        slotsTotal: 1,
        slotsUsed: 0,
        cpuBusy: 0,
        memoryUsed: 0,
        load1: 0,
        load5: 0,
        load15: 0,
        cores: 1,
        heartbeatAt: 5,
        draining: false,
      },
      { cpuBusy: 0, iowait: 0, memoryUsed: 0, load1: 0, load5: 0, load15: 0, cores: 1 },
    ) as { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } } & Record<string, unknown>;
    for (const { Name } of record._aws.CloudWatchMetrics[0].Metrics) expect(record[Name]).toBeDefined();
  });
});
