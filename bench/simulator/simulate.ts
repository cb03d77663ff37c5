import {
  applyIndexed,
  applySelection,
  type FleetColumns,
  type Invocation,
  type InvocationStrategy,
  indexServiceMs,
  invocationStrategy,
  isIndexed,
  type NodePolicy,
  type NodeView,
  nodePolicy,
  type PolicyContext,
  type Selection,
  ServiceTimeEstimator,
  seededRandom,
} from '@strata/policy-engine';
import { type LatencySummary, summarize } from '../../common/stats';
import { EventQueue } from './event-queue';

/**
 * How invocations are placed:
 * - `strata`: a tier-1 strategy of the policy engine. Its selection is applied as the
 *   state store applies it: an IndexedSelection over the fleet (applyIndexed, the Redis
 *   script's reference), a candidate list by applySelection; both against live in-flight
 *   counts, limited to each node's slots, queued at the dispatcher while every node is
 *   full. A node that still finds itself full forwards by the tier-2 policy (`single-entry`
 *   for AutoNDP's "no policy").
 * - `oracle`: shortest expected delay with fresh state and the true speeds,
 *   argmin (in system + 1) / (slots x speed), straight to the node's queue.
 * - `random`: a node drawn uniformly, straight to its queue.
 */
export type PlacementSpec =
  | {
      readonly kind: 'strata';
      readonly strategy: string;
      readonly nodePolicy: string;
      /** The strategy's options, checked against its schema. @default its defaults */
      readonly options?: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'oracle' }
  | { readonly kind: 'random' };

export interface SimulationOptions {
  readonly placement: PlacementSpec;
  /** @default 100 */
  readonly nodes?: number;
  /** Execution slots per node. @default 4 */
  readonly slots?: number;
  /** `heterogeneous`: a third of the nodes at speed 0.5, a third at 1, a third at 2. @default 'heterogeneous' */
  readonly speeds?: 'uniform' | 'heterogeneous';
  /** A noisy neighbour: a third of the nodes (of every speed) slow to half speed when half the invocations have arrived. @default false */
  readonly slowdown?: boolean;
  /** @default 100_000 */
  readonly invocations?: number;
  /** Offered load as a fraction of the fleet's capacity (before any slowdown). @default 0.9 */
  readonly load?: number;
  /** Mean work per invocation, in ms at speed 1 (exponentially distributed). @default 100 */
  readonly meanWorkMs?: number;
  /** `bursty`: the rate switches between 1.5x and 0.5x the mean every second or so (exponential). @default 'poisson' */
  readonly arrivals?: 'poisson' | 'bursty';
  /**
   * How stale the published figures get: each node publishes its figures (slots in use,
   * load, its measured service time) every `staleMs`, and each dispatcher refreshes its
   * view of them as often. In-flight counts are live, as in Redis. @default 1000
   */
  readonly staleMs?: number;
  /** The memory of each node's service-time estimate (ServiceTimeEstimator's decayMs). @default its default */
  readonly estimateDecayMs?: number;
  /** Dispatchers, each with its own view; arrivals go to one at random. @default 4 */
  readonly dispatchers?: number;
  /** Cost of forwarding an invocation to a peer. @default 1 */
  readonly hopMs?: number;
  /** @default 2 */
  readonly maxHops?: number;
  /** An invocation queued at the dispatcher longer than this fails. @default 10_000 */
  readonly queueTimeoutMs?: number;
  /** @default 1 */
  readonly seed?: number;
  /**
   * A workload that changes character: each phase is this many invocations, with its own
   * work distribution, arrivals and slowdown (a third of the nodes at half speed while it
   * is on). Replaces `invocations`, `arrivals` and `slowdown`. @default one phase
   */
  readonly phases?: readonly Phase[];
}

export interface Phase {
  readonly name: string;
  readonly invocations: number;
  /** `heavy-tailed`: lognormal work (sigma 1.5) of the same mean. @default 'exponential' */
  readonly work?: 'exponential' | 'heavy-tailed';
  /** @default 'poisson' */
  readonly arrivals?: 'poisson' | 'bursty';
  /** @default false */
  readonly slowdown?: boolean;
}

