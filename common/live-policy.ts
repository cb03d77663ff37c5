import {
  createPolicy,
  DEFAULT_POLICIES,
  type InvocationStrategy,
  type NodePolicy,
  type PolicyOfTier,
  type PolicyOptions,
  type PolicyTier,
  withFallback,
} from '@strata/policy-engine';

/** A tier's policy by name, with its options. */
export interface PolicyChoice {
  readonly name: string;
  readonly options: PolicyOptions;
}

/**
 * One tier's policy as a process uses it: a stable function that the dispatcher or the
 * compute node holds, delegating to the policy chosen now. `choose` swaps it (the live
 * setting changed); every policy but the tier's default is guarded, so a decision it
 * throws on goes to the default, and `onFault` hears of it.
 */
export class TierPolicy<T extends PolicyTier> {
  readonly policy: PolicyOfTier[T];
  private current: PolicyOfTier[T];
  private chosen: PolicyChoice;

  constructor(
    readonly tier: T,
    first: PolicyChoice,
    private readonly onFault: (tier: T, policy: string, fallback: string, error: unknown) => void,
  ) {
    this.chosen = first;
    this.current = this.build(first);
    const delegate = (...args: unknown[]) => (this.current as (...a: unknown[]) => unknown)(...args);
    // The dispatcher asks a strategy what it reads at every decision: answer for the current one.
    if (tier === 'invocation') {
      Object.defineProperty(delegate, 'reads', { get: () => (this.current as InvocationStrategy).reads });
      // A learning strategy (adaptive) hears how long its invocations took.
      Object.defineProperty(delegate, 'observe', {
        get: () => (this.current as InvocationStrategy).observe,
      });
      // What it learns, shared through the state store (common/shared-learning.ts).
      Object.defineProperty(delegate, 'learning', {
        get: () => (this.current as InvocationStrategy).learning,
      });
    }
    // The compute node asks the store's index for a peer by the current policy's rule (none: its order).
    if (tier === 'node') Object.defineProperty(delegate, 'peer', { get: () => (this.current as NodePolicy).peer });
    this.policy = delegate as unknown as PolicyOfTier[T];
  }

  get choice(): PolicyChoice {
    return this.chosen;
  }

  /** Switches to another policy; throws (and keeps the current one) for an unknown name or bad options. */
  choose(choice: PolicyChoice): void {
    if (choice.name === this.chosen.name && JSON.stringify(choice.options) === JSON.stringify(this.chosen.options))
      return;
    this.current = this.build(choice);
    this.chosen = choice;
  }

  private build(choice: PolicyChoice): PolicyOfTier[T] {
    const policy = createPolicy(this.tier, choice.name, choice.options);
    const fallbackName = DEFAULT_POLICIES[this.tier];
    if (choice.name === fallbackName) return policy;
    return withFallback(this.tier, policy, createPolicy(this.tier, fallbackName), (error) =>
      this.onFault(this.tier, choice.name, fallbackName, error),
    );
  }
}
