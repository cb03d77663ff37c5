import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { slotUseMetric } from './compute-fleet';

export interface ObservabilityProps {
  readonly api: RestApi;
  readonly dispatcher: IFunction;
  readonly computeGroup: AutoScalingGroup;
  /** ElastiCache member ids (CloudWatch's CacheClusterId). */
  readonly cacheMembers: readonly string[];
  readonly alerts: ITopic;
}

const MINUTE = Duration.minutes(1);

/** A metric of Strata's own namespace: the nodes' EMF records and the dispatcher's. */
function strata(metricName: string, dimensionsMap: Record<string, string>, statistic = 'Average'): Metric {
  return new Metric({ namespace: 'Strata', metricName, dimensionsMap, statistic, period: MINUTE });
}

/** One line per node (or per dispatch target), found by CloudWatch search. */
function perNode(metricName: string, role: string, statistic = 'Average'): MathExpression {
  return new MathExpression({
    expression: `SEARCH('{Strata,NodeId,Role} MetricName="${metricName}" Role="${role}"', '${statistic}', 60)`,
    label: '',
    period: MINUTE,
  });
}

/**
 * The CloudWatch dashboard, one row per tier, and the alarms that page the alert topic:
 * API errors, dispatcher errors and no-capacity, degraded state, compute saturation,
 * storage and Ceph health, ElastiCache load.
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const dispatcherDims = { service: 'dispatcher' };
    const dispatchLatency = (stat: string) => strata('DispatchLatency', dispatcherDims, stat).with({ label: `dispatch ${stat}` });
    const cacheMetric = (metricName: string, member: string, statistic = 'Average') =>
      new Metric({ namespace: 'AWS/ElastiCache', metricName, dimensionsMap: { CacheClusterId: member }, statistic, period: MINUTE });
    const graph = (title: string, left: IMetric[], right: IMetric[] = [], width = 8) => new GraphWidget({ title, left, right, width, height: 6 });

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(new TextWidget({ markdown: '## Tier 1: API Gateway and the dispatcher', width: 24, height: 1 }));
    this.dashboard.addWidgets(
      graph('API latency (ms)', [props.api.metricLatency({ statistic: 'p50', period: MINUTE }), props.api.metricLatency({ statistic: 'p99', period: MINUTE })]),
      graph('Dispatch latency (ms)', [dispatchLatency('p50'), dispatchLatency('p99')]),
      graph('Errors', [
        props.api.metricClientError({ period: MINUTE }),
        props.api.metricServerError({ period: MINUTE }),
        props.dispatcher.metricErrors({ period: MINUTE }),
        props.dispatcher.metricThrottles({ period: MINUTE }),
        strata('NoCapacity', dispatcherDims, 'Sum'),
        strata('NodeErrors', dispatcherDims, 'Sum'),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Decisions per node', [new MathExpression({ expression: `SEARCH('{Strata,Node,service} MetricName="Decisions"', 'Sum', 60)`, label: '', period: MINUTE })]),
      graph('Retries and degraded decisions', [strata('Retries', dispatcherDims, 'Sum'), strata('DegradedDecisions', dispatcherDims, 'Sum')]),
      graph('Invocations and concurrency', [props.dispatcher.metricInvocations({ period: MINUTE })], [
        new Metric({ namespace: 'AWS/Lambda', metricName: 'ConcurrentExecutions', dimensionsMap: { FunctionName: props.dispatcher.functionName }, statistic: 'Maximum', period: MINUTE }),
      ]),
    );

    this.dashboard.addWidgets(new TextWidget({ markdown: '## Tier 2: compute nodes', width: 24, height: 1 }));
    const computeCpu = strata('CpuBusy', { Role: 'compute' });
    this.dashboard.addWidgets(
      graph('CPU busy % per node', [perNode('CpuBusy', 'compute')]),
      graph('Memory used % per node', [perNode('MemoryUsed', 'compute')]),
      graph('Load per core per node', [perNode('LoadPerCore', 'compute')]),
    );
    this.dashboard.addWidgets(
      graph('Slot use % (fleet)', [slotUseMetric(), slotUseMetric().with({ statistic: 'Maximum' })]),
      graph('Slots used per node', [perNode('SlotsUsed', 'compute', 'Maximum')]),
      new SingleValueWidget({
        title: 'Nodes in service',
        metrics: [new Metric({ namespace: 'AWS/AutoScaling', metricName: 'GroupInServiceInstances', dimensionsMap: { AutoScalingGroupName: props.computeGroup.autoScalingGroupName }, statistic: 'Average', period: MINUTE })],
        width: 8,
        height: 6,
      }),
    );

    this.dashboard.addWidgets(new TextWidget({ markdown: '## Tier 3: storage nodes, offload, Ceph and the state store', width: 24, height: 1 }));
    this.dashboard.addWidgets(
      graph('Storage CPU / memory / load per core', [perNode('CpuBusy', 'storage'), perNode('MemoryUsed', 'storage')], [perNode('LoadPerCore', 'storage')]),
      graph('Near-data stages running (storage slots used)', [perNode('SlotsUsed', 'storage', 'Maximum')]),
      graph('Ceph health (0 ok, 1 warn, 2 error) and PGs not clean', [strata('CephHealth', { Role: 'storage' }, 'Maximum')], [strata('CephPgsNotClean', { Role: 'storage' }, 'Maximum')]),
    );
    this.dashboard.addWidgets(
      graph('ElastiCache engine CPU %', props.cacheMembers.map((member) => cacheMetric('EngineCPUUtilization', member))),
      graph('ElastiCache memory % and connections', props.cacheMembers.map((member) => cacheMetric('DatabaseMemoryUsagePercentage', member)), props.cacheMembers.map((member) => cacheMetric('CurrConnections', member))),
      graph('ElastiCache replication lag (s)', props.cacheMembers.slice(1).map((member) => cacheMetric('ReplicationLag', member, 'Maximum'))),
    );

    const alarm = (name: string, description: string, metric: Metric | MathExpression, threshold: number, evaluationPeriods = 5, treatMissingData = TreatMissingData.NOT_BREACHING) => {
      const created = metric.createAlarm(this, name, {
        alarmDescription: description,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData,
      });
      created.addAlarmAction(new SnsAction(props.alerts));
      created.addOkAction(new SnsAction(props.alerts));
      this.alarms.push(created);
    };
    alarm('ApiServerErrors', 'API Gateway answers 5xx', props.api.metricServerError({ period: MINUTE, statistic: 'Sum' }), 10, 3);
    alarm('DispatcherErrors', 'The dispatcher Lambda fails', props.dispatcher.metricErrors({ period: MINUTE, statistic: 'Sum' }), 0, 3);
    alarm('DispatcherThrottles', 'The dispatcher Lambda is throttled: raise its reserved concurrency', props.dispatcher.metricThrottles({ period: MINUTE, statistic: 'Sum' }), 0, 3);
    alarm('NoCapacity', 'Invocations found no free compute node within the queue timeout', strata('NoCapacity', dispatcherDims, 'Sum'), 0, 3);
    alarm('DegradedState', 'The dispatcher cannot reach ElastiCache and decides over its last known nodes', strata('DegradedMode', dispatcherDims, 'Sum'), 0, 2);
    alarm('ComputeSaturated', 'Compute slot use stays above 90%: the fleet is at its maximum or cannot scale', slotUseMetric(), 90, 10);
    alarm('ComputeCpuHigh', 'Compute CPU stays above 90%', computeCpu, 90, 10);
    alarm('StorageOverThresholds', 'Storage nodes stay above 80% CPU: data stages run on compute nodes instead', strata('CpuBusy', { Role: 'storage' }, 'Maximum'), 80, 10);
    alarm('CephUnhealthy', 'Ceph is not HEALTH_OK (or its health metric stopped)', strata('CephHealth', { Role: 'storage' }, 'Maximum'), 0, 5, TreatMissingData.BREACHING);
    for (const member of props.cacheMembers) {
      alarm(`CacheCpu${member.slice(-3)}`, `ElastiCache ${member}: engine CPU above 80%`, cacheMetric('EngineCPUUtilization', member), 80, 5);
      alarm(`CacheMemory${member.slice(-3)}`, `ElastiCache ${member}: memory above 80%`, cacheMetric('DatabaseMemoryUsagePercentage', member), 80, 5);
    }
  }
}
