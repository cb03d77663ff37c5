import type { FleetColumns } from './unit';

// The scans the rules share, over the fleet's columns. Each keeps the first minimum in id
// order, so ties go to the lower id.

/** The index of the node with room and the lowest `score`, or -1. */
export function lowest(fleet: FleetColumns, score: (i: number) => number): number {
  const { ids, inFlight, slots } = fleet;
  let best = -1;
  let bestScore = Infinity;
  for (let i = 0; i < ids.length; i++) {
    if (inFlight[i] >= slots[i]) continue;
    const s = score(i);
    if (s < bestScore) {
      best = i;
      bestScore = s;
    }
  }
  return best;
}

export function fewestInFlight({ ids, inFlight, slots }: FleetColumns): number {
  let best = -1;
  for (let i = 0; i < ids.length; i++) {
    if (inFlight[i] < slots[i] && (best === -1 || inFlight[i] < inFlight[best])) best = i;
  }
  return best;
}

/** The nodes with room at ranks floor(u x |F|) of F, one per draw, in draw order (repeats possible). */
export function drawFree({ ids, inFlight, slots, withRoom }: FleetColumns, draws: readonly number[]): number[] {
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
export function prequalPick(fleet: FleetColumns, drawn: readonly number[], threshold: number): number {
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
export function freeQuantile({ ids, inFlight, slots }: FleetColumns, quantile: number): number {
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
