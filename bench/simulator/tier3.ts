import {
  applyIndexed,
  applySelection,
  type FleetColumns,
  type Invocation,
  indexServiceMs,
  invocationStrategy,
  isIndexed,
  type NodeView,
  type OffloadThresholds,
  offloadPolicy,
  type PolicyContext,
  ServiceTimeEstimator,
  seededRandom,
  underThresholds,
} from '@strata/policy-engine';
import { type LatencySummary, summarize } from '../../common/stats';

/**
 * The emulated benchmark's fleet as a model (local/emulated-fleet.ts is the system): a
 * few compute nodes and one storage node, each with a CPU quota (cores) and a link
 * (Mbit/s each way), running data stages (word count over one object) either on the
 * compute node, which first reads the object through RGW over both links, or near the
 * data on the storage node. A fluid model stepped every millisecond: a host's CPU is
 * shared equally by the stages on it (one stage uses at most one core), a link by the
 * transfers on it, and a transfer goes at the slower of its two ends. A stage on a
 * compute node streams: it counts words as the object arrives, so its pace is the slower
 * of its share of the links and its share of the CPU. The tier-1
 * strategy and the offload policy are the policy engine's; every host publishes its
 * figures (CPU busy over its quota, load per core, its service time) once a heartbeat,
 * as the nodes do, and the storage node checks its thresholds on its own last figures.
 *
 * What the system has beside that, measured on it and given here: each host's CPU at
 * idle (`idleCores`, from the emulated hosts' counters before a run), the CPU each
 * invocation costs each host (`countedCosts`, from the same counters at concurrency 1),
 * the spread of an invocation's service time on each path and of refused offers run
 * locally (`spread`, from the nodes' invocation logs), and the bench's warm-up before it
 * measures (`warmUp`): the model has no cold path, but the warm-up leaves the published
 * figures and the service-time estimates where the system's leaves them. What it does as
 * the system does: the dispatcher's polling queue (`queue`), RGW serving as it sends
 * (`serving`), and the held-back time a host publishes counted as the kernel counts it
 * (`throttle`). docs/benchmarks.md ("Model against system") says where each figure is from.
 */
