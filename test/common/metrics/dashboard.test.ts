import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ALARMS, eachDimension, type MetricQuery, WIDGETS } from '../../../common/metrics/dashboard';
import { defineStrata } from '../../../lib/app';
import { type LocalDashboard, serveDashboard } from '../../../local/dashboard/server';
import { cdkJsonContext } from '../../support/cdk';

// Both renderings of the one definition (common/metrics/dashboard.ts): CloudWatch's, from
// a synth of the app, and the local page's, from its server. Each must be the definition,
// widget by widget and line by line.
const app = new App({
  context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
  outdir: mkdtempSync(join(tmpdir(), 'strata-dashboard-')),
});
const stacks = defineStrata(app);
const template = Template.fromJSON(
  app.synth().getStackByName(stacks.observability.stackName).template as Record<string, unknown>,
);
const members = stacks.state.cache.memberIds();

/** CloudFormation's joins flattened, each token a placeholder: the dashboard body as JSON. */
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by the test as it comes
function dashboardBody(): { widgets: { type: string; properties: Record<string, any> }[] } {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as {
    Properties: { DashboardBody: unknown };
  }[];
  const flatten = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.map(flatten).join('');
    const join = (value as Record<string, unknown>)['Fn::Join'] as [string, unknown[]] | undefined;
    return join ? join[1].map(flatten).join(join[0]) : 'TOKEN';
  };
  return JSON.parse(flatten(dashboard.Properties.DashboardBody));
}

/** A line as "namespace/name {dimension keys} stat axis". */
const line = (namespace: string, name: string, keys: string[], stat: string, axis: string) =>
  `${namespace}/${name} {${[...keys].sort().join(',')}} ${stat} ${axis}`;

/** The lines CloudWatch should draw for a query: one, one per member or policy, or one SEARCH. */
function expectedCloudWatchLines(query: MetricQuery): string[] {
  const entry = line(query.namespace, query.name, Object.keys(query.dimensions), query.stat, query.axis ?? 'left');
  const kind = eachDimension(query)?.[1];
  const copies = kind === 'cacheMember' ? members.length : kind === 'predictivePolicy' ? 2 : 1;
  return Array.from({ length: copies }, () => entry);
}

/** What a CloudWatch widget's metrics array says: a metric's namespace, name and keys, or a SEARCH's. */
function cloudWatchLines(metrics: unknown[][]): string[] {
  return metrics.map((item) => {
    const options = item[item.length - 1] as { stat?: string; yAxis?: string; expression?: string };
    if (options.expression) {
      const match = /^SEARCH\('\{([^}]+)\} MetricName="([^"]+)"[^']*', '([^']+)', 60\)$/.exec(options.expression)!;
      const [namespace, ...keys] = match[1].split(',');
      return line(namespace, match[2], keys, match[3], options.yAxis ?? 'left');
    }
    const [namespace, name, ...rest] = item.slice(0, -1) as string[];
    return line(
      namespace,
      name,
      rest.filter((_, i) => i % 2 === 0),
      options.stat ?? 'Average',
      options.yAxis ?? 'left',
    );
  });
}

describe('one dashboard definition, two renderings', () => {
  let local: LocalDashboard;
  beforeAll(async () => {
    local = await serveDashboard();
  });
  afterAll(async () => {
    await local?.close();
  });

  test('CloudWatch draws exactly the definition: the same widgets in the same order, the same lines, the same alarm thresholds', () => {
    const graphs = dashboardBody().widgets.filter((widget) => widget.type === 'metric');
    expect(graphs.map((widget) => widget.properties.title)).toEqual(WIDGETS.map((widget) => widget.title));
    graphs.forEach((graph, i) => {
      const widget = WIDGETS[i];
      expect(cloudWatchLines(graph.properties.metrics)).toEqual(widget.metrics.flatMap(expectedCloudWatchLines));
      const annotations = (graph.properties.annotations?.horizontal ?? []) as { label: string; value: number }[];
      expect(annotations).toEqual(
        (widget.alarms ?? []).map((name) => {
          const alarm = ALARMS.find((candidate) => candidate.name === name)!;
          return expect.objectContaining({ label: `${name} > ${alarm.threshold}`, value: alarm.threshold });
        }),
      );
    });
  });

  test('the local page gets exactly the definition: the same widgets in the same order, the same queries, the same alarms', async () => {
    const response = await fetch(`${local.url}api/dashboard`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as ReturnType<LocalDashboard['data']>;
    expect(page.widgets.map((widget) => [widget.tier, widget.title])).toEqual(
      WIDGETS.map((widget) => [widget.tier, widget.title]),
    );
    page.widgets.forEach((widget, i) => {
      expect(widget.queries.map((query) => [query.namespace, query.name, query.stat, query.label, query.axis])).toEqual(
        WIDGETS[i].metrics.map((query) => [query.namespace, query.name, query.stat, query.label, query.axis ?? 'left']),
      );
      expect(widget.alarms.map((alarm) => [alarm.name, alarm.threshold])).toEqual(
        (WIDGETS[i].alarms ?? []).map((name) => [name, ALARMS.find((alarm) => alarm.name === name)!.threshold]),
      );
    });
  });

  test('every alarm of the definition exists in CloudWatch with its threshold, periods and missing-data rule', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as {
      Properties: Record<string, unknown>;
    }[];
    for (const definition of ALARMS) {
      const copies = eachDimension(definition.metric) ? members.length : 1;
      const matching = alarms.filter(
        ({ Properties: p }) => p.MetricName === definition.metric.name && p.Namespace === definition.metric.namespace,
      );
      expect(matching).toHaveLength(copies);
      for (const { Properties: p } of matching) {
        expect(p).toMatchObject({
          Threshold: definition.threshold,
          EvaluationPeriods: definition.evaluationPeriods,
          DatapointsToAlarm: definition.evaluationPeriods,
          Statistic: definition.metric.stat,
          Period: 60,
          TreatMissingData: definition.missingData,
        });
        expect((p.Dimensions as { Name: string }[]).map((d) => d.Name).sort()).toEqual(
          Object.keys(definition.metric.dimensions).sort(),
        );
      }
    }
    expect(alarms).toHaveLength(ALARMS.reduce((n, alarm) => n + (eachDimension(alarm.metric) ? members.length : 1), 0));
  });
});
