/**
 * The vocabulary of Strata's dashboard: a metric query, a widget, an alarm, as plain
 * data. The CDK renders these to CloudWatch (lib/constructs/observability.ts), the local
 * page renders the same ones from EMF records (local/dashboard/), and `strata status`
 * prints them. Nothing here does I/O or imports the CDK.
 */

/** CloudWatch's statistics that Strata uses; `pNN` is a percentile of the recorded values. */
export type Statistic = 'Average' | 'Sum' | 'Maximum' | 'Minimum' | 'SampleCount' | `p${number}`;

/** A dimension value that names a deployed resource; the CDK fills in its token, the local page its stand-in's name. */
export interface ResourceRef {
  readonly ref: 'apiName' | 'dispatcherFunctionName' | 'computeGroupName';
}

/**
 * One line per value of this dimension: per node (a CloudWatch SEARCH, since nodes come
 * and go), per ElastiCache member or per predictive scaling policy (both known at synth).
 */
export interface EachValue {
  readonly each: 'node' | 'cacheMember' | 'predictivePolicy';
}

export type DimensionValue = string | ResourceRef | EachValue;

export interface MetricQuery {
  readonly namespace: string;
  readonly name: string;
  /** Exactly the dimension set the metric is published with: CloudWatch matches the whole set. */
  readonly dimensions: Readonly<Record<string, DimensionValue>>;
  readonly stat: Statistic;
  /** The line's label; with an `each` dimension, the dimension's value follows it. */
  readonly label: string;
  /** @default 'left' */
  readonly axis?: 'left' | 'right';
}

export interface Widget {
  readonly title: string;
  readonly tier: 1 | 2 | 3;
  readonly metrics: readonly MetricQuery[];
  /** Names of alarms (ALARMS) drawn on the widget as their threshold. */
  readonly alarms?: readonly string[];
  /** What the left axis counts, for the local page. */
  readonly unit: string;
}

export type MissingData = 'breaching' | 'notBreaching' | 'ignore' | 'missing';

export interface AlarmDefinition {
  /** The construct id; with an `each: 'cacheMember'` metric, one alarm per member, its suffix appended. */
  readonly name: string;
  readonly description: string;
  readonly metric: MetricQuery;
  /** The alarm fires above this value. */
  readonly threshold: number;
  /** One-minute periods looked at; all must breach. */
  readonly evaluationPeriods: number;
  readonly missingData: MissingData;
}

/** Every metric is read in one-minute periods in CloudWatch. */
export const PERIOD_SECONDS = 60;

/** The names the dimensions of a deployed Strata get, or a local run's stand-ins. */
export interface DashboardResources {
  readonly apiName: string;
  readonly dispatcherFunctionName: string;
  readonly computeGroupName: string;
  readonly cacheMembers: readonly string[];
  readonly predictivePolicies: readonly string[];
}

/** The dimension that gives one line per value, if the query has one. */
export function eachDimension(query: MetricQuery): [string, EachValue['each']] | undefined {
  for (const [key, value] of Object.entries(query.dimensions)) {
    if (typeof value === 'object' && 'each' in value) return [key, value.each];
  }
  return undefined;
}

/** A query's fixed dimension values, with references filled in; `each` dimensions left out. */
export function fixedDimensions(query: MetricQuery, resources: DashboardResources): Record<string, string> {
  const fixed: Record<string, string> = {};
  for (const [key, value] of Object.entries(query.dimensions)) {
    if (typeof value === 'string') fixed[key] = value;
    else if ('ref' in value) fixed[key] = resources[value.ref];
  }
  return fixed;
}

/** The percentile a statistic asks for (0-100), or undefined for the others. */
export function percentileOf(stat: Statistic): number | undefined {
  const match = /^p(\d+(?:\.\d+)?)$/.exec(stat);
  return match ? Number(match[1]) : undefined;
}

/** CloudWatch's SEARCH for a query with a line per node: the exact dimension set, the fixed values as filters. */
export function searchExpression(query: MetricQuery, fixed: Readonly<Record<string, string>>): string {
  const filters = Object.entries(fixed)
    .map(([name, value]) => ` ${name}="${value}"`)
    .join('');
  const schema = [query.namespace, ...Object.keys(query.dimensions).sort()].join(',');
  return `SEARCH('{${schema}} MetricName="${query.name}"${filters}', '${query.stat}', ${PERIOD_SECONDS})`;
}