export interface SimulationResult {
  readonly summary: LatencySummary;
  /** The invocations that arrived in the second half of the run (after any slowdown). */
  readonly secondHalf: LatencySummary;
  /** Each node's busy fraction of its slots over the run, its slot-milliseconds of work, and its speed at the start. */
  readonly nodes: readonly {
    readonly id: string;
    readonly speed: number;
    readonly utilisation: number;
    readonly busyMs: number;
  }[];
  /** Every latency, in completion order (for charts). */
  readonly latencies: Float64Array;
  /** Per phase, when phases were given: the invocations that arrived in it. */
  readonly phases?: readonly { readonly name: string; readonly summary: LatencySummary }[];
  /** Invocations that were forwarded at least once. */
  readonly forwarded: number;
  /** What the run asked of the state store (see ControlPlane). */
  readonly controlPlane: ControlPlane;
  /** Wall time the simulation took. */
  readonly wallMs: number;
}

/**
 * The state store's side of a run: its calls (each one round trip, one script in Redis),
 * counted as Strata's processes would make them, and the node records they read. A call
 * costs Redis O(1), O(log n) or O(d), except a read of every node's figures (a dispatcher
 * whose strategy orders the nodes itself: O(n) a refresh), counted in `recordsRead`.
 */
export interface ControlPlane {
  /** Tier-1 reservations tried (one a placement, and again for one waiting for room), their releases, tier-2 peer picks and releases, and the dispatchers' refreshes, per decision. */
  readonly callsPerDecision: number;
  /** A node's periodic calls per node-second: its heartbeat and its view of the storage nodes. */
  readonly callsPerNodeSecond: number;
  /** Node records read per decision: the refreshes of a strategy that reads every node's figures. */
  readonly recordsReadPerDecision: number;
}

const ARRIVAL = 0;
const COMPLETE = 1;
const HEARTBEAT = 2;
const REFRESH = 3;

