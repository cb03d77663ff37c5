/**
 * The benchmark's load drivers, as AutoNDP's experiments drove Faasm, and how their
 * outcomes are counted. Every request sent is counted: one that failed (refused, an
 * error, no answer within the client's timeout) counts at the client's timeout in the
 * latency figures, never as a missing sample, and goodput counts only the answered.
 */
import { type LatencySummary, summarize } from '../common/stats';

/** One request as the client saw it. */
export interface Outcome {
  /** Milliseconds from sending to the answer (or to the failure). */
  readonly ms: number;
  /** 200 from the function. */
  readonly ok: boolean;
  /** The compute node that ran it, when it was answered. */
  readonly node?: string;
  /** The batch it was sent in (the batch driver). */
  readonly batch?: number;
}

/** Sends one request; answers how it went. */
export type Send = (i: number) => Promise<Omit<Outcome, 'batch'>>;

export type Driver = 'window' | 'batch' | 'poisson';

/**
 * Runs one load level:
 * - window: `requests` over `level` client threads, each sending its next as its last is
 *   answered (AutoNDP's sliding window: 5,000 requests over a fixed number of threads);
 * - batch: `level` requests spread evenly over one second, all awaited (one of AutoNDP's
 *   batches; their batch test ran sizes 1 to 499 in turn);
 * - poisson: open-loop arrivals at `level` per second for `seconds`.
 */
export async function drive(
  send: Send,
  driver: Driver,
  level: number,
  requests: number,
  seconds: number,
  onDone: () => void = () => undefined,
): Promise<{ outcomes: Outcome[]; elapsedS: number }> {
  const outcomes: Outcome[] = [];
  const one = async (i: number) => {
    outcomes.push({ ...(await send(i)), ...(driver === 'batch' ? { batch: level } : {}) });
    onDone();
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const started = performance.now();
  if (driver === 'window') {
    let next = 0;
    await Promise.all(
      Array.from({ length: level }, async () => {
        for (let i = next++; i < requests; i = next++) await one(i);
      }),
    );
  } else if (driver === 'batch') {
    await Promise.all(
      Array.from({ length: level }, async (_, i) => {
        await sleep((1000 * i) / level);
        await one(i);
      }),
    );
  } else {
    const pending: Promise<void>[] = [];
    let at = 0;
    const total = Math.max(1, Math.round(level * seconds));
    for (let i = 0; i < total; i++) {
      at += -Math.log(1 - Math.random()) * (1000 / level);
      await sleep(Math.max(0, started + at - performance.now()));
      pending.push(one(i));
    }
    await Promise.all(pending);
  }
  return { outcomes, elapsedS: (performance.now() - started) / 1000 };
}

/** How many requests a level sends. */
export function requestsOf(driver: Driver, level: number, requests: number, seconds: number): number {
  return driver === 'window' ? requests : driver === 'batch' ? level : Math.max(1, Math.round(level * seconds));
}

/**
 * The figures of a run over every request sent: a failed one at the client's timeout;
 * `completed` the answered, `errors` the failed; `throughput` the goodput (answered per second).
 */
export function summarizeOutcomes(outcomes: readonly Outcome[], timeoutMs: number, elapsedS: number): LatencySummary {
  const errors = outcomes.filter((o) => !o.ok).length;
  const summary = summarize(
    outcomes.map((o) => (o.ok ? o.ms : timeoutMs)),
    errors,
    elapsedS,
  );
  const answered = outcomes.length - errors;
  return { ...summary, completed: answered, throughput: elapsedS > 0 ? answered / elapsedS : NaN };
}

/** The median of a list (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Batch sizes from a flag: a list (1,8,32), a range (1-499) or a range with a step
 * (1-499:50), each multiplied by `scale` (at least 1; repeats dropped), so that the
 * seed's 1 to 499 can be shrunk to what this machine's fleet serves.
 */
export function batchSizes(text: string, scale: number): number[] {
  const bad = () =>
    new RangeError(
      `--batches must be a list of whole numbers (1,8,32) or a range FROM-TO[:STEP] (1-499:50); got "${text}"`,
    );
  const sizes: number[] = [];
  for (const part of text.split(',')) {
    const range = /^(\d+)-(\d+)(?::(\d+))?$/.exec(part);
    if (range) {
      const [from, to, step] = [Number(range[1]), Number(range[2]), Number(range[3] ?? 1)];
      if (from < 1 || to < from || step < 1) throw bad();
      for (let size = from; size <= to; size += step) sizes.push(size);
      if (sizes.at(-1) !== to) sizes.push(to);
    } else if (/^\d+$/.test(part) && Number(part) >= 1) sizes.push(Number(part));
    else throw bad();
  }
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`--batch-scale must be more than 0 and at most 1; got ${scale}`);
  return [...new Set(sizes.map((size) => Math.max(1, Math.round(size * scale))))];
}
