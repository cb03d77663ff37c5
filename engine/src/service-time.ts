/** How a node's service-time estimate weighs its samples. */
export interface ServiceTimeOptions {
  /**
   * The estimate's memory, in ms: a sample's weight decays as e^(-age / decayMs), whatever
   * the rate of samples (Finagle's and tower's peak-EWMA weigh by time the same way).
   * @default 5000
   */
  readonly decayMs?: number;
  /** Samples before an estimate is published; until then the fleet's median stands in. @default 5 */
  readonly minSamples?: number;
}

/** One exponentially weighted average over unevenly spaced samples. */
class Ewma {
  value = 0;
  count = 0;
  private at = 0;

  add(sample: number, now: number, decayMs: number): void {
    this.count++;
    // The time-decayed weight, but never less than a plain running mean's 1/count, so
    // that the first samples are averaged rather than the first one dominating.
    const weight = this.count === 1 ? 1 : Math.max(1 - Math.exp(-Math.max(0, now - this.at) / decayMs), 1 / this.count);
    this.value += weight * (sample - this.value);
    this.at = now;
  }
}

/**
 * A node's own measure of its speed: how long an invocation holds a slot, as an
 * exponentially weighted average of execution times, overall and per function. What
 * the node publishes with its heartbeat (`serviceMs`, `functionServiceMs`) and what the
 * simulator measures the same way, from noisy samples, never from the true speed.
 */
export class ServiceTimeEstimator {
  private readonly decayMs: number;
  private readonly minSamples: number;
  private readonly overall = new Ewma();
  private readonly byFunction = new Map<string, Ewma>();

  constructor(options: ServiceTimeOptions = {}) {
    this.decayMs = options.decayMs ?? 5000;
    this.minSamples = options.minSamples ?? 5;
    if (!(this.decayMs > 0)) throw new RangeError(`decayMs must be above 0, got ${this.decayMs}`);
    if (!Number.isInteger(this.minSamples) || this.minSamples < 1)
      throw new RangeError(`minSamples must be a whole number of at least 1, got ${this.minSamples}`);
  }

  /** One invocation of `functionName` held a slot for `ms`, finishing at `now`. */
  record(functionName: string, ms: number, now: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return; // a clock step backwards: not a sample
    this.overall.add(ms, now, this.decayMs);
    let perFunction = this.byFunction.get(functionName);
    if (!perFunction) {
      perFunction = new Ewma();
      this.byFunction.set(functionName, perFunction);
    }
    perFunction.add(ms, now, this.decayMs);
  }

  /** The overall estimate, once it has enough samples. */
  get serviceMs(): number | undefined {
    return this.overall.count >= this.minSamples ? round(this.overall.value) : undefined;
  }

  /** The estimates of the functions with enough samples. */
  get functionServiceMs(): Record<string, number> | undefined {
    const ready = [...this.byFunction].filter(([, e]) => e.count >= this.minSamples);
    return ready.length === 0 ? undefined : Object.fromEntries(ready.map(([name, e]) => [name, round(e.value)]));
  }
}

/** Microsecond precision is plenty, and keeps the heartbeat short. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
