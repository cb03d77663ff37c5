import type { InvocationStrategy, PolicyContext } from '../types';

/** What the adaptive strategy learns from, per arm: discounted counts and sums of rewards. Shared by every dispatcher. */
export interface BanditState {
  /** The arm the current window uses, and when the window began. */
  arm: number;
  windowStart: number;
  /** Discounted number of windows each arm was measured in, and the discounted sum of its rewards. */
  readonly counts: number[];
  readonly sums: number[];
  /** The latencies that completed in the current window, by the arm of the window they arrived in. */
  readonly pendingTotal: number[];
  readonly pendingCount: number[];
  /** The arm of each recent window, by window number, to credit late completions. */
  readonly armOfWindow: Map<number, number>;
}

export function newBanditState(arms: number): BanditState {
  return {
    arm: 0,
    windowStart: Number.NaN,
    counts: new Array(arms).fill(0),
    sums: new Array(arms).fill(0),
    pendingTotal: new Array(arms).fill(0),
    pendingCount: new Array(arms).fill(0),
    armOfWindow: new Map(),
  };
}

/** An invocation strategy that hears how long each of its invocations took. */
export type LearningStrategy = InvocationStrategy & Required<Pick<InvocationStrategy, 'observe'>>;

/**
 * Discounted UCB (Garivier and Moulines, "On upper-confidence bound policies for
 * switching bandit problems", ALT 2011) over whole strategies: time is cut into windows;
 * each window runs one arm (a tier-1 strategy); its reward is minus the log of the mean
 * latency of the invocations it placed; older windows weigh `discount` less per window,
 * so that when the workload changes character the bandit forgets and looks again. The
 * arm of the next window is the one with the highest discounted mean reward plus
 * `exploration` x sqrt(log(total) / its count); an arm never measured goes first.
 */
export function adaptive(
  arms: readonly InvocationStrategy[],
  { windowMs, discount, exploration }: { windowMs: number; discount: number; exploration: number },
  state: BanditState = newBanditState(arms.length),
): LearningStrategy {
  const windowOf = (t: number) => Math.floor(t / windowMs);
  /** Closes every window that ended by `now`: its rewards in, the next arm chosen. */
  const roll = (now: number) => {
    if (Number.isNaN(state.windowStart)) {
      state.windowStart = windowOf(now) * windowMs;
      state.armOfWindow.set(windowOf(now), state.arm);
      return;
    }
    while (now >= state.windowStart + windowMs) {
      for (let i = 0; i < arms.length; i++) {
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
      state.arm = next();
      state.armOfWindow.set(windowOf(state.windowStart), state.arm);
      state.armOfWindow.delete(windowOf(state.windowStart) - 64);
    }
  };
  const next = (): number => {
    const unmeasured = state.counts.findIndex((count) => count < 1e-9);
    if (unmeasured !== -1) return unmeasured;
    const total = state.counts.reduce((sum, count) => sum + count, 0);
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < arms.length; i++) {
      const score = state.sums[i] / state.counts[i] + exploration * Math.sqrt(Math.log(total) / state.counts[i]);
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    return best;
  };
  const decide = (
    nodes: Parameters<InvocationStrategy>[0],
    invocation: Parameters<InvocationStrategy>[1],
    ctx: PolicyContext,
  ) => {
    roll(ctx.now);
    return arms[state.arm](nodes, invocation, ctx);
  };
  const observe = (placedAt: number, latencyMs: number, now: number) => {
    roll(now);
    const arm = state.armOfWindow.get(windowOf(placedAt));
    if (arm === undefined || !(latencyMs > 0)) return;
    state.pendingTotal[arm] += latencyMs;
    state.pendingCount[arm] += 1;
  };
  const reads = arms.every((arm) => arm.reads === 'membership') ? ('membership' as const) : ('figures' as const);
  return Object.assign(decide, { reads, observe });
}
