import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { defineStrata } from '../../lib/app';
import { cdkJsonContext } from '../support/cdk';

// Settings other than the defaults reach the templates. One synth, without bundling;
// cdk-nag still runs (the plugin is part of the app), so these settings pass it too.
const strata = {
  invocationStrategy: 'power-of-two',
  choices: 3,
  prequal: { probes: 5, quantile: 0.5 },
  nodePolicy: 'least-load',
  offloadThresholds: { cpu: 0.6 },
  network: { maxAzs: 3, natGateways: 3 },
  state: { nodeType: 'cache.r7g.large', replicas: 2 },
  compute: {
    instanceTypes: ['c7i.xlarge', 'c6i.xlarge'],
    minNodes: 3,
    maxNodes: 12,
    slotsPerNode: 8,
    targetSlotUsePercent: 60,
    predictiveScaling: 'forecast-and-scale',
  },
  storage: { instanceTypes: ['m7i.xlarge'], osdsPerNode: 2, osdVolumeGiB: 500, pgNum: 256, pgAutoscale: false },
  dispatch: { reservedConcurrency: 100, memoryMiB: 1024 },
  alarmEmail: 'ops@example.com',
};
const app = new App({
  context: { ...cdkJsonContext(), strata, 'aws:cdk:bundling-stacks': [] },
  outdir: mkdtempSync(join(tmpdir(), 'strata-settings-')),
});
const stacks = defineStrata(app);
const assembly = app.synth();
const templateOf = (name: string) =>
  Template.fromJSON(assembly.getStackByName(name).template as Record<string, unknown>);

test('network: 3 AZs, a NAT gateway in each', () => {
  const network = templateOf(stacks.network.stackName);
  network.resourceCountIs('AWS::EC2::Subnet', 9);
  network.resourceCountIs('AWS::EC2::NatGateway', 3);
  network.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
});

test('state: the node type and two replicas', () => {
  templateOf(stacks.state.stackName).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    CacheNodeType: 'cache.r7g.large',
    NumCacheClusters: 3,
  });
  expect(stacks.state.cache.memberIds()).toHaveLength(3);
});

test('storage: x86 nodes, one per AZ, two 500 GiB OSD volumes each, 256 PGs with the autoscaler off', () => {
  const storage = templateOf(stacks.storage.stackName);
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by the test as it comes
  const groups = Object.values(storage.findResources('AWS::AutoScaling::AutoScalingGroup')) as { Properties: any }[];
  expect(groups).toHaveLength(3);
  const templates = groups.map(
    (group) =>
      storage.toJSON().Resources[
        group.Properties.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId.Ref
      ].Properties.LaunchTemplateData,
  );
  expect(templates.map((data) => data.InstanceType)).toEqual(['m7i.xlarge', 'm7i.xlarge', 'm7i.xlarge']);
  // One type is the operator's choice: each group says so against Control Tower's rule for two.
  for (const group of Object.values(storage.findResources('AWS::AutoScaling::AutoScalingGroup'))) {
    expect(group.Metadata['strata:controlTowerExceptions']['CT.AUTOSCALING.PR.6']).toBe(
      'The operator allowed one instance type (storage.instanceTypes: ["m7i.xlarge"])',
    );
  }
  const volumes = Object.values(storage.findResources('AWS::EC2::Volume')) as {
    Properties: { Size: number; AvailabilityZone: unknown };
  }[];
  expect(volumes.map((volume) => volume.Properties.Size)).toEqual(Array(6).fill(500));
  const parameters = storage.toJSON().Parameters as Record<string, { Default: string }>;
  expect(Object.values(parameters).map((parameter) => parameter.Default)).toContain(
    '/aws/service/debian/release/12/latest/amd64',
  );
  const userData = JSON.stringify(templates[0].UserData);
  for (const setting of [
    "STRATA_PG_NUM='256'",
    "STRATA_PG_AUTOSCALE='off'",
    `STRATA_OFFLOAD_THRESHOLDS='{\\"cpu\\":0.6,\\"memory\\":0.8,\\"loadPerCore\\":0.8}'`,
  ]) {
    expect(userData).toContain(setting);
  }
  expect(userData).toMatch(
    /STRATA_OSD_VOLUMES='",\{"Ref":"CephNode0Osd0[0-9A-F]+"\}," ",\{"Ref":"CephNode0Osd1[0-9A-F]+"\},"'/,
  );
});

test('compute: x86 Amazon Linux, 3 to 12 nodes of 8 slots, slot-use target 60% (tracked and forecast, acting on the forecast), the node policy', () => {
  const compute = templateOf(stacks.compute.stackName);
  compute.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
    MinSize: '3',
    MaxSize: '12',
    MixedInstancesPolicy: Match.objectLike({
      LaunchTemplate: Match.objectLike({ Overrides: [{ InstanceType: 'c7i.xlarge' }, { InstanceType: 'c6i.xlarge' }] }),
    }),
  });
  compute.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
    TargetTrackingConfiguration: Match.objectLike({
      CustomizedMetricSpecification: Match.objectLike({ MetricName: 'SlotUse' }),
      TargetValue: 60,
    }),
  });
  compute.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
    PolicyType: 'PredictiveScaling',
    PredictiveScalingConfiguration: Match.objectLike({
      Mode: 'ForecastAndScale',
      MetricSpecifications: [
        Match.objectLike({ TargetValue: 60, CustomizedScalingMetricSpecification: Match.anyValue() }),
      ],
    }),
  });
  const parameters = compute.toJSON().Parameters as Record<string, { Default: string }>;
  expect(Object.values(parameters).map((parameter) => parameter.Default)).toContain(
    '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64',
  );
  const userData = JSON.stringify(compute.findResources('AWS::EC2::LaunchTemplate'));
  expect(userData).toContain("STRATA_SLOTS='8'");
  expect(userData).toContain("STRATA_NODE_POLICY='least-load'");
});

test('dispatch: the strategy and its choices, reserved concurrency and memory', () => {
  templateOf(stacks.dispatch.stackName).hasResourceProperties('AWS::Lambda::Function', {
    Handler: 'index.handler',
    MemorySize: 1024,
    ReservedConcurrentExecutions: 100,
    Environment: {
      Variables: Match.objectLike({
        STRATA_STRATEGY: 'power-of-two',
        STRATA_STRATEGY_OPTIONS: '{"choices":3}',
      }),
    },
  });
  templateOf(stacks.dispatch.stackName).hasOutput('Policies', { Value: 'power-of-two / least-load / thresholds' });
});
