import { Match, Template } from 'aws-cdk-lib/assertions';
import { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import { InstanceType, MachineImage } from 'aws-cdk-lib/aws-ec2';
import { PredictiveScaling, type PredictiveScalingProps } from '../../../lib/constructs';
import { bareStack, ec2Dependencies } from './fixtures';

function build(props: Partial<PredictiveScalingProps> = {}) {
  const stack = bareStack();
  const { vpc } = ec2Dependencies(stack);
  const group = new AutoScalingGroup(stack, 'Fleet', {
    vpc,
    instanceType: new InstanceType('c7g.large'),
    machineImage: MachineImage.latestAmazonLinux2023(),
  });
  const scaling = new PredictiveScaling(stack, 'Predictive', {
    group,
    mode: 'forecast-and-scale',
    targetCpuPercent: 70,
    targetSlotUsePercent: 60,
    ...props,
  });
  return { stack, scaling };
}

describe('PredictiveScaling', () => {
  // GIVEN a group, WHEN it forecasts and scales (synthesized once)
  const { stack, scaling } = build();
  const template = Template.fromStack(stack);
  const modes = () =>
    Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy')).map(
      (policy) => policy.Properties.PredictiveScalingConfiguration.Mode,
    );

  test('THEN only the slot-use policy scales: the CPU one keeps forecasting only (issue 23, 2.5)', () => {
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'PredictiveScaling',
      PredictiveScalingConfiguration: Match.objectLike({
        Mode: 'ForecastOnly',
        MetricSpecifications: [
          Match.objectLike({
            TargetValue: 70,
            PredefinedMetricPairSpecification: { PredefinedMetricType: 'ASGCPUUtilization' },
          }),
        ],
      }),
    });
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'PredictiveScaling',
      PredictiveScalingConfiguration: Match.objectLike({
        Mode: 'ForecastAndScale',
        SchedulingBufferTime: 300,
        MetricSpecifications: [
          Match.objectLike({ TargetValue: 60, CustomizedScalingMetricSpecification: Match.anyValue() }),
        ],
      }),
    });
    expect(modes().filter((mode) => mode === 'ForecastAndScale')).toHaveLength(1);
    expect(scaling.policies).toHaveLength(2);
  });

  test('GIVEN forecast-only THEN neither policy scales (read from the constructs, no second synth)', () => {
    const { scaling: forecastOnly } = build({ mode: 'forecast-only' });
    expect(
      forecastOnly.policies.map(
        (policy) => (policy.predictiveScalingConfiguration as { mode: string } | undefined)?.mode,
      ),
    ).toEqual(['ForecastOnly', 'ForecastOnly']);
  });

  test.each([
    [{ mode: 'always' as never }, 'Predictive: mode must be one of forecast-only, forecast-and-scale, got "always"'],
    [{ targetCpuPercent: 5 }, 'Predictive: targetCpuPercent must be a whole number from 10 to 95, got 5'],
    [{ targetSlotUsePercent: 99.5 }, 'Predictive: targetSlotUsePercent must be a whole number from 10 to 95, got 99.5'],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
