import type { PolicyTier } from '@strata/policy-engine';

/**
 * Counts a tier's policy faults (a plugin that threw, or answered nonsense, and was
 * replaced by the default for that decision) and logs them at most once a minute per
 * tier, with how many were not logged since: a plugin that fails every decision must
 * not flood the logs.
 */
export class PolicyFaultReporter {
  private readonly lastLogged = new Map<PolicyTier, number>();
  private readonly unlogged = new Map<PolicyTier, number>();

  constructor(
    private readonly options: {
      /** Called for every fault: the metric. */
      readonly count: (tier: PolicyTier) => void;
      /** Called at most once per `intervalMs` per tier. */
      readonly log: (message: string, fields: Record<string, unknown>) => void;
      readonly now?: () => number;
      /** @default 60000 */
      readonly intervalMs?: number;
    },
  ) {}

  report(tier: PolicyTier, policy: string, fallback: string, error: unknown): void {
    this.options.count(tier);
    const now = (this.options.now ?? Date.now)();
    const last = this.lastLogged.get(tier);
    if (last !== undefined && now - last < (this.options.intervalMs ?? 60_000)) {
      this.unlogged.set(tier, (this.unlogged.get(tier) ?? 0) + 1);
      return;
    }
    this.lastLogged.set(tier, now);
    const suppressed = this.unlogged.get(tier) ?? 0;
    this.unlogged.set(tier, 0);
    this.options.log(`the ${tier} policy ${policy} failed; the decision went to ${fallback}`, {
      tier,
      policy,
      fallback,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      faultsNotLoggedSinceLast: suppressed,
    });
  }
}

/** A node's PolicyFaults as one CloudWatch EMF record, by role and tier (the dashboard's dimensions). */
export function policyFaultEmf(role: 'compute' | 'storage', tier: PolicyTier, at: number): string {
  return JSON.stringify({
    _aws: {
      Timestamp: at,
      CloudWatchMetrics: [
        { Namespace: 'Strata', Dimensions: [['Role', 'Tier']], Metrics: [{ Name: 'PolicyFaults', Unit: 'Count' }] },
      ],
    },
    Role: role,
    Tier: tier,
    PolicyFaults: 1,
  });
}
