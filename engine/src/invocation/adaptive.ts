import type { InvocationStrategy, PolicyContext, SharedLearning } from '../types';

/**
 * What the adaptive strategy learns from: discounted counts and sums of rewards per arm.
 * Plain JSON, so that every dispatcher can share one copy through the state store.
 */
export interface BanditState {
  /** The arm the current window uses, and when the window began (null before the first decision). */
  arm: number;
  windowStart: number | null;
  /** Discounted number of windows each arm was measured in, and the discounted sum of its rewards. */
  readonly counts: number[];
  readonly sums: number[];
  /** The latencies that completed since the last window closed, by the arm of the window they arrived in. */
  readonly pendingTotal: number[];
  readonly pendingCount: number[];
  /** The arm of each recent window, by window number, to credit late completions. */
  readonly armOfWindow: Record<string, number>;
}

export interface AdaptiveOptions {
  readonly windowMs: number;
  readonly discount: number;
  readonly exploration: number;
}

/** How many past windows keep their arm, for completions that arrive late. */
const WINDOWS_KEPT = 64;

export function newBanditState(arms: number): BanditState {
  return {
    arm: 0,
    windowStart: null,
    counts: new Array(arms).fill(0),
    sums: new Array(arms).fill(0),
    pendingTotal: new Array(arms).fill(0),
    pendingCount: new Array(arms).fill(0),
    armOfWindow: {},
  };
}

/**
 * Closes every window that ended by `now`: its rewards in, older ones discounted, the
 * next arm chosen. Deterministic in the state and `now`, so that dispatchers that merge
 * their observations into one state (the shared store) roll it to the same arm.
 */
export function rollBandit(
  state: BanditState,
  now: number,
  { windowMs, discount, exploration }: AdaptiveOptions,
): void {
  const windowOf = (t: number) => Math.floor(t / windowMs);
  if (state.windowStart === null) {
    state.windowStart = windowOf(now) * windowMs;
    state.armOfWindow[windowOf(now)] = state.arm;
    return;
  }
  // A state left alone for long (no traffic): what is older than the kept windows has been forgotten anyway.
  if (now - state.windowStart > WINDOWS_KEPT * windowMs) state.windowStart = (windowOf(now) - WINDOWS_KEPT) * windowMs;
  const arms = state.counts.length;
  while (now >= state.windowStart + windowMs) {
    for (let i = 0; i < arms; i++) {
      state.counts[i] *= discount;
      state.sums[i] *= discount;
      if (state.pendingCount[i] > 0) {
        state.counts[i] += 1;
        state.sums[i] += -Math.log(state.pendingTotal[i] / state.pendingCount[i]);
        state.pendingTotal[i] = 0;
        state.pendingCount[i] = 0;
      }
    }
    state.windowStart += windowMs;
    state.arm = nextArm(state, exploration);
    state.armOfWindow[windowOf(state.windowStart)] = state.arm;
    delete state.armOfWindow[windowOf(state.windowStart) - WINDOWS_KEPT];
  }
}

