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
  /** @default DEFAULT_OFFLOAD_THRESHOLDS */
  readonly offloadThresholds?: Partial<OffloadThresholds>;
}

/** Throws a RangeError naming the option when `choices` is not a whole number >= 1. */
export function checkChoices(choices: number): number {
  if (!Number.isInteger(choices) || choices < 1) {
    throw new RangeError(`choices must be a whole number of at least 1, got ${choices}`);
  }
  return choices;
}

/** Fills in defaults and throws a RangeError naming the threshold that is out of range. */
export function checkOffloadThresholds(partial: Partial<OffloadThresholds> = {}): OffloadThresholds {
  const thresholds = { ...DEFAULT_OFFLOAD_THRESHOLDS, ...partial };
  const ranges: Record<keyof OffloadThresholds, [number, number]> = {
    cpu: [0, 1],
    memory: [0, 1],
    loadPerCore: [0, 64],
  };
  for (const [key, [low, high]] of Object.entries(ranges) as [keyof OffloadThresholds, [number, number]][]) {
    const value = thresholds[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= low || value > high) {
      throw new RangeError(`offloadThresholds.${key} must be a number above ${low} and at most ${high}, got ${String(value)}`);
    }
  }
  return thresholds;
}