export interface Tier3Options {
  /** Compute nodes' CPU quotas, cores: one node each. */
  readonly computeCpu: readonly number[];
  /** Slots per compute node. @default 2 */
  readonly slots?: number;
  readonly storageCpu: number;
  /** @default 2 */
  readonly storageSlots?: number;
  /** Every node's link, Mbit/s each way. */
  readonly linkMbit: number;
  readonly objectBytes: number;
  /** CPU of the data stage on a compute node (reading the object through the S3 client, and word count over it), ms on a whole core. */
  readonly stageCpuMs: number;
  /**
   * The same stage's CPU on each compute node, where it was measured: a quota's share of
   * a core comes in slices (cgroup periods), so the same work costs a quarter-core node
   * more than a half-core one. Replaces stageCpuMs for a node that has a figure. @default none
   */
  readonly nodeStageCpuMs?: readonly (number | undefined)[];
  /** CPU of the data stage on the storage host, all of it there (RGW and the OSDs serving it, the agent reading it, the stage), ms on a whole core. */
  readonly nearStageCpuMs: number;
  /** CPU on the storage host to serve the object through RGW to a compute node (RGW and the OSDs), ms on a whole core. */
  readonly serveCpuMs: number;
  /** CPU a node spends on an invocation besides the stage (HTTP, S3 client, JSON), ms on a whole core. */
  readonly overheadCpuMs: number;
  /** The storage host's background CPU (Ceph's daemons when idle), cores. @default 0 */
  readonly storageIdleCores?: number;
  /** Every node's background CPU (heartbeats, metrics, logs), cores. @default 0 */
  readonly nodeIdleCores?: number;
  /**
   * Each host's background CPU as measured at its idle, cores: one per compute node, then
   * the storage host. Replaces nodeIdleCores and storageIdleCores. @default none
   */
  readonly idleCores?: readonly number[];
  /**
   * Whether the spread stretches a local run's transfer too, not only its CPU: the spread
   * was measured of the whole service time, and a transfer that shares a link varies as
   * well (TCP flows are not served in lockstep). @default true
   */
  readonly spreadTransfer?: boolean;
  /**
   * The spread of an invocation's service time on each path, as multipliers of the
   * path's median (measured: service time ÷ its path's median, from the nodes'
   * invocation logs): each invocation draws one and its CPU work is scaled by it.
   * @default none (every invocation costs the same)
   */
  readonly spread?: {
    readonly local?: readonly number[];
    readonly offloaded?: readonly number[];
    /**
     * Local runs of offers the thresholds turned down (offload not never): the storage host
     * was busy when it refused, and serves the object to the run. @default local's
     */
    readonly refused?: readonly number[];
  };
  /**
   * Before the measured requests, as the bench warms up: this many invocations per compute
   * node with offload never (all nodes at once), as many with offload always (one at a
   * time), then `settleMs` of idle; none of them counted. @default 0
   */
  readonly warmUp?: number;
  /** Idle time after the warm-up (the bench's policy settling and idle measurement). @default 7200 */
  readonly settleMs?: number;
  /**
   * Which waiting invocation the dispatcher places when a compute slot frees. `fifo`: the
   * longest waiting, as the dispatcher does (lambdas/dispatcher/dispatcher.ts,
   * reserveWhenFree). `polling`: as it did before 2026-12-06, which the bench's earlier
   * runs measured: an invocation asks at once, and while every node is full asks again
   * after a pause that doubles from 5 to 250 ms; a release wakes the first of the paused
   * list, where a waiter goes to the end each time it pauses again. So the young ones,
   * asking often, take most freed slots, and the old ones wait. @default fifo
   */
  readonly queue?: 'fifo' | 'polling';
  /** With queue polling: how long an ask takes from setting out to reserving (or failing) in the state store, ms. @default 0 */
  readonly askMs?: number;
  /**
   * When the storage host does its work to serve the object to a compute node. `before`:
   * all of it before the transfer starts. `streamed`: as RGW does, while it sends, at the
   * transfer's pace, so that a link-bound transfer asks a fraction of a core of it and
   * a slow storage CPU slows the transfer. @default before
   */
  readonly serving?: 'before' | 'streamed';
  /**
   * What a host's published load counts of a millisecond in which its work asks for more
   * than its quota. `kernel`: the time the kernel's counter (cgroup v1 cpu.stat
   * throttled_time) adds, which is what the nodes publish (nodes/metrics-agent/proc.ts):
   * each demanding thread waits out the rest of the quota's period, so demand − quota.
   * `whole`: the whole millisecond, as the model counted before. @default kernel
   */
  readonly throttle?: 'kernel' | 'whole';
  readonly strategy: string;
  /** 'thresholds' | 'never' | 'always' (the storage node then refuses only when full). */
  readonly offload: string;
  readonly thresholds?: OffloadThresholds;
  /** Closed loop: this many clients, each sending the next as its last is answered. */
  readonly concurrency: number;
  readonly requests: number;
  /** @default 1000 */
  readonly heartbeatMs?: number;
  /** @default 1 */
  readonly seed?: number;
}

export interface Tier3Result {
  readonly summary: LatencySummary;
  /** Every measured invocation's latency, in the order they finished. */
  readonly latenciesMs: readonly number[];
  readonly offloaded: number;
  /** How many of the measured invocations each compute node ran, on each path. */
  readonly perNode: Readonly<Record<string, { local: number; offloaded: number }>>;
  /** Each host's CPU use over its quota, and each link's use over its rate, over the run. */
  readonly utilisation: Readonly<Record<string, number>>;
}

type Phase =
  | { kind: 'cpu'; host: number; left: number }
  /** Bytes left of an object streamed over the two hosts' links into a stage on `host`. */
  | { kind: 'stream'; hosts: [number, number]; host: number; left: number; serveCpuPerByte?: number };