/** Discounted UCB: an arm never measured first, then the highest mean reward plus the confidence bonus. */
function nextArm(state: BanditState, exploration: number): number {
  const unmeasured = state.counts.findIndex((count) => count < 1e-9);
  if (unmeasured !== -1) return unmeasured;
  const total = state.counts.reduce((sum, count) => sum + count, 0);
  let best = 0;
  let bestScore = -Infinity;
  for (let i = 0; i < state.counts.length; i++) {
    const score = state.sums[i] / state.counts[i] + exploration * Math.sqrt(Math.log(total) / state.counts[i]);
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

/** An invocation strategy that hears how long each of its invocations took. */
export type LearningStrategy = InvocationStrategy & Required<Pick<InvocationStrategy, 'observe' | 'learning'>>;

/**
 * Discounted UCB (Garivier and Moulines, "On upper-confidence bound policies for
 * switching bandit problems", ALT 2011) over whole strategies: time is cut into windows;
 * each window runs one arm (a tier-1 strategy); its reward is minus the log of the mean
 * latency of the invocations it placed; older windows weigh `discount` less per window,
 * so that when the workload changes character the bandit forgets and looks again. The
 * arm of the next window is the one with the highest discounted mean reward plus
 * `exploration` x sqrt(log(total) / its count); an arm never measured goes first.
 *
 * Its state is shared (`learning`): each dispatcher adds what it measured since its last
 * sync to the state in the shared store and takes the merged state back, so that every
 * dispatcher runs the same arm and learns from every dispatcher's invocations.
 */
export function adaptive(
  arms: readonly InvocationStrategy[],
  options: AdaptiveOptions & { readonly armNames?: readonly string[] },
): LearningStrategy {
  const { windowMs } = options;
  let state = newBanditState(arms.length);
  // What this dispatcher measured since its last sync, by arm.
  let unsyncedTotal: number[] = new Array(arms.length).fill(0);
  let unsyncedCount: number[] = new Array(arms.length).fill(0);
  const decide = (
    nodes: Parameters<InvocationStrategy>[0],
    invocation: Parameters<InvocationStrategy>[1],
    ctx: PolicyContext,
  ) => {
    rollBandit(state, ctx.now, options);
    return arms[state.arm](nodes, invocation, ctx);
  };
  const observe = (placedAt: number, latencyMs: number, now: number) => {
    rollBandit(state, now, options);
    const arm = state.armOfWindow[Math.floor(placedAt / windowMs)];
    if (arm === undefined || !(latencyMs > 0)) return;
    state.pendingTotal[arm] += latencyMs;
    state.pendingCount[arm] += 1;
    unsyncedTotal[arm] += latencyMs;
    unsyncedCount[arm] += 1;
  };
  const counters = (total: readonly number[], count: readonly number[]) =>
    Object.fromEntries(
      arms.flatMap((_, i) => [
        [`n${i}`, count[i]],
        [`us${i}`, Math.round(total[i] * 1000)],
      ]),
    );
  const learning: SharedLearning = {
    key: `adaptive:${(options.armNames ?? arms.map((_, i) => String(i))).join(',')}:${windowMs}:${options.discount}:${options.exploration}`,
    take() {
      const taken = counters(unsyncedTotal, unsyncedCount);
      unsyncedTotal = new Array(arms.length).fill(0);
      unsyncedCount = new Array(arms.length).fill(0);
      return taken;
    },
    merge(stored, shared, now) {
      // None stored yet (or of other arms): every dispatcher starts from the same fresh state.
      const base = parseState(stored, arms.length) ?? newBanditState(arms.length);
      for (let i = 0; i < arms.length; i++) {
        base.pendingCount[i] = shared[`n${i}`] ?? 0;
        base.pendingTotal[i] = (shared[`us${i}`] ?? 0) / 1000;
      }
      const rolled = structuredClone(base);
      rollBandit(rolled, now, options);
      if (rolled.windowStart === base.windowStart) return { run: JSON.stringify(base), used: {} };
      // A window ended (or the first began): the rolled state is stored; the counters it read were used, if it closed one.
      const closed = base.windowStart !== null;
      const next = {
        ...rolled,
        pendingTotal: rolled.pendingTotal.map(() => 0),
        pendingCount: rolled.pendingCount.map(() => 0),
      };
      const used = closed ? counters(base.pendingTotal, base.pendingCount) : {};
      return { run: JSON.stringify(rolled), next: JSON.stringify(next), used };
    },
    adopt(run) {
      state = parseState(run, arms.length) ?? state;
    },
  };
  const reads = arms.every((arm) => arm.reads === 'membership') ? ('membership' as const) : ('figures' as const);
  return Object.assign(decide, { reads, observe, learning });
}

/** A shared state of this many arms, or undefined for none or one of another shape (the arms changed). */
function parseState(text: string | undefined, arms: number): BanditState | undefined {
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as BanditState;
    return Array.isArray(state.counts) && state.counts.length === arms ? state : undefined;
  } catch {
    return undefined;
  }
}
