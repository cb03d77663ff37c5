import {
  applySelection,
  invocationStrategy,
  nodePolicy,
  seededRandom,
  type Invocation,
  type InvocationStrategy,
  type NodePolicy,
  type NodeView,
  type PolicyContext,
  type Selection,
} from '@strata/policy-engine';
import { summarize, type LatencySummary } from '../../common/stats';

/**
 * How invocations are placed:
 * - `strata`: a tier-1 strategy of the policy engine, its selection applied to live
 *   in-flight counts (as the Redis script does), limited to each node's slots, queued
 *   at the dispatcher while every node is full; a node that still finds itself full
 *   forwards by the tier-2 policy (`id-order` for AutoNDP's "no policy").
 * - `oracle`: shortest expected delay with fresh state, argmin (in system + 1) / (slots x speed),
 *   straight to the node's queue: join-the-shortest-queue that also knows each node's speed.
 * - `random`: a node drawn uniformly, straight to its queue.
 */
export type PlacementSpec =
  | { readonly kind: 'strata'; readonly strategy: string; readonly nodePolicy: string; readonly choices?: number }
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
  /** @default 100_000 */
  readonly invocations?: number;
  /** Offered load as a fraction of the fleet's capacity. @default 0.9 */
  readonly load?: number;
  /** Mean work per invocation, in ms at speed 1 (exponentially distributed). @default 100 */
  readonly meanWorkMs?: number;
  /** `bursty`: the rate switches between 1.5x and 0.5x the mean every second or so (exponential). @default 'poisson' */
  readonly arrivals?: 'poisson' | 'bursty';
  /** How old the dispatchers' view of the nodes' metrics gets: each refreshes it this often. @default 1000 */
  readonly staleMs?: number;
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
}

export interface SimulationResult {
  readonly summary: LatencySummary;
  /** Each node's busy fraction of its slots over the run, and its speed. */
  readonly nodes: readonly { readonly id: string; readonly speed: number; readonly utilisation: number }[];
  /** Every latency, in completion order (for charts). */
  readonly latencies: Float64Array;
  /** Invocations that were forwarded at least once. */
  readonly forwarded: number;
  /** Wall time the simulation took. */
  readonly wallMs: number;
}

const ARRIVAL = 0;
const COMPLETE = 1;
const REFRESH = 2;

