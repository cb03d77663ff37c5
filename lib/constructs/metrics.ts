import { Duration } from 'aws-cdk-lib';
import { type IMetric, MathExpression, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import {
  type DashboardResources,
  eachDimension,
  fixedDimensions,
  type MetricQuery,
  type MissingData,
  PERIOD_SECONDS,
  searchExpression,
} from '../../common/metrics/dashboard';

const PERIOD = Duration.seconds(PERIOD_SECONDS);

/**
 * The CloudWatch metrics for one query of the dashboard definition: one metric, or one
 * per ElastiCache member or predictive policy, or a SEARCH with a line per node (nodes
 * come and go, so their ids are not known at synth).
 */
export function cloudWatchMetrics(query: MetricQuery, resources: DashboardResources): IMetric[] {
  const fixed = fixedDimensions(query, resources);
  const each = eachDimension(query);
  if (!each) return [metricOf(query, fixed)];
  const [key, kind] = each;
  if (kind === 'node') {
    return [
      new MathExpression({
        expression: searchExpression(query, fixed),
        label: `${query.label} \${PROP('Dim.${key}')}`.trim(),
        period: PERIOD,
      }),
    ];
  }
  const values = kind === 'cacheMember' ? resources.cacheMembers : resources.predictivePolicies;
  return values.map((value) => metricOf(query, { ...fixed, [key]: value }, `${query.label} ${value}`.trim()));
}

/** One metric of a query whose dimensions are all known. */
export function metricOf(query: MetricQuery, dimensionsMap: Record<string, string>, label = query.label): Metric {
  return new Metric({
    namespace: query.namespace,
    metricName: query.name,
    dimensionsMap,
    statistic: query.stat,
    period: PERIOD,
    ...(label ? { label } : {}),
  });
}

/** The one metric of a query whose dimensions are all plain values (Strata's own fleet-wide figures). */
export function plainMetric(query: MetricQuery): Metric {
  const dims: Record<string, string> = {};
  for (const [key, value] of Object.entries(query.dimensions)) {
    if (typeof value !== 'string') throw new Error(`${query.name}: dimension ${key} is not a plain value`);
    dims[key] = value;
  }
  return metricOf(query, dims);
}

export const TREAT_MISSING_DATA: Record<MissingData, TreatMissingData> = {
  breaching: TreatMissingData.BREACHING,
  notBreaching: TreatMissingData.NOT_BREACHING,
  ignore: TreatMissingData.IGNORE,
  missing: TreatMissingData.MISSING,
};