/** An invocation the dispatcher holds while every node is full (queue: polling). */
interface Waiter {
  readonly arrival: number;
  pauseMs: number;
  retryAt: number;
  /** When its ask, under way, reaches the state store and reserves or fails. */
  landsAt: number;
}

interface Job {
  started: number;
  /** When a compute slot took it: a node's service-time estimate counts from here, as the nodes' do. */
  placed: number;
  phases: Phase[];
  host: number;
  offloaded: boolean;
  /** This invocation's service-time multiplier (the measured spread). */
  scale: number;
  /** What the stream's CPU per byte is scaled by: 1 when the transfer is stretched by the spread instead. */
  cpuPerByteScale: number;
}

const AUTONDP = { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 };

export function simulateTier3(options: Tier3Options): Tier3Result {
  const n = options.computeCpu.length;
  const storage = n; // host index of the storage node
  const quota = [...options.computeCpu, options.storageCpu];
  const slots = [...options.computeCpu.map(() => options.slots ?? 2), options.storageSlots ?? 2];
  const linkBytesPerMs = (options.linkMbit * 1e6) / 8 / 1000;
  const cpuPerByte = quota.map(
    (_, host) => (options.nodeStageCpuMs?.[host] ?? options.stageCpuMs) / options.objectBytes,
  );
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const thresholds = options.thresholds ?? AUTONDP;
  const ids = [...options.computeCpu.map((_, i) => `c${i + 1}`), 's1'];
  if (options.idleCores && options.idleCores.length !== n + 1)
    throw new RangeError(
      `idleCores must give ${n + 1} figures (each compute node, then storage), got ${options.idleCores.length}`,
    );
  for (const [path, multipliers] of Object.entries(options.spread ?? {}))
    if (multipliers && (multipliers.length === 0 || multipliers.some((m) => !(m > 0 && Number.isFinite(m)))))
      throw new RangeError(`spread.${path} must list multipliers above 0, got ${JSON.stringify(multipliers)}`);
  const idleOf = (host: number) =>
    options.idleCores
      ? options.idleCores[host]
      : (options.nodeIdleCores ?? 0) + (host === storage ? (options.storageIdleCores ?? 0) : 0);
  const random = seededRandom(options.seed ?? 1);
  // A stream of its own, so that a model without a spread decides as it did before there was one.
  const spreadRandom = seededRandom((options.seed ?? 1) + 7919);
  if (options.askMs !== undefined && !(options.askMs >= 0 && Number.isFinite(options.askMs)))
    throw new RangeError(`askMs must be a number of ms of at least 0, got ${options.askMs}`);
  if (options.serving !== undefined && options.serving !== 'before' && options.serving !== 'streamed')
    throw new RangeError(`serving must be before or streamed, got "${options.serving}"`);
  if (options.throttle !== undefined && options.throttle !== 'kernel' && options.throttle !== 'whole')
    throw new RangeError(`throttle must be kernel or whole, got "${options.throttle}"`);
  if (options.queue !== undefined && options.queue !== 'fifo' && options.queue !== 'polling')
    throw new RangeError(`queue must be fifo or polling, got "${options.queue}"`);
  const draw = (path: 'local' | 'offloaded' | 'refused') => {
    const multipliers = options.spread?.[path] ?? (path === 'refused' ? options.spread?.local : undefined);
    return multipliers ? multipliers[Math.floor(spreadRandom() * multipliers.length)] : 1;
  };
  let now = 0;
  const ctx: PolicyContext = {
    get now() {
      return now;
    },
    random,
    heartbeatTtlMs: Number.MAX_SAFE_INTEGER,
  };
  const strategy = invocationStrategy(options.strategy);
  const policyOf = (name: string) =>
    offloadPolicy(name, name === 'thresholds' ? (thresholds as unknown as Record<string, unknown>) : {});
  const storageLimits =
    options.offload === 'always' ? { cpu: 1, memory: 1, loadPerCore: Number.MAX_VALUE } : thresholds;
  const invocation: Invocation = { functionName: 'wordcount', hops: 0, objectKey: 'corpus/large.txt' };

  const inFlight = new Int32Array(n + 1); // reservations (compute) and taken slots (storage)
  const estimators = ids.map(() => new ServiceTimeEstimator());
  // Per heartbeat window: CPU used and throttled ms, per host; published figures.
  const used = new Float64Array(n + 1);
  const throttled = new Float64Array(n + 1);
  const totalUsed = new Float64Array(n + 1);
  const linkUsed = new Float64Array(n + 1);
  const published = ids.map((id, i) => ({ cpuBusy: 0, load: 0, serviceMs: undefined as number | undefined, id, i }));
  const view = (): NodeView[] =>
    published.map((p) => ({
      id: p.id,
      address: p.id,
      role: p.i === storage ? 'storage' : 'compute',
      slotsTotal: slots[p.i],
      slotsUsed: inFlight[p.i],
      inFlight: inFlight[p.i],
      cpuBusy: p.cpuBusy,
      memoryUsed: 0.2,
      load1: p.load * Math.max(1, quota[p.i]),
      load5: 0,
      load15: 0,
      cores: quota[p.i],
      heartbeatAt: ctx.now,
      draining: false,
      ...(p.serviceMs === undefined ? {} : { serviceMs: p.serviceMs }),
    }));
  let nodes = view();

  const jobs = new Set<Job>();
  let cursor = 0;
  let offloaded = 0;
  const perNode: Record<string, { local: number; offloaded: number }> = {};
  for (const id of ids.slice(0, n)) perNode[id] = { local: 0, offloaded: 0 };

  const place = (arrival: number, offload: ReturnType<typeof policyOf>): boolean => {
    const computeViews = nodes.filter((node) => node.role === 'compute');
    const selection = strategy(computeViews, invocation, ctx);
    if (selection.kind !== 'select') return false;
    cursor++;
    let chosen: number;
    if (isIndexed(selection)) {
      const withHistory = published.slice(0, n).flatMap((p) => (p.serviceMs === undefined ? [] : [p.serviceMs]));
      const fleet: FleetColumns = {
        ids: ids.slice(0, n),
        inFlight: inFlight.subarray(0, n),
        slots: slots.slice(0, n),
        slotsUsed: inFlight.subarray(0, n),
        loadPerCore: published.slice(0, n).map((p) => p.load),
        // A node with no estimate yet stands at the lower median of those with one, as the
        // state store's heartbeat script places it (common/state/redis-scripts.ts).
        serviceMs: published.slice(0, n).map((p) => indexServiceMs(p.serviceMs, withHistory)),
      };
      chosen = applyIndexed(selection, fleet, cursor);
    } else {
      const index = applySelection(selection, (id) => inFlight[ids.indexOf(id)], cursor);
      chosen = index === -1 ? -1 : ids.indexOf(selection.candidates[index].id);
    }
    if (chosen === -1 || inFlight[chosen] >= slots[chosen]) return false;
    inFlight[chosen]++;
    const decision = offload(nodes, invocation, ctx, undefined);
    const storageSelf = nodes[storage];
    const taken =
      decision.kind === 'offload' && underThresholds(storageSelf, storageLimits) && inFlight[storage] < slots[storage];
    const scale = draw(taken ? 'offloaded' : options.offload === 'never' ? 'local' : 'refused');
    // The spread is of the whole service time: stretch the transfer too (as if the bytes were
    // more), the stage's CPU per byte then as it was, so that its CPU is still scaled once.
    const transferScale = options.spreadTransfer === false ? 1 : scale;
    const phases: Phase[] = taken
      ? [
          { kind: 'cpu', host: chosen, left: options.overheadCpuMs * scale },
          { kind: 'cpu', host: storage, left: options.nearStageCpuMs * scale },
        ]
      : options.serving === 'streamed'
        ? [
            { kind: 'cpu', host: chosen, left: options.overheadCpuMs * scale },
            {
              kind: 'stream',
              hosts: [chosen, storage],
              host: chosen,
              left: options.objectBytes * transferScale,
              serveCpuPerByte: (options.serveCpuMs * scale) / (options.objectBytes * transferScale),
            },
          ]
        : [
            { kind: 'cpu', host: chosen, left: options.overheadCpuMs * scale },
            { kind: 'cpu', host: storage, left: options.serveCpuMs * scale },
            { kind: 'stream', hosts: [chosen, storage], host: chosen, left: options.objectBytes * transferScale },
          ];
    if (taken) inFlight[storage]++;
    jobs.add({
      started: arrival,
      placed: now,
      phases,
      host: chosen,
      offloaded: taken,
      scale,
      cpuPerByteScale: scale / transferScale,
    });
    return true;
  };

  let nextHeartbeat = heartbeatMs;
  /** One millisecond of the fluid model; returns the jobs that finished in it. */
  const step = (): Job[] => {
    const finished: Job[] = [];
    // Fair shares for this millisecond.
    const onCpu = new Int32Array(n + 1);
    const onLink = new Int32Array(n + 1);
    for (const job of jobs) {
      const phase = job.phases[0];
      onCpu[phase.host]++;
      if (phase.kind === 'stream') for (const host of phase.hosts) onLink[host]++;
    }
    const free = (host: number) => Math.max(0, quota[host] - idleOf(host));
    const linkFor = (phase: Phase & { kind: 'stream' }) =>
      Math.min(...phase.hosts.map((host) => linkBytesPerMs / onLink[host]));
    // A streamed serve asks the storage host what its transfer's pace asks (the link and the
    // stage's CPU on the compute node), a sliver of a core each: it gets that first, and the
    // stages there share the rest (max-min fairness), unless the serves alone want it all.
    const paceOf = (job: Job, phase: Phase & { kind: 'stream' }) =>
      Math.min(
        linkFor(phase),
        Math.min(1, free(phase.host) / onCpu[phase.host]) / (cpuPerByte[phase.host] * job.cpuPerByteScale),
      );
    let serving = 0;
    for (const job of jobs) {
      const phase = job.phases[0];
      if (phase.kind === 'stream' && phase.serveCpuPerByte !== undefined)
        serving += Math.min(1, paceOf(job, phase) * phase.serveCpuPerByte);
    }
    const servedShare = serving > 0 ? Math.min(1, free(storage) / serving) : 1;
    const cpuFor = (host: number) =>
      Math.min(1, Math.max(0, free(host) - (host === storage ? Math.min(serving, free(host)) : 0)) / onCpu[host]);
    // What the work asks of each host: a core a stage, and the serves theirs.
    const demand = Float64Array.from({ length: n + 1 }, (_, host) => idleOf(host));
    for (const job of jobs) demand[job.phases[0].host]++;
    demand[storage] += serving;
    for (let host = 0; host <= n; host++) {
      const use = Math.min(demand[host], quota[host]);
      used[host] += use;
      totalUsed[host] += use;
      // As the kernel counts it (cgroup cpu.stat throttled_time, which the nodes publish):
      // over a period, the quota runs out after quota ÷ demand of it, and each of the
      // demanding threads is held back for the rest: demand − quota per ms, not 1.
      if (demand[host] > quota[host]) throttled[host] += options.throttle === 'whole' ? 1 : demand[host] - quota[host];
    }
    for (const job of [...jobs]) {
      const phase = job.phases[0];
      if (phase.kind === 'cpu') phase.left -= cpuFor(phase.host);
      else {
        const rate = paceOf(job, phase) * (phase.serveCpuPerByte === undefined ? 1 : servedShare);
        phase.left -= rate;
        for (const host of phase.hosts) linkUsed[host] += rate;
      }
      if (phase.left <= 0) job.phases.shift();
      if (job.phases.length === 0) {
        jobs.delete(job);
        inFlight[job.host]--;
        if (job.offloaded) inFlight[storage]--;
        estimators[job.host].record(invocation.functionName, now + 1 - job.placed, now);
        finished.push(job);
      }
    }
    now++;
    if (now >= nextHeartbeat) {
      for (let host = 0; host <= n; host++) {
        const busy = Math.min(1, used[host] / (heartbeatMs * quota[host]));
        published[host].cpuBusy = busy;
        published[host].load = busy + throttled[host] / heartbeatMs;
        published[host].serviceMs = estimators[host].serviceMs;
        used[host] = 0;
        throttled[host] = 0;
      }
      nodes = view();
      nextHeartbeat += heartbeatMs;
    }
    if (now > 36e5) throw new Error('the tier-3 simulation ran an hour of simulated time without finishing');
    return finished;
  };

  /** A closed loop of `concurrency` clients sending `requests` in all; the latencies, in the order they finished. */
  const askMs = options.askMs ?? 0;
  const closedLoop = (offloadName: string, concurrency: number, requests: number): number[] => {
    const offload = policyOf(offloadName);
    const latencies: number[] = [];
    let sent = 0;
    // fifo: the invocations the dispatcher queues, longest waiting first.
    const waiting: number[] = [];
    // polling: those to ask this millisecond, in order, and the paused ones in the order they paused.
    const asking: Waiter[] = [];
    const paused: Waiter[] = [];
    const arrive = () => {
      if (options.queue === 'polling') asking.push({ arrival: now, pauseMs: 0, retryAt: now, landsAt: now + askMs });
      else waiting.push(now);
    };
    for (; sent < Math.min(concurrency, requests); sent++) arrive();
    while (latencies.length < requests) {
      if (options.queue === 'polling') {
        // A pause that ran out asks again; one that fails pauses twice as long (5 to 250 ms), at the end of the list.
        for (let i = 0; i < paused.length; i++)
          if (paused[i].retryAt <= now) {
            paused[i].landsAt = now + askMs;
            asking.push(...paused.splice(i--, 1));
          }
        // The asks that reach the state store now, in the order they set out.
        const landing = asking.filter((waiter) => waiter.landsAt <= now);
        for (const waiter of landing) asking.splice(asking.indexOf(waiter), 1);
        for (const waiter of landing) {
          if (place(waiter.arrival, offload)) continue;
          waiter.pauseMs = waiter.pauseMs === 0 ? 5 : Math.min(2 * waiter.pauseMs, 250);
          waiter.retryAt = now + waiter.pauseMs;
          paused.push(waiter);
        }
      } else {
        while (waiting.length > 0 && place(waiting[0], offload)) waiting.shift();
      }
      for (const job of step()) {
        latencies.push(now - job.started);
        if (offloadName === options.offload && job.offloaded) offloaded++;
        perNode[ids[job.host]][job.offloaded ? 'offloaded' : 'local']++;
        // The release wakes the first paused waiter, which asks before the client's next invocation arrives.
        const woken = paused.shift();
        if (woken) {
          woken.landsAt = now + askMs;
          asking.push(woken);
        }
        if (sent < requests) {
          arrive();
          sent++;
        }
      }
    }
    return latencies;
  };

  const warmUp = options.warmUp ?? 0;
  if (warmUp > 0) {
    closedLoop('never', n, warmUp * n);
    closedLoop('always', 1, warmUp * n);
    const until = now + (options.settleMs ?? 7200);
    while (now < until) step();
  }
  offloaded = 0;
  for (const id of ids.slice(0, n)) perNode[id] = { local: 0, offloaded: 0 };
  totalUsed.fill(0);
  linkUsed.fill(0);
  const started = now;
  const latencies = closedLoop(options.offload, options.concurrency, options.requests);
  const elapsed = now - started;
  const utilisation: Record<string, number> = {};
  ids.forEach((id, host) => {
    utilisation[`${id} CPU`] = totalUsed[host] / (elapsed * quota[host]);
    utilisation[`${id} link`] = linkUsed[host] / (elapsed * linkBytesPerMs);
  });
  return { summary: summarize(latencies, 0, elapsed / 1000), latenciesMs: latencies, offloaded, perNode, utilisation };
}

