import { Match, Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { ComputeFleet, type ComputeFleetProps } from '../../../lib/constructs';
import { userDataText } from '../../support/cdk';
import { bareStack, ec2Dependencies } from './fixtures';

function build(props: Partial<ComputeFleetProps> = {}) {
  const stack = bareStack();
  const fleet = new ComputeFleet(stack, 'Fleet', {
    ...ec2Dependencies(stack),
    port: 8080,
    storagePort: 8081,
    objects: {
      endpoint: 'https://rgw.storage.strata.internal:7443',
      bucket: 'strata-data',
      secret: new Secret(stack, 'S3'),
    },
    nodePolicy: 'most-slots',
    offloadPolicy: 'thresholds',
    offloadThresholds: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 },
    ...props,
  });
  return { stack, fleet };
}

describe('ComputeFleet', () => {
  // GIVEN its dependencies on a bare stack, WHEN the fleet is built to forecast and scale (synthesized once)
  const { stack, fleet } = build({
    minNodes: 3,
    maxNodes: 9,
    slotsPerNode: 4,
    predictiveScaling: 'forecast-and-scale',
  });
  const template = Template.fromStack(stack);

  test('THEN the group holds 3 to 9 nodes, waits for 3 signals, and launches any allowed type', () => {
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      Properties: Match.objectLike({
        MinSize: '3',
        MaxSize: '9',
        MixedInstancesPolicy: Match.objectLike({
          LaunchTemplate: Match.objectLike({
            Overrides: [{ InstanceType: 'c7g.large' }, { InstanceType: 'c7gd.large' }],
          }),
        }),
      }),
      CreationPolicy: { ResourceSignal: { Count: 3, Timeout: 'PT30M' } },
    });
  });

  test('THEN its nodes start from the shared node launch template and get their settings in strata.env', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', InstanceMetadataTags: 'enabled' }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 20, Encrypted: true }) })],
      }),
    });
    const launch = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0];
    const userData = userDataText(launch.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain("STRATA_SLOTS='4'");
    expect(userData).toContain("STRATA_BUCKET='strata-data'");
  });

  test('THEN it scales on CPU and slot use, and only the slot-use forecast acts', () => {
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleHookName: 'strata-drain' });
    expect(fleet.predictivePolicies).toHaveLength(2);
    const modes = Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy'))
      .filter((policy) => policy.Properties.PolicyType === 'PredictiveScaling')
      .map((policy) => policy.Properties.PredictiveScalingConfiguration.Mode);
    expect(modes.sort()).toEqual(['ForecastAndScale', 'ForecastOnly']);
  });

  test.each([
    [{ minNodes: 0 }, 'Fleet: minNodes must be a whole number from 1 to 1000, got 0'],
    [{ minNodes: 4, maxNodes: 3 }, 'Fleet: maxNodes must be a whole number from 4 to 1000, got 3'],
    [{ slotsPerNode: 0 }, 'Fleet: slotsPerNode must be a whole number from 1 to 256, got 0'],
    [{ targetCpuPercent: 100 }, 'Fleet: targetCpuPercent must be a whole number from 10 to 95, got 100'],
    [{ targetSlotUsePercent: 9 }, 'Fleet: targetSlotUsePercent must be a whole number from 10 to 95, got 9'],
    [
      { predictiveScaling: 'sometimes' as never },
      'Fleet: predictiveScaling must be one of off, forecast-only, forecast-and-scale, got "sometimes"',
    ],
    [{ instanceTypes: [] }, 'Fleet: instanceTypes must be a list of at least one, got []'],
    [{ port: 0 }, 'Fleet: port must be a whole number from 1 to 65535, got 0'],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
