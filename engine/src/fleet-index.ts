import type { IndexedSelection } from './types';

/**
 * The fleet as an IndexedSelection sees it: the eligible compute nodes (live, not
 * draining, less the selection's excluded ones) sorted by id, one column per figure.
 * Columns rather than objects so that the simulator scans a thousand nodes a decision
 * without allocating.
 */
export interface FleetColumns {
  readonly ids: readonly string[];
  /** Live in-flight counts. */
  readonly inFlight: ArrayLike<number>;
  /** Execution slots: a node has room while in flight is under this. */
  readonly slots: ArrayLike<number>;
  readonly slotsUsed: ArrayLike<number>;
  /** One-minute load per core: load1 / max(1, cores). */
  readonly loadPerCore: ArrayLike<number>;
  /** The service time the index ranks by (see indexServiceMs). */
  readonly serviceMs: ArrayLike<number>;
  /** How many nodes have room (in flight under slots), when the caller keeps the count: saves the sampling rules a pass. */
  readonly withRoom?: number;
}

/** How many nodes of its walk hash-affinity tries, one index lookup each, before it takes the least busy node. */
export const AFFINITY_WALK = 8;

/**
 * The service time a node is ranked by: its own estimate, or, for a node with no
 * history, the fleet's median estimate (the lower median, over the eligible nodes that
 * have one) as of its last heartbeat; 1 when no node has one, so that all rank alike.
 */
export function indexServiceMs(own: number | undefined, othersWithHistory: readonly number[]): number {
  if (own !== undefined) return own;
  if (othersWithHistory.length === 0) return 1;
  const sorted = [...othersWithHistory].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Applies an IndexedSelection to the fleet and returns the index of the chosen node in
 * `fleet.ids`, or -1. The reference for the Redis store's Lua (a property test keeps the
 * two equal): written as plain scans, O(n), where Redis uses sorted sets.
 *
 * @param cursor for `round-robin`: the shared counter after this decision advanced it (1, 2, ...)
 */
export function applyIndexed(selection: IndexedSelection, fleet: FleetColumns, cursor = 0): number {
  const { inFlight, slots, slotsUsed, loadPerCore, serviceMs } = fleet;
  const n = fleet.ids.length;
  // Each scan keeps the first minimum in id order, so ties go to the lower id.
  let best = -1;
  let bestScore = Infinity;
  switch (selection.rule) {
    case 'least-outstanding':
      return fewestInFlight(fleet);
    case 'least-expected-delay':
      for (let i = 0; i < n; i++) {
        if (inFlight[i] >= slots[i]) continue;
        const score = ((inFlight[i] + 1) * serviceMs[i]) / slots[i];
        if (score < bestScore) {
          best = i;
          bestScore = score;
        }
      }
      return best;
    case 'least-load':
      for (let i = 0; i < n; i++) {
        if (inFlight[i] < slots[i] && loadPerCore[i] < bestScore) {
          best = i;
          bestScore = loadPerCore[i];
        }
      }
      return best;
    case 'most-slots':
      for (let i = 0; i < n; i++) {
        const score = Math.max(slotsUsed[i], inFlight[i]) - slots[i];
        if (inFlight[i] < slots[i] && score < bestScore) {
          best = i;
          bestScore = score;
        }
      }
      return best;
    case 'single-entry':
      return n > 0 ? 0 : -1;
    case 'round-robin': {
      if (n === 0) return -1;
      const start = (cursor - 1) % n;
      for (let step = 0; step < n; step++) {
        const i = (start + step) % n;
        if (inFlight[i] < slots[i]) return i;
      }
      return -1;
    }
    case 'power-of-two': {
      const drawn = drawFree(fleet, selection.draws);
      for (const i of drawn) {
        if (inFlight[i] < bestScore) {
          best = i;
          bestScore = inFlight[i];
        }
      }
      return best;
    }
    case 'prequal':
      return prequal(fleet, drawFree(fleet, selection.draws), freeQuantile(fleet, selection.quantile));
    case 'hash-affinity': {
      if (n === 0) return -1;
      const home = selection.hash % n;
      const step = coprimeStep(selection.stepSeed, n);
      for (let i = 0; i < Math.min(n, AFFINITY_WALK); i++) {
        const j = (home + i * step) % n;
        if (inFlight[j] < slots[j]) return j;
      }
      return fewestInFlight(fleet);
    }
  }
}

