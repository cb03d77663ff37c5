import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import {
  type Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  ALARMS,
  type AlarmDefinition,
  type DashboardResources,
  eachDimension,
  fixedDimensions,
  TIER_TITLES,
  WIDGETS,
} from '../../common/metrics/dashboard';
import { cloudWatchMetrics, metricOf, TREAT_MISSING_DATA } from './metrics';
import { nonEmptyProp } from './validate';

export interface ObservabilityProps {
  readonly api: RestApi;
  readonly dispatcher: IFunction;
  readonly computeGroup: AutoScalingGroup;
  /** ElastiCache member ids (CloudWatch's CacheClusterId). */
  readonly cacheMembers: readonly string[];
  /** Names of the compute fleet's predictive scaling policies, whose forecasts the dashboard shows. @default none */
  readonly predictivePolicies?: readonly string[];
  readonly alerts: ITopic;
}

/**
 * The CloudWatch dashboard, one row per tier, and the alarms that page the alert topic,
 * both rendered from the one definition in common/metrics/dashboard.ts (the local page
 * renders the same). Each alarm is drawn on its widgets as its threshold.
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];
  /** What the definition's references resolve to in this deployment. */
  readonly resources: DashboardResources;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    nonEmptyProp(this, 'cacheMembers', props.cacheMembers);
    this.resources = {
      apiName: props.api.restApiName,
      dispatcherFunctionName: props.dispatcher.functionName,
      computeGroupName: props.computeGroup.autoScalingGroupName,
      cacheMembers: props.cacheMembers,
      predictivePolicies: props.predictivePolicies ?? [],
    };
    const annotations = new Map<string, HorizontalAnnotation>();
    for (const definition of ALARMS) {
      for (const alarm of this.createAlarms(definition, props.alerts)) {
        this.alarms.push(alarm);
        if (!annotations.has(definition.name))
          annotations.set(definition.name, {
            ...alarm.toAnnotation(),
            label: `${definition.name} > ${definition.threshold}`,
          });
      }
    }

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    for (const tier of [1, 2, 3] as const) {
      this.dashboard.addWidgets(new TextWidget({ markdown: `## ${TIER_TITLES[tier]}`, width: 24, height: 1 }));
      const row = WIDGETS.filter((widget) => widget.tier === tier).map((widget) => {
        const side = (axis: 'left' | 'right') =>
          widget.metrics
            .filter((query) => (query.axis ?? 'left') === axis)
            .flatMap((query) => cloudWatchMetrics(query, this.resources));
        return new GraphWidget({
          title: widget.title,
          left: side('left'),
          right: side('right'),
          leftAnnotations: (widget.alarms ?? []).map((name) => annotations.get(name)!),
          width: 8,
          height: 6,
        });
      });
      for (let i = 0; i < row.length; i += 3) this.dashboard.addWidgets(...row.slice(i, i + 3));
    }
  }

  /** One alarm, or one per ElastiCache member, notifying the alert topic when it fires and when it clears. */
  private createAlarms(definition: AlarmDefinition, alerts: ITopic): Alarm[] {
    const fixed = fixedDimensions(definition.metric, this.resources);
    const each = eachDimension(definition.metric);
    if (each && each[1] !== 'cacheMember')
      throw new Error(`alarm ${definition.name}: an alarm reads one metric, or one per ElastiCache member`);
    const targets = each
      ? this.resources.cacheMembers.map((member) => ({
          suffix: member.slice(-3),
          description: `ElastiCache ${member}: `,
          dims: { ...fixed, [each[0]]: member },
        }))
      : [{ suffix: '', description: '', dims: fixed }];
    return targets.map(({ suffix, description, dims }) => {
      const alarm = metricOf(definition.metric, dims, '').createAlarm(this, `${definition.name}${suffix}`, {
        alarmDescription: `${description}${definition.description}`,
        threshold: definition.threshold,
        evaluationPeriods: definition.evaluationPeriods,
        datapointsToAlarm: definition.evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TREAT_MISSING_DATA[definition.missingData],
      });
      alarm.addAlarmAction(new SnsAction(alerts));
      alarm.addOkAction(new SnsAction(alerts));
      return alarm;
    });
  }
}