/** One emulated bench run as --compare reads it: its hosts' quotas and idle CPU, and what its nodes logged. */
export interface MeasuredRun {
  readonly computeCpu: readonly number[];
  readonly storageCpu: number;
  /** Each compute node's idle CPU, then the storage host's, cores. @default none */
  readonly idleCores?: readonly number[];
  /** The run's offload policy: its local runs are refused offers unless it is never. @default never */
  readonly offload?: string;
  readonly levels: readonly {
    readonly load: number;
    readonly invocations?: readonly { node: string; path: 'local' | 'offloaded'; ms: number }[];
  }[];
}

/**
 * The data stage's CPU cost on each path and its spread, measured from the compute
 * nodes' invocation logs at concurrency 1, where nothing queues, so an invocation's time
 * is its work at its hosts' quotas. Each invocation implies a cost, as the model charges
 * it: a local one `(ms − serve ÷ storage's free CPU) × its node's free CPU − overhead`
 * (without the serve when it is streamed alongside the stage),
 * an offloaded one `(ms − overhead ÷ its node's free CPU) × storage's free CPU` (free:
 * the quota less the host's idle CPU). The cost is the median over every run; a local
 * stage's also for each compute quota apart (`stageCpuMsAtCores`, where at least 3 ran
 * there), since a small quota's slices make the same work cost it more. The spread is
 * each invocation's cost ÷ the median of its path (and, local, its quota) in its run,
 * for a group of at least 3; the local runs of a run that offloads are refused offers,
 * a spread of their own (`refused`).
 */
