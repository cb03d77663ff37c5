import {
  type DashboardResources,
  eachDimension,
  fixedDimensions,
  type MetricQuery,
  percentileOf,
  type Statistic,
} from '../../common/metrics/dashboard';
import type { Datapoint } from './emf';

/** One line of a widget: its values per period, and the statistic over the whole window. */
export interface Series {
  readonly label: string;
  readonly query: MetricQuery;
  /** [period start (ms), value] for each period that has values. */
  readonly points: readonly (readonly [number, number])[];
  /** The statistic over every value in the window, as one long period would give it. */
  readonly overWindow: number;
  readonly samples: number;
}

interface Sample {
  readonly t: number;
  readonly v: number;
}

interface StoredSeries {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly samples: Sample[];
}

/**
 * The metrics CloudWatch would hold for a stream of EMF datapoints: each series is a
 * namespace, a name and an exact dimension set, with every value recorded; statistics
 * and percentiles are computed from the values of each period, as CloudWatch computes
 * them from values published one by one.
 */
export class MetricStore {
  private readonly series = new Map<string, StoredSeries>();

  constructor(private readonly retentionMs = 3 * 3600_000) {}

  add(point: Datapoint): void {
    const keys = Object.keys(point.dimensions).sort();
    const key = `${point.namespace}\u0000${point.name}\u0000${keys.map((k) => `${k}=${point.dimensions[k]}`).join('\u0000')}`;
    let stored = this.series.get(key);
    if (!stored) {
      stored = { namespace: point.namespace, name: point.name, dimensions: point.dimensions, samples: [] };
      this.series.set(key, stored);
    }
    for (const v of point.values) stored.samples.push({ t: point.timestamp, v });
    const first = stored.samples[0];
    if (first && first.t < point.timestamp - this.retentionMs)
      stored.samples.splice(
        0,
        stored.samples.findIndex((s) => s.t >= point.timestamp - this.retentionMs),
      );
  }

  clear(): void {
    this.series.clear();
  }

  /** How many series it holds; for the page's footer. */
  get size(): number {
    return this.series.size;
  }

  /**
   * The lines of a query over [from, to): one per matching series, or one per value of
   * its `each` dimension. A series matches when its dimension set is exactly the query's
   * and its fixed values are equal (CloudWatch's rule: no partial dimension match).
   */
  query(
    query: MetricQuery,
    resources: DashboardResources,
    window: { readonly from: number; readonly to: number; readonly periodMs: number },
  ): Series[] {
    const fixed = fixedDimensions(query, resources);
    const each = eachDimension(query)?.[0];
    const wanted = Object.keys(query.dimensions).sort().join(',');
    const lines: Series[] = [];
    for (const stored of this.series.values()) {
      if (stored.namespace !== query.namespace || stored.name !== query.name) continue;
      if (Object.keys(stored.dimensions).sort().join(',') !== wanted) continue;
      if (!Object.entries(fixed).every(([key, value]) => stored.dimensions[key] === value)) continue;
      const samples = stored.samples.filter((s) => s.t >= window.from && s.t < window.to);
      if (samples.length === 0) continue;
      const byPeriod = new Map<number, number[]>();
      for (const { t, v } of samples) {
        const start = t - (t % window.periodMs);
        let values = byPeriod.get(start);
        if (!values) {
          values = [];
          byPeriod.set(start, values);
        }
        values.push(v);
      }
      const label = each ? `${query.label} ${stored.dimensions[each]}`.trim() : query.label;
      lines.push({
        label,
        query,
        points: [...byPeriod]
          .sort(([a], [b]) => a - b)
          .map(([start, values]) => [start, statistic(query.stat, values)] as const),
        overWindow: statistic(
          query.stat,
          samples.map((s) => s.v),
        ),
        samples: samples.length,
      });
    }
    return lines.sort((a, b) => a.label.localeCompare(b.label));
  }
}

/** A CloudWatch statistic over the values of one period; percentiles by nearest rank (p95: 95% of the values are at or below it). */
export function statistic(stat: Statistic, values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return NaN;
  const percentile = percentileOf(stat);
  if (percentile !== undefined) {
    const sorted = Float64Array.from(values).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil((percentile / 100) * n) - 1))];
  }
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  switch (stat) {
    case 'Sum':
      return sum;
    case 'Average':
      return sum / n;
    case 'Maximum':
      return max;
    case 'Minimum':
      return min;
    case 'SampleCount':
      return n;
    default:
      throw new RangeError(`unknown statistic ${stat}`);
  }
}
