import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  type DashboardResources,
  eachDimension,
  fixedDimensions,
  type MetricQuery,
  PERIOD_SECONDS,
  searchExpression,
  TIER_TITLES,
  WIDGETS,
} from '../common/metrics/dashboard';
import { explainAwsError } from './aws';

/** One line of a widget as the terminal shows it: its label, statistic and latest value. */
export interface FigureLine {
  readonly label: string;
  readonly stat: string;
  /** The latest period's value, or undefined when the metric has no data in the window. */
  readonly value: number | undefined;
}

export interface WidgetFigures {
  readonly tier: 1 | 2 | 3;
  readonly title: string;
  readonly lines: readonly FigureLine[];
}

/** The console link of a CloudWatch dashboard. */
export function dashboardLink(region: string, name: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${encodeURIComponent(name)}`;
}

/** The GetMetricData queries of one widget line: a metric, one per member or policy, or a SEARCH (one line per node). */
function queriesOf(
  query: MetricQuery,
  resources: DashboardResources,
  id: () => string,
): { query: MetricDataQuery; label: string }[] {
  const fixed = fixedDimensions(query, resources);
  const each = eachDimension(query);
  const stat = (dimensions: Record<string, string>, label: string) => ({
    label,
    query: {
      Id: id(),
      Label: label,
      ReturnData: true,
      MetricStat: {
        Metric: {
          Namespace: query.namespace,
          MetricName: query.name,
          Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: PERIOD_SECONDS,
        Stat: query.stat,
      },
    },
  });
  if (!each) return [stat(fixed, query.label)];
  const [key, kind] = each;
  if (kind === 'node') {
    return [
      {
        label: query.label,
        query: {
          Id: id(),
          Label: `${query.label} \${PROP('Dim.${key}')}`.trim(),
          ReturnData: true,
          Expression: searchExpression(query, fixed),
          Period: PERIOD_SECONDS,
        },
      },
    ];
  }
  const values = kind === 'cacheMember' ? resources.cacheMembers : resources.predictivePolicies;
  return values.map((value) => stat({ ...fixed, [key]: value }, `${query.label} ${value}`.trim()));
}

/**
 * The dashboard's figures from CloudWatch (GetMetricData): for every widget of the
 * definition, each line's latest one-minute value in the last `minutes`.
 */
export async function cloudWatchFigures(
  resources: DashboardResources,
  region: string | undefined,
  minutes: number,
  now = new Date(),
): Promise<WidgetFigures[]> {
  let next = 0;
  const id = () => `q${next++}`;
  const plan = WIDGETS.map((widget) => ({
    widget,
    parts: widget.metrics.flatMap((query) =>
      queriesOf(query, resources, id).map((part) => ({ ...part, stat: query.stat })),
    ),
  }));
  const all = plan.flatMap(({ parts }) => parts.map((part) => part.query));
  const client = new CloudWatchClient({ region });
  const results = new Map<string, { label: string; value: number | undefined }[]>();
  try {
    for (let at = 0; at < all.length; at += 500) {
      let token: string | undefined;
      do {
        const reply = await client.send(
          new GetMetricDataCommand({
            MetricDataQueries: all.slice(at, at + 500),
            StartTime: new Date(now.getTime() - minutes * 60_000),
            EndTime: now,
            ScanBy: 'TimestampDescending',
            NextToken: token,
          }),
        );
        for (const result of reply.MetricDataResults ?? []) {
          const lines = results.get(result.Id!) ?? [];
          lines.push({ label: result.Label ?? '', value: result.Values?.[0] });
          results.set(result.Id!, lines);
        }
        token = reply.NextToken;
      } while (token);
    }
  } catch (error) {
    return explainAwsError(error);
  } finally {
    client.destroy();
  }
  return plan.map(({ widget, parts }) => ({
    tier: widget.tier,
    title: widget.title,
    lines: parts.flatMap((part) => {
      const found = results.get(part.query.Id!) ?? [];
      // A SEARCH answers one result per node it found, or none: then the line has no data.
      if (part.query.Expression && found.length > 0)
        return found.map((line) => ({ label: line.label, stat: part.stat, value: line.value }));
      return [{ label: part.label, stat: part.stat, value: found[0]?.value }];
    }),
  }));
}

/** The figures as the terminal prints them: a heading per tier, a line per widget. */
export function formatFigures(widgets: readonly WidgetFigures[]): string {
  const out: string[] = [];
  const width = Math.max(...widgets.map((widget) => widget.title.length));
  for (const tier of [1, 2, 3] as const) {
    out.push(TIER_TITLES[tier]);
    for (const widget of widgets.filter((w) => w.tier === tier)) {
      const lines = widget.lines.map(
        ({ label, stat, value }) =>
          `${label || stat} ${value === undefined || !Number.isFinite(value) ? '-' : format(value)}`,
      );
      out.push(`  ${widget.title.padEnd(width)}  ${lines.join(', ') || '-'}`);
    }
  }
  return out.join('\n');
}

function format(value: number): string {
  return Math.abs(value) >= 100 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(2);
}