export function measuredCosts(
  runs: readonly MeasuredRun[],
  given: { readonly overheadCpuMs: number; readonly serveCpuMs: number; readonly serving?: 'before' | 'streamed' },
): {
  stageCpuMs?: number;
  nearStageCpuMs?: number;
  /** The local stage's cost on a compute node of each quota (cores, as text). */
  stageCpuMsAtCores: Record<string, number>;
  spread: { local?: number[]; offloaded?: number[]; refused?: number[] };
} {
  const costs = { local: [] as number[], offloaded: [] as number[] };
  const atCores = new Map<number, number[]>();
  const spread: { local?: number[]; offloaded?: number[]; refused?: number[] } = {};
  for (const run of runs) {
    const n = run.computeCpu.length;
    const free = (host: number) =>
      Math.max(1e-3, (run.computeCpu[host] ?? run.storageCpu) - (run.idleCores?.[host] ?? 0));
    for (const level of run.levels.filter((l) => l.load === 1)) {
      for (const path of ['local', 'offloaded'] as const) {
        const implied = (level.invocations ?? [])
          .filter((i) => i.path === path)
          .map((i) => {
            const node = Number(/^c(\d+)$/.exec(i.node)?.[1] ?? 0) - 1;
            if (node < 0 || node >= n)
              throw new RangeError(`an invocation logged by node "${i.node}", not c1 to c${n}`);
            const cost =
              path === 'local'
                ? (i.ms - (given.serving === 'streamed' ? 0 : given.serveCpuMs / free(n))) * free(node) -
                  given.overheadCpuMs
                : (i.ms - given.overheadCpuMs / free(node)) * free(n);
            // Offloaded stages all run on the storage host: one group.
            return { cost, group: path === 'local' ? run.computeCpu[node] : -1 };
          });
        costs[path].push(...implied.map((i) => i.cost));
        for (const group of new Set(implied.map((i) => i.group))) {
          const members = implied.filter((i) => i.group === group).map((i) => i.cost);
          if (path === 'local') atCores.set(group, [...(atCores.get(group) ?? []), ...members]);
          if (members.length < 3) continue;
          const middle = median(members);
          const key = path === 'local' && (run.offload ?? 'never') !== 'never' ? 'refused' : path;
          spread[key] = [...(spread[key] ?? []), ...members.map((cost) => Math.max(0.05, cost / middle))];
        }
      }
    }
  }
  const stageCpuMsAtCores: Record<string, number> = {};
  for (const [cores, group] of atCores)
    if (group.length >= 3) stageCpuMsAtCores[String(cores)] = Math.max(1, median(group));
  return {
    ...(costs.local.length > 0 ? { stageCpuMs: Math.max(1, median(costs.local)) } : {}),
    ...(costs.offloaded.length > 0 ? { nearStageCpuMs: Math.max(1, median(costs.offloaded)) } : {}),
    stageCpuMsAtCores,
    spread,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One concurrency-1 level as the hosts' counters saw it: what each host used over it, and what ran. */
export interface CountedLevel {
  readonly elapsedS: number;
  /** Each host's CPU over the level, cores, less its idle: compute nodes c1…, the storage host s1. */
  readonly busyCores: Readonly<Record<string, number>>;
  readonly invocations: readonly { node: string; path: 'local' | 'offloaded' }[];
}

/**
 * The CPU each invocation costs each host, from the hosts' own counters (cgroup
 * cpuacct) at concurrency 1, not from service times: a host's CPU over a level, less
 * its idle, is what the invocations there cost it. Over every level, by least squares:
 * the storage host's CPU = offloaded × the stage near the data + local × serving the
 * object; a compute node's = its local ones × the stage + all of its ones × its own
 * overhead. Needs levels of different mixes (offload off and always, or on at several
 * loads); an unknown the levels cannot separate is left out.
 */
export function countedCosts(levels: readonly CountedLevel[]): {
  nearStageCpuMs?: number;
  serveCpuMs?: number;
  stageCpuMs?: number;
  overheadCpuMs?: number;
} {
  const storageRows: [number, number, number][] = [];
  const computeRows: [number, number, number][] = [];
  for (const level of levels) {
    const ms = (host: string) => Math.max(0, level.busyCores[host] ?? 0) * level.elapsedS * 1000;
    const of = (path: string, node?: string) =>
      level.invocations.filter((i) => i.path === path && (node === undefined || i.node === node)).length;
    storageRows.push([of('offloaded'), of('local'), ms('s1')]);
    for (const node of Object.keys(level.busyCores).filter((host) => /^c\d+$/.test(host)))
      computeRows.push([of('local', node), of('local', node) + of('offloaded', node), ms(node)]);
  }
  const [nearStageCpuMs, serveCpuMs] = leastSquares(storageRows);
  const [stageCpuMs, overheadCpuMs] = leastSquares(computeRows);
  return Object.fromEntries(
    Object.entries({ nearStageCpuMs, serveCpuMs, stageCpuMs, overheadCpuMs }).filter(([, v]) => v !== undefined),
  );
}

/** Two non-negative unknowns a, b with a·x + b·y ≈ z over the rows [x, y, z]; undefined where the rows cannot tell them apart. */
function leastSquares(rows: readonly [number, number, number][]): [number | undefined, number | undefined] {
  let xx = 0;
  let xy = 0;
  let yy = 0;
  let xz = 0;
  let yz = 0;
  for (const [x, y, z] of rows) {
    xx += x * x;
    xy += x * y;
    yy += y * y;
    xz += x * z;
    yz += y * z;
  }
  const det = xx * yy - xy * xy;
  // Nearly collinear rows (every level the same mix) tell the two apart no better than noise.
  if (xx === 0 || yy === 0 || det < 1e-3 * xx * yy) return [undefined, undefined];
  let a = (xz * yy - yz * xy) / det;
  let b = (yz * xx - xz * xy) / det;
  // One below 0: that one is 0, the other the fit alone.
  if (a < 0) [a, b] = [0, yz / yy];
  if (b < 0) [a, b] = [xz / xx, 0];
  return [a, b];
}