/**
 * A discrete-event simulation of Strata's tiers 1 and 2 over `nodes` compute nodes,
 * driving the real policy engine (the same code as the Lambda layer). Deterministic for
 * a seed. Nodes measure their own service time from the invocations they run (noisy)
 * and publish it with their heartbeat (late): the policies never see the true speeds.
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const started = performance.now();
  const n = options.nodes ?? 100;
  const slots = options.slots ?? 4;
  const phases = options.phases;
  const total = phases ? phases.reduce((sum, phase) => sum + phase.invocations, 0) : (options.invocations ?? 100_000);
  // The arrival index at which each phase begins.
  const phaseStarts = phases ? phases.map((_, i) => phases.slice(0, i).reduce((sum, p) => sum + p.invocations, 0)) : [];
  let phase = phases?.[0];
  const meanWork = options.meanWorkMs ?? 100;
  const staleMs = options.staleMs ?? 1000;
  const dispatcherCount = options.dispatchers ?? 4;
  const hopMs = options.hopMs ?? 1;
  const maxHops = options.maxHops ?? 2;
  const queueTimeoutMs = options.queueTimeoutMs ?? 10_000;
  // Two streams: the workload (arrivals, work, bursts, heartbeat phases) is the same for
  // every placement, whatever randomness a policy draws from its own.
  const random = seededRandom(options.seed ?? 1);
  const policyRandom = seededRandom(((options.seed ?? 1) ^ 0x5bd1e995) >>> 0);
  const exponential = (mean: number) => -Math.log(1 - random()) * mean;

  // The fleet: true speeds (only the oracle reads them), and who slows down at the middle.
  const speed = Float64Array.from({ length: n }, (_, i) => (options.speeds === 'uniform' ? 1 : [0.5, 1, 2][i % 3]));
  const startSpeed = speed.slice();
  const slowsDown = (i: number) => Math.floor(i / 3) % 3 === 0; // whole groups of three: every speed alike
  const capacityPerMs = speed.reduce((sum, s) => sum + s * slots, 0) / meanWork;
  const meanGapMs = 1 / ((options.load ?? 0.9) * capacityPerMs);
  const ids = Array.from({ length: n }, (_, i) => `n${String(i).padStart(6, '0')}`);
  const indexOf = new Map(ids.map((id, i) => [id, i]));

  // Live state of each node, and what it last published.
  const running = new Int32Array(n); // slots busy
  const inFlight = new Int32Array(n); // dispatcher reservations (Strata's in-flight counts, live as in Redis)
  let withRoom = n; // nodes with in flight under their slots: none means every indexed rule but single-entry finds nothing
  const inSystem = new Int32Array(n); // running + queued at the node
  const busyMs = new Float64Array(n);
  const nodeQueue: number[][] = Array.from({ length: n }, () => []);
  const estimators = Array.from({ length: n }, () => new ServiceTimeEstimator({ decayMs: options.estimateDecayMs }));
  const published = {
    slotsUsed: new Int32Array(n),
    loadPerCore: new Float64Array(n),
    ownServiceMs: new Float64Array(n).fill(Number.NaN), // NaN: no estimate yet
    indexServiceMs: new Float64Array(n).fill(1),
  };
  // What an IndexedSelection is applied over: every node is live and eligible here.
  const fleet: FleetColumns = {
    ids,
    inFlight,
    slots: new Int32Array(n).fill(slots),
    slotsUsed: published.slotsUsed,
    loadPerCore: published.loadPerCore,
    serviceMs: published.indexServiceMs,
    get withRoom() {
      return withRoom;
    },
  };

  // Invocations, by index.
  const arrivedAt = new Float64Array(total);
  const startedAt = new Float64Array(total);
  const work = new Float64Array(total);
  const reservedOn = new Int32Array(total).fill(-1);
  const dispatcherOf = new Int32Array(total);
  const latencyOf = new Float64Array(total).fill(Number.NaN);
  const latencies = new Float64Array(total);
  let completed = 0;
  let errors = 0;
  let forwarded = 0;
  // The state store's calls, as the dispatchers and nodes would make them.
  let decisionCalls = 0;
  let nodeCalls = 0;
  let recordsRead = 0;

  const events = new EventQueue();
  let now = 0;
  let randomUsed = false;
  const ctx: PolicyContext = {
    get now() {
      return now;
    },
    random: () => {
      randomUsed = true;
      return policyRandom();
    },
    heartbeatTtlMs: Number.MAX_SAFE_INTEGER,
  };

  /** A node publishes its figures: what the state store and the next refreshes see. */
  const heartbeat = (i: number) => {
    published.slotsUsed[i] = running[i];
    published.loadPerCore[i] = inSystem[i] / slots;
    const own = estimators[i].serviceMs;
    published.ownServiceMs[i] = own ?? Number.NaN;
    published.indexServiceMs[i] = indexServiceMs(
      own,
      own !== undefined ? [] : [...published.ownServiceMs].filter((ms) => !Number.isNaN(ms)),
    );
  };
  /** A dispatcher's view of the nodes, as of now: the published figures and the live counts. */
  const snapshot = (): NodeView[] =>
    ids.map((id, i) => ({
      id,
      address: id,
      role: 'compute',
      slotsTotal: slots,
      slotsUsed: published.slotsUsed[i],
      inFlight: inFlight[i],
      cpuBusy: published.slotsUsed[i] / slots,
      memoryUsed: 0.5,
      load1: published.loadPerCore[i] * slots,
      load5: 0,
      load15: 0,
      cores: slots,
      heartbeatAt: now,
      draining: false,
      ...(Number.isNaN(published.ownServiceMs[i]) ? {} : { serviceMs: published.ownServiceMs[i] }),
    }));
  const views: NodeView[][] = Array.from({ length: dispatcherCount }, () => snapshot());
  // A strategy that drew no random number answers the same for the same view and function: keep it.
  const cached: Map<string, Selection | { kind: 'no-capacity' }>[] = Array.from(
    { length: dispatcherCount },
    () => new Map(),
  );
  const cursors = new Map<string, number>();

  const placement = options.placement;
  let strategy: InvocationStrategy | undefined;
  let peersOf: NodePolicy | undefined;
  if (placement.kind === 'strata') {
    strategy = invocationStrategy(placement.strategy, placement.options);
    peersOf = nodePolicy(placement.nodePolicy);
  }
  const invocation: Invocation = { functionName: 'work', hops: 0 };
  const waiting: number[] = []; // invocations queued at the dispatchers, oldest first
  let waitingHead = 0;

  const start = (node: number, job: number) => {
    running[node]++;
    startedAt[job] = now;
    const serviceMs = work[job] / speed[node];
    busyMs[node] += serviceMs;
    push(now + serviceMs, COMPLETE, node, job);
  };
  const push = (time: number, kind: number, a: number, b: number) => events.push(time, kind, a, b);
  /** The invocation reaches a node: it runs there, or forwards by the node policy, or queues. */
  const arrive = (node: number, job: number, hops: number, dispatcher: number) => {
    if (running[node] < slots) {
      inSystem[node]++;
      return start(node, job);
    }
    if (peersOf && hops < maxHops) {
      const view = views[dispatcher];
      const decision = peersOf(view[node], view, { ...invocation, hops }, ctx);
      if (decision.kind === 'forward') {
        for (const peer of decision.peers) {
          const p = indexOf.get(peer.id)!;
          decisionCalls += 2; // a compute node asks the index for this peer and releases it after
          if (running[p] < slots) {
            forwarded++;
            arrivedAt[job] -= hopMs; // the hop's cost, counted in the invocation's latency
            inSystem[p]++;
            return start(p, job);
          }
        }
      }
    }
    inSystem[node]++;
    nodeQueue[node].push(job);
  };
  /** Picks a node as the state store would for a Strata strategy; -1 when every node is full. */
  const choose = (dispatcher: number): number => {
    decisionCalls++; // the reservation, answered or not
    let selection = cached[dispatcher].get(invocation.functionName);
    if (selection === undefined) {
      randomUsed = false;
      selection = strategy!(views[dispatcher], invocation, ctx);
      if (!randomUsed) cached[dispatcher].set(invocation.functionName, selection);
    }
    if (selection.kind !== 'select') return -1;
    const rotating = selection.rule === 'rotate' || selection.rule === 'round-robin' ? selection.cursor : undefined;
    let cursor = 0;
    if (rotating !== undefined) {
      cursor = (cursors.get(rotating) ?? 0) + 1;
      cursors.set(rotating, cursor);
    }
    if (isIndexed(selection))
      return withRoom === 0 && selection.rule !== 'single-entry' ? -1 : applyIndexed(selection, fleet, cursor);
    const chosen = applySelection(selection, (id) => inFlight[indexOf.get(id)!], cursor);
    return chosen === -1 ? -1 : indexOf.get(selection.candidates[chosen].id)!;
  };
  /** A dispatcher places an invocation; false when it must wait for room. */
  const place = (job: number, dispatcher: number): boolean => {
    let node: number;
    if (placement.kind === 'random') {
      node = Math.floor(policyRandom() * n);
    } else if (placement.kind === 'oracle') {
      let bestDelay = Infinity;
      node = 0;
      for (let i = 0; i < n; i++) {
        const delay = (inSystem[i] + 1) / (slots * speed[i]);
        if (delay < bestDelay) {
          node = i;
          bestDelay = delay;
        }
      }
    } else {
      node = choose(dispatcher);
      if (node === -1) return false;
      if (++inFlight[node] === slots) withRoom--;
    }
    reservedOn[job] = node;
    arrive(node, job, placement.kind === 'strata' ? 0 : maxHops, dispatcher);
    return true;
  };
  const retryWaiting = () => {
    while (waitingHead < waiting.length) {
      const job = waiting[waitingHead];
      if (now - arrivedAt[job] > queueTimeoutMs) {
        errors++;
        waitingHead++;
        continue;
      }
      if (!place(job, dispatcherOf[job])) return;
      waitingHead++;
    }
  };

  // Arrivals, one at a time (the next is scheduled when one arrives), the heartbeats and the refreshes.
  let arrivals = 0;
  const bursty = () => (phase?.arrivals ?? options.arrivals) === 'bursty';
  let rateFactor = bursty() ? 1.5 : 1;
  let nextSwitch = bursty() ? exponential(1000) : Infinity;
  const sigma = 1.5; // lognormal work of the same mean: exp(mu + sigma^2 / 2) = meanWork
  const lognormal = () =>
    Math.exp(
      Math.log(meanWork) -
        (sigma * sigma) / 2 +
        sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()),
    );
  const scheduleArrival = () => {
    if (arrivals >= total) return;
    const job = arrivals++;
    let phaseIndex = 0;
    while (phaseIndex + 1 < phaseStarts.length && phaseStarts[phaseIndex + 1] <= job) phaseIndex++;
    if (phases && phases[phaseIndex] !== phase) {
      phase = phases[phaseIndex];
      rateFactor = 1;
      nextSwitch = bursty() ? now + exponential(1000) : Infinity;
      for (let i = 0; i < n; i++) if (slowsDown(i)) speed[i] = phase.slowdown ? startSpeed[i] / 2 : startSpeed[i];
    }
    let t = now + exponential(meanGapMs / rateFactor);
    if (t > nextSwitch) {
      rateFactor = rateFactor === 1.5 ? 0.5 : 1.5;
      t = nextSwitch + exponential(meanGapMs / rateFactor);
      nextSwitch += exponential(1000);
    }
    work[job] = phase?.work === 'heavy-tailed' ? lognormal() : exponential(meanWork);
    push(t, ARRIVAL, job, Math.floor(random() * dispatcherCount));
  };
  scheduleArrival();
  for (let i = 0; i < n; i++) push(random() * staleMs, HEARTBEAT, i, 0);
  for (let d = 0; d < dispatcherCount; d++) push(random() * staleMs, REFRESH, d, 0);

  const middle = Math.floor(total / 2);
  let firstArrival = -1;
  const event: [number, number, number, number] = [0, 0, 0, 0];
  while (events.size > 0 && completed + errors < total) {
    events.pop(event);
    const [time, kind, a, b] = event;
    now = time;
    if (kind === ARRIVAL) {
      if (firstArrival < 0) firstArrival = now;
      if (a === middle && options.slowdown) for (let i = 0; i < n; i++) if (slowsDown(i)) speed[i] = startSpeed[i] / 2;
      arrivedAt[a] = now;
      dispatcherOf[a] = b;
      if (waitingHead < waiting.length || !place(a, b)) waiting.push(a);
      scheduleArrival();
    } else if (kind === COMPLETE) {
      running[a]--;
      inSystem[a]--;
      latencyOf[b] = now - arrivedAt[b];
      latencies[completed++] = latencyOf[b];
      strategy?.observe?.(arrivedAt[b], latencyOf[b], now);
      estimators[a].record(invocation.functionName, now - startedAt[b], now); // what the node measures: noisy, and only of what it ran
      if (placement.kind === 'strata') {
        decisionCalls++; // the release
        if (inFlight[reservedOn[b]]-- === slots) withRoom++;
      }
      const next = nodeQueue[a].shift();
      if (next !== undefined) start(a, next);
      retryWaiting();
    } else if (kind === HEARTBEAT) {
      nodeCalls += 2; // the heartbeat, and the node's view of the storage nodes
      heartbeat(a);
      push(now + staleMs, HEARTBEAT, a, 0);
    } else {
      views[a] = snapshot();
      cached[a].clear();
      if (strategy) {
        decisionCalls++; // the membership version (or its changes), or every node's figures
        if (strategy.reads !== 'membership') recordsRead += n;
      }
      push(now + staleMs, REFRESH, a, 0);
    }
  }
  const seconds = (now - Math.max(0, firstArrival)) / 1000;
  const secondHalf = latencyOf.subarray(middle).filter((ms) => !Number.isNaN(ms));
  const result = latencies.slice(0, completed);
  return {
    summary: summarize(result.slice(), errors, seconds),
    secondHalf: summarize(secondHalf, total - middle - secondHalf.length, seconds / 2),
    nodes: ids.map((id, i) => ({
      id,
      speed: startSpeed[i],
      utilisation: busyMs[i] / (slots * (now - Math.max(0, firstArrival))),
      busyMs: busyMs[i],
    })),
    latencies: result,
    ...(phases
      ? {
          phases: phases.map((p, i) => {
            const arrived = latencyOf.subarray(phaseStarts[i], phaseStarts[i] + p.invocations);
            const done = arrived.filter((ms) => !Number.isNaN(ms));
            return { name: p.name, summary: summarize(done, arrived.length - done.length, seconds / phases.length) };
          }),
        }
      : {}),
    forwarded,
    controlPlane: {
      callsPerDecision: placement.kind === 'strata' ? decisionCalls / Math.max(1, completed) : 0,
      callsPerNodeSecond: nodeCalls / (n * Math.max(1e-9, now / 1000)),
      recordsReadPerDecision: recordsRead / Math.max(1, completed),
    },
    wallMs: performance.now() - started,
  };
}
