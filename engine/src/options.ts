/** Limits above which a storage node refuses to run data stages. */
export interface OffloadThresholds {
  /** CPU busy fraction, 0..1. */
  readonly cpu: number;
  /** Memory used fraction, 0..1. */
  readonly memory: number;
  /** One-minute load average per core (1 means one runnable task per core). */
  readonly loadPerCore: number;
}

/** AutoNDP's defaults. */
export const DEFAULT_OFFLOAD_THRESHOLDS: OffloadThresholds = { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 };

/** The knobs a policy may take; each policy reads the ones it needs. */
export interface PolicyOptions {
  /** How many nodes power-of-two samples. @default 2 */
  readonly choices?: number;
  /** How many nodes prequal probes per decision. @default 8 */
  readonly prequalProbes?: number;
  /** Prequal's hot threshold: a probe is hot above this quantile of the fleet's in-flight counts. @default 0.9 */
  readonly prequalQuantile?: number;
  /** @default DEFAULT_OFFLOAD_THRESHOLDS */
  readonly offloadThresholds?: Partial<OffloadThresholds>;
}

/** Throws a RangeError naming the option when a sample size is not a whole number from 1 to 64. */
export function checkChoices(choices: number, name = 'choices'): number {
  if (!Number.isInteger(choices) || choices < 1 || choices > 64) {
    throw new RangeError(`${name} must be a whole number from 1 to 64, got ${choices}`);
  }
  return choices;
}

/** Throws a RangeError naming the option when prequal's quantile is not in [0, 1]. */
export function checkQuantile(quantile: number, name = 'prequalQuantile'): number {
  if (typeof quantile !== 'number' || !(quantile >= 0 && quantile <= 1)) {
    throw new RangeError(`${name} must be a number from 0 to 1, got ${quantile}`);
  }
  return quantile;
}

/** Fills in defaults and throws a RangeError naming the threshold that is out of range. */
export function checkOffloadThresholds(partial: Partial<OffloadThresholds> = {}): OffloadThresholds {
  const thresholds = { ...DEFAULT_OFFLOAD_THRESHOLDS, ...partial };
  // CPU and memory are fractions; load per core may exceed 1 (more runnable tasks than cores).
  const ceilings: Record<keyof OffloadThresholds, number> = { cpu: 1, memory: 1, loadPerCore: Number.MAX_VALUE };
  for (const [key, ceiling] of Object.entries(ceilings) as [keyof OffloadThresholds, number][]) {
    const value = thresholds[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > ceiling) {
      const accepted = ceiling === 1 ? 'a number above 0 and at most 1' : 'a finite number above 0';
      throw new RangeError(`offloadThresholds.${key} must be ${accepted}, got ${String(value)}`);
    }
  }
  return thresholds;
}