/**
 * A discrete-event simulation of Strata's tiers 1 and 2 over `nodes` compute nodes,
 * driving the real policy engine (the same code as the Lambda layer). Deterministic for
 * a seed.
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const started = performance.now();
  const n = options.nodes ?? 100;
  const slots = options.slots ?? 4;
  const total = options.invocations ?? 100_000;
  const meanWork = options.meanWorkMs ?? 100;
  const staleMs = options.staleMs ?? 1000;
  const dispatcherCount = options.dispatchers ?? 4;
  const hopMs = options.hopMs ?? 1;
  const maxHops = options.maxHops ?? 2;
  const queueTimeoutMs = options.queueTimeoutMs ?? 10_000;
  const random = seededRandom(options.seed ?? 1);
  const exponential = (mean: number) => -Math.log(1 - random()) * mean;

  const speed = Float64Array.from({ length: n }, (_, i) => (options.speeds === 'uniform' ? 1 : [0.5, 1, 2][i % 3]));
  const capacityPerMs = speed.reduce((sum, s) => sum + s * slots, 0) / meanWork;
  const meanGapMs = 1 / ((options.load ?? 0.9) * capacityPerMs);
  const ids = Array.from({ length: n }, (_, i) => `n${String(i).padStart(6, '0')}`);
  // A node's index is in its id, read back with arithmetic: a Map lookup per candidate
  // was the simulator's hottest line with a thousand nodes.
  const indexOf = (id: string) => {
    let index = 0;
    for (let c = 1; c < 7; c++) index = 10 * index + id.charCodeAt(c) - 48;
    return index;
  };

  // Live state of each node.
  const running = new Int32Array(n); // slots busy
  const inFlight = new Int32Array(n); // dispatcher reservations (Strata's in-flight counts)
  const inSystem = new Int32Array(n); // running + queued at the node
  const busyMs = new Float64Array(n);
  const nodeQueue: number[][] = Array.from({ length: n }, () => []);

  // Invocations, by index.
  const arrivedAt = new Float64Array(total);
  const work = new Float64Array(total);
  const reservedOn = new Int32Array(total).fill(-1);
  const latencies = new Float64Array(total);
  let completed = 0;
  let errors = 0;
  let forwarded = 0;

  // Events: a binary heap of [time, kind, a, b] in parallel arrays.
  let heapTime = new Float64Array(1024);
  let heapData = new Int32Array(3 * 1024);
  let heapSize = 0;
  const push = (time: number, kind: number, a: number, b: number) => {
    if (heapSize === heapTime.length) {
      const t = new Float64Array(heapTime.length * 2);
      t.set(heapTime);
      heapTime = t;
      const d = new Int32Array(heapData.length * 2);
      d.set(heapData);
      heapData = d;
    }
    let i = heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heapTime[parent] <= time) break;
      heapTime[i] = heapTime[parent];
      heapData[3 * i] = heapData[3 * parent];
      heapData[3 * i + 1] = heapData[3 * parent + 1];
      heapData[3 * i + 2] = heapData[3 * parent + 2];
      i = parent;
    }
    heapTime[i] = time;
    heapData[3 * i] = kind;
    heapData[3 * i + 1] = a;
    heapData[3 * i + 2] = b;
  };
  const pop = (): [number, number, number, number] => {
    const top: [number, number, number, number] = [heapTime[0], heapData[0], heapData[1], heapData[2]];
    const lastTime = heapTime[--heapSize];
    const last0 = heapData[3 * heapSize];
    const last1 = heapData[3 * heapSize + 1];
    const last2 = heapData[3 * heapSize + 2];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heapSize) break;
      if (child + 1 < heapSize && heapTime[child + 1] < heapTime[child]) child++;
      if (heapTime[child] >= lastTime) break;
      heapTime[i] = heapTime[child];
      heapData[3 * i] = heapData[3 * child];
      heapData[3 * i + 1] = heapData[3 * child + 1];
      heapData[3 * i + 2] = heapData[3 * child + 2];
      i = child;
    }
    heapTime[i] = lastTime;
    heapData[3 * i] = last0;
    heapData[3 * i + 1] = last1;
    heapData[3 * i + 2] = last2;
    return top;
  };

  // Each dispatcher's view of the nodes: figures as of its last refresh.
  let now = 0;
  let randomUsed = false;
  const ctx: PolicyContext = { get now() { return now; }, random: () => ((randomUsed = true), random()), heartbeatTtlMs: Number.MAX_SAFE_INTEGER };
  const snapshot = (): NodeView[] =>
    ids.map((id, i) => ({
      id, address: id, role: 'compute', slotsTotal: slots, slotsUsed: running[i], inFlight: inFlight[i], cpuBusy: running[i] / slots,
      memoryUsed: 0.5, load1: inSystem[i], load5: 0, load15: 0, cores: slots, heartbeatAt: now, draining: false,
    }));
  const views: NodeView[][] = Array.from({ length: dispatcherCount }, () => snapshot());
  // A strategy that drew no random number answers the same for the same view and function: keep it.
  const cached: Map<string, Selection | { kind: 'no-capacity' }>[] = Array.from({ length: dispatcherCount }, () => new Map());
  const cursors = new Map<string, number>();

  const placement = options.placement;
  let strategy: InvocationStrategy | undefined;
  let peersOf: NodePolicy | undefined;
  if (placement.kind === 'strata') {
    strategy = invocationStrategy(placement.strategy, { choices: placement.choices ?? 2 });
    peersOf = nodePolicy(placement.nodePolicy, { choices: placement.choices ?? 2 });
  }
  const invocation: Invocation = { functionName: 'work', hops: 0 };
  const waiting: number[] = []; // invocations queued at the dispatchers, oldest first
  let waitingHead = 0;

  const start = (node: number, job: number) => {
    running[node]++;
    const serviceMs = work[job] / speed[node];
    busyMs[node] += serviceMs;
    push(now + serviceMs, COMPLETE, node, job);
  };
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
          const p = indexOf(peer.id);
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
  /** A dispatcher places an invocation; false when it must wait for room. */
  const place = (job: number, dispatcher: number): boolean => {
    if (placement.kind === 'random') {
      const node = Math.floor(random() * n);
      reservedOn[job] = node;
      arrive(node, job, maxHops, dispatcher);
      return true;
    }
    if (placement.kind === 'oracle') {
      let best = 0;
      let bestDelay = Infinity;
      for (let i = 0; i < n; i++) {
        const delay = (inSystem[i] + 1) / (slots * speed[i]);
        if (delay < bestDelay) [best, bestDelay] = [i, delay];
      }
      reservedOn[job] = best;
      arrive(best, job, maxHops, dispatcher);
      return true;
    }
    let selection = cached[dispatcher].get(invocation.functionName);
    if (selection === undefined) {
      randomUsed = false;
      selection = strategy!(views[dispatcher], invocation, ctx);
      if (!randomUsed) cached[dispatcher].set(invocation.functionName, selection);
    }
    if (selection.kind !== 'select') return false;
    let cursor = 0;
    if (selection.rule === 'rotate') {
      cursor = (cursors.get(selection.cursor) ?? 0) + 1;
      cursors.set(selection.cursor, cursor);
    }
    const chosen = applySelection(selection, (id) => inFlight[indexOf(id)], cursor);
    if (chosen === -1) return false;
    const node = indexOf(selection.candidates[chosen].id);
    inFlight[node]++;
    reservedOn[job] = node;
    arrive(node, job, 0, dispatcher);
    return true;
  };
  const dispatcherOf = new Int32Array(total);
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

  // Arrivals, one at a time (the next is scheduled when one arrives), and the refreshes.
  let arrivals = 0;
  let rateFactor = 1;
  let nextSwitch = options.arrivals === 'bursty' ? exponential(1000) : Infinity;
  const scheduleArrival = () => {
    if (arrivals >= total) return;
    const job = arrivals++;
    let t = now + exponential(meanGapMs / rateFactor);
    if (t > nextSwitch) {
      rateFactor = rateFactor === 1.5 ? 0.5 : 1.5;
      t = nextSwitch + exponential(meanGapMs / rateFactor);
      nextSwitch += exponential(1000);
    }
    work[job] = exponential(meanWork);
    push(t, ARRIVAL, job, Math.floor(random() * dispatcherCount));
  };
  if (options.arrivals === 'bursty') rateFactor = 1.5;
  scheduleArrival();
  for (let d = 0; d < dispatcherCount; d++) push(random() * staleMs, REFRESH, d, 0);

  let firstArrival = -1;
  while (heapSize > 0 && completed + errors < total) {
    const [time, kind, a, b] = pop();
    now = time;
    if (kind === ARRIVAL) {
      if (firstArrival < 0) firstArrival = now;
      arrivedAt[a] = now;
      dispatcherOf[a] = b;
      if (waitingHead < waiting.length || !place(a, b)) waiting.push(a);
      scheduleArrival();
    } else if (kind === COMPLETE) {
      running[a]--;
      inSystem[a]--;
      latencies[completed++] = now - arrivedAt[b];
      if (reservedOn[b] >= 0 && placement.kind === 'strata') inFlight[reservedOn[b]]--;
      const next = nodeQueue[a].shift();
      if (next !== undefined) start(a, next);
      retryWaiting();
    } else {
      views[a] = snapshot();
      cached[a].clear();
      push(now + staleMs, REFRESH, a, 0);
    }
  }
  const seconds = (now - Math.max(0, firstArrival)) / 1000;
  const result = latencies.slice(0, completed);
  return {
    summary: summarize(result.slice(), errors, seconds),
    nodes: ids.map((id, i) => ({ id, speed: speed[i], utilisation: busyMs[i] / (slots * (now - Math.max(0, firstArrival))) })),
    latencies: result,
    forwarded,
    wallMs: performance.now() - started,
  };
}