function fewestInFlight({ ids, inFlight, slots }: FleetColumns): number {
  let best = -1;
  for (let i = 0; i < ids.length; i++) {
    if (inFlight[i] < slots[i] && (best === -1 || inFlight[i] < inFlight[best])) best = i;
  }
  return best;
}

/** The nodes with room at ranks floor(u x |F|) of F, one per draw, in draw order (repeats possible). */
function drawFree({ ids, inFlight, slots, withRoom }: FleetColumns, draws: readonly number[]): number[] {
  let free = withRoom ?? 0;
  if (withRoom === undefined) for (let i = 0; i < ids.length; i++) if (inFlight[i] < slots[i]) free++;
  if (free === 0) return [];
  const ranks = draws.map((u) => Math.min(free - 1, Math.floor(u * free)));
  const byRank = ranks.map((_, d) => d).sort((a, b) => ranks[a] - ranks[b]);
  const drawn = new Array<number>(ranks.length);
  // One scan, up to the highest rank drawn, matching the draws in rank order.
  let next = 0;
  for (let i = 0, rank = 0; i < ids.length && next < byRank.length; i++) {
    if (inFlight[i] >= slots[i]) continue;
    while (next < byRank.length && ranks[byRank[next]] === rank) drawn[byRank[next++]] = i;
    rank++;
  }
  return drawn;
}

/**
 * Prequal's hot-cold lexicographic rule (Wydrowski et al., "Load is not what you should
 * balance", NSDI 2024): a probe is hot when its requests in flight exceed the threshold
 * (the quantile of the fleet's); take the cold probe with the lowest latency, or, if every
 * probe is hot, the one with the fewest in flight. Latency here is the node's published
 * service time; ties go to fewer in flight (or lower latency), then to the earlier draw.
 */
function prequal(fleet: FleetColumns, drawn: readonly number[], threshold: number): number {
  const { inFlight, serviceMs } = fleet;
  let best = -1;
  for (const i of drawn) {
    if (best === -1) {
      best = i;
      continue;
    }
    const [hot, bestHot] = [inFlight[i] > threshold, inFlight[best] > threshold];
    const better =
      hot !== bestHot
        ? !hot
        : hot
          ? inFlight[i] < inFlight[best] || (inFlight[i] === inFlight[best] && serviceMs[i] < serviceMs[best])
          : serviceMs[i] < serviceMs[best] || (serviceMs[i] === serviceMs[best] && inFlight[i] < inFlight[best]);
    if (better) best = i;
  }
  return best;
}

let histogram = new Int32Array(64);

/** The in-flight count at rank floor(q (|F| - 1)) of F sorted by in flight: a counting sort, as counts are under a node's slots. */
function freeQuantile({ ids, inFlight, slots }: FleetColumns, quantile: number): number {
  let free = 0;
  let max = 0;
  for (let i = 0; i < ids.length; i++) {
    if (inFlight[i] >= slots[i]) continue;
    free++;
    if (inFlight[i] > max) max = inFlight[i];
  }
  const rank = Math.floor(quantile * (free - 1));
  if (max > 4096) {
    const counts: number[] = [];
    for (let i = 0; i < ids.length; i++) if (inFlight[i] < slots[i]) counts.push(inFlight[i]);
    return counts.sort((a, b) => a - b)[rank];
  }
  if (histogram.length <= max) histogram = new Int32Array(2 * (max + 1));
  for (let i = 0; i < ids.length; i++) if (inFlight[i] < slots[i]) histogram[inFlight[i]]++;
  let value = 0;
  for (let left = rank; value <= max; value++) {
    left -= histogram[value];
    if (left < 0) break;
  }
  histogram.fill(0, 0, max + 1);
  return value;
}

/** A step in [1, n) that shares no factor with n (1 when n <= 2), picked by `seed`: walking by it visits every node once. */
export function coprimeStep(seed: number, n: number): number {
  if (n <= 2) return 1;
  let step = 1 + (seed % (n - 1));
  while (gcd(step, n) !== 1) step = step === n - 1 ? 1 : step + 1;
  return step;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
