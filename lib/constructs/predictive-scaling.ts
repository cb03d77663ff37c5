import type { IAutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import { CfnScalingPolicy } from 'aws-cdk-lib/aws-autoscaling';
import { Construct } from 'constructs';
import { type MetricQuery, SLOT_LOAD, SLOT_USE } from '../../common/metrics/dashboard';
import { plainMetric } from './metrics';
import { oneOfProp, wholeProp } from './validate';

export type PredictiveMode = 'forecast-only' | 'forecast-and-scale';
export const PREDICTIVE_MODES: readonly PredictiveMode[] = ['forecast-only', 'forecast-and-scale'];

export interface PredictiveScalingProps {
  readonly group: IAutoScalingGroup;
  /**
   * 'forecast-only' publishes both forecasts (after 24 hours of metrics) without acting;
   * 'forecast-and-scale' also launches nodes ahead of the slot-use forecast.
   */
  readonly mode: PredictiveMode;
  /** The CPU the forecast aims at, percent (the group's target tracking target). */
  readonly targetCpuPercent: number;
  /** The slot use the forecast aims at, percent. */
  readonly targetSlotUsePercent: number;
}

/**
 * Predictive scaling of the compute fleet, on CPU and on slot use, beside its target
 * tracking. Only one predictive policy may act on a group, or they fight over its
 * capacity: with 'forecast-and-scale' the slot-use policy scales (slots are what an
 * invocation waits for) and the CPU one keeps forecasting only, for the dashboard.
 */
export class PredictiveScaling extends Construct {
  /** The CPU policy, then the slot-use one; their forecasts are on the dashboard. */
  readonly policies: readonly CfnScalingPolicy[];

  constructor(scope: Construct, id: string, props: PredictiveScalingProps) {
    super(scope, id);
    oneOfProp(this, 'mode', props.mode, PREDICTIVE_MODES);
    wholeProp(this, 'targetCpuPercent', props.targetCpuPercent, 10, 95);
    wholeProp(this, 'targetSlotUsePercent', props.targetSlotUsePercent, 10, 95);
    const policy = (
      id: string,
      mode: 'ForecastOnly' | 'ForecastAndScale',
      metricSpecification: CfnScalingPolicy.PredictiveScalingMetricSpecificationProperty,
    ) =>
      new CfnScalingPolicy(this, id, {
        autoScalingGroupName: props.group.autoScalingGroupName,
        policyType: 'PredictiveScaling',
        predictiveScalingConfiguration: {
          mode,
          // A node boots and installs in about 3 minutes, then warms up: launch it 5 minutes ahead.
          schedulingBufferTime: 300,
          maxCapacityBreachBehavior: 'HonorMaxCapacity',
          metricSpecifications: [metricSpecification],
        },
      });
    this.policies = [
      policy('Cpu', 'ForecastOnly', {
        targetValue: props.targetCpuPercent,
        predefinedMetricPairSpecification: { predefinedMetricType: 'ASGCPUUtilization' },
      }),
      policy('SlotUse', props.mode === 'forecast-and-scale' ? 'ForecastAndScale' : 'ForecastOnly', {
        targetValue: props.targetSlotUsePercent,
        customizedScalingMetricSpecification: { metricDataQueries: [metricDataQuery('slot_use', SLOT_USE)] },
        customizedLoadMetricSpecification: { metricDataQueries: [metricDataQuery('slot_load', SLOT_LOAD)] },
      }),
    ];
  }
}

/** A predictive policy's query for one of Strata's fleet-wide metrics (plain dimensions only). */
function metricDataQuery(id: string, query: MetricQuery): CfnScalingPolicy.MetricDataQueryProperty {
  const metric = plainMetric(query);
  return {
    id,
    metricStat: {
      metric: {
        namespace: metric.namespace,
        metricName: metric.metricName,
        dimensions: Object.entries(metric.dimensions ?? {}).map(([name, value]) => ({ name, value: String(value) })),
      },
      stat: query.stat,
    },
    returnData: true,
  };
}
