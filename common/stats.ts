/** Latency figures of one run, as the benchmark and the simulator both print them. */
export interface LatencySummary {
  readonly completed: number;
  readonly errors: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly stddevMs: number;
  /** Completed invocations per second over the run. */
  readonly throughput: number;
}

/** Summarizes latencies (ms, any order; sorted in place) over a run of `seconds`. */
export function summarize(latencies: Float64Array | number[], errors: number, seconds: number): LatencySummary {
  const sorted = latencies instanceof Float64Array ? latencies.sort() : Float64Array.from(latencies).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const mean = n > 0 ? sum / n : NaN;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (sorted[i] - mean) ** 2;
  const at = (q: number) => (n > 0 ? sorted[Math.min(n - 1, Math.floor(q * n))] : NaN);
  return {
    completed: n,
    errors,
    medianMs: at(0.5),
    p95Ms: at(0.95),
    p99Ms: at(0.99),
    meanMs: mean,
    stddevMs: n > 1 ? Math.sqrt(squares / (n - 1)) : 0,
    throughput: seconds > 0 ? n / seconds : NaN,
  };
}

/** A fixed-width table: one row per scenario, ratios against the baseline row's figure. */
export function formatTable(
  rows: readonly { readonly name: string; readonly summary: LatencySummary; readonly ratio?: string }[],
  ratioHeader?: string,
): string {
  const header = [
    'scenario',
    'median ms',
    'p95 ms',
    'p99 ms',
    'mean ms',
    'stddev ms',
    'goodput/s',
    'errors',
    ...(ratioHeader ? [ratioHeader] : []),
  ];
  const body = rows.map(({ name, summary: s, ratio }) => [
    name,
    s.medianMs.toFixed(1),
    s.p95Ms.toFixed(1),
    s.p99Ms.toFixed(1),
    s.meanMs.toFixed(1),
    s.stddevMs.toFixed(1),
    s.throughput.toFixed(0),
    String(s.errors),
    ...(ratioHeader ? [ratio ?? ''] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  return [header, ...body]
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '))
    .join('\n');
}
