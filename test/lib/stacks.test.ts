import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { defineStrata } from '../../lib/app';
import { PORTS, VPC_CIDR } from '../../lib/constructs/network';
import { cdkJsonContext, userDataText } from '../support/cdk';

// One synth of the whole app for the file, as `cdk synth` does it (cdk.json's context,
// cdk-nag and the CloudFormation validator on), but without bundling assets: the
// bundles have their own test. app.synth() throws on any unacknowledged finding.
const app = new App({
  context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
  outdir: mkdtempSync(join(tmpdir(), 'strata-stacks-')),
});
const stacks = defineStrata(app);
const assembly = app.synth();
const templateOf = (stack: Stack) =>
  Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
const network = templateOf(stacks.network);
const state = templateOf(stacks.state);
const storage = templateOf(stacks.storage);
const compute = templateOf(stacks.compute);
const dispatch = templateOf(stacks.dispatch);
const observability = templateOf(stacks.observability);
const all = [network, state, storage, compute, dispatch, observability];

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by the test as it comes
function resourcesOf(template: Template, type: string): Record<string, { Properties: Record<string, any> }> {
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by the test as it comes
  return template.findResources(type) as Record<string, { Properties: Record<string, any> }>;
}

describe('the whole app', () => {
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
    pluginReports: {
      pluginName: string;
      conclusion: string;
      violations: unknown[];
      suppressedViolations: { ruleName: string; reason: string; violatingConstructs: unknown[] }[];
    }[];
  };

  test('passes cdk-nag AwsSolutions with no unacknowledged finding', () => {
    expect(
      report.pluginReports.map(({ pluginName, conclusion, violations }) => ({ pluginName, conclusion, violations })),
    ).toEqual([{ pluginName: 'AwsSolutions', conclusion: 'success', violations: [] }]);
  });

  test("passes Control Tower's proactive controls; the resources excepted, each from one control with its reason", () => {
    const excepted = all.flatMap((template) =>
      Object.entries(
        template.toJSON().Resources as Record<string, { Metadata?: Record<string, Record<string, string>> }>,
      ).flatMap(([id, resource]) =>
        Object.entries(resource.Metadata?.['strata:controlTowerExceptions'] ?? {}).map(([control, reason]) => ({
          id,
          control,
          reason,
        })),
      ),
    );
    for (const { reason } of excepted) expect(reason.length).toBeGreaterThan(40);
    expect(excepted.map(({ id, control }) => `${control} ${id.replace(/[0-9A-F]{8}$/, '')}`).sort()).toEqual([
      'CT.AUTOSCALING.PR.1 CephNode0ASG',
      'CT.AUTOSCALING.PR.1 CephNode1ASG',
      'CT.AUTOSCALING.PR.1 CephNode2ASG',
      'CT.LAMBDA.PR.2 ApifunctionsGETApiPermissionStrataDispatchApi21638CF3GETfunctions',
      'CT.LAMBDA.PR.2 ApifunctionsnameDELETEApiPermissionStrataDispatchApi21638CF3DELETEfunctionsname',
      'CT.LAMBDA.PR.2 ApifunctionsnameGETApiPermissionStrataDispatchApi21638CF3GETfunctionsname',
      'CT.LAMBDA.PR.2 ApifunctionsnamePUTApiPermissionStrataDispatchApi21638CF3PUTfunctionsname',
      'CT.LAMBDA.PR.2 ApifunctionsnamealiasesaliasPUTApiPermissionStrataDispatchApi21638CF3PUTfunctionsnamealiasesalias',
      'CT.LAMBDA.PR.2 ApihealthGETApiPermissionStrataDispatchApi21638CF3GEThealth',
      'CT.LAMBDA.PR.2 ApihealthGETApiPermissionTestStrataDispatchApi21638CF3GEThealth',
      'CT.LAMBDA.PR.2 ApiinvokefunctionPOSTApiPermissionStrataDispatchApi21638CF3POSTinvokefunction',
      'CT.LAMBDA.PR.2 ApiinvokefunctionPOSTApiPermissionTestStrataDispatchApi21638CF3POSTinvokefunction',
      'CT.LAMBDA.PR.3 AWS679f53fac002430cb0da5b7982bd2287',
      'CT.LAMBDA.PR.3 CustomVpcRestrictDefaultSGCustomResourceProviderHandler',
      'CT.LAMBDA.PR.3 DispatcherFunction',
      'CT.LAMBDA.PR.3 FunctionsApiFunction',
      'CT.S3.PR.10 FunctionCodeAccessLogs',
      'CT.S3.PR.2 FunctionCodeAccessLogs',
      'CT.S3.PR.4 FunctionCodeAccessLogs',
      'CT.S3.PR.9 FunctionCodeAccessLogs',
      'CT.S3.PR.9 FunctionCodeBucket',
    ]);
  });

  test('every acknowledged finding carries a specific reason', () => {
    const suppressed = report.pluginReports.flatMap((plugin) => plugin.suppressedViolations);
    expect(suppressed.length).toBeGreaterThan(0);
    for (const { ruleName, reason, violatingConstructs } of suppressed) {
      expect(ruleName).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(reason.length).toBeGreaterThan(40);
      expect(violatingConstructs.length).toBeGreaterThan(0);
    }
  });

  test('no security group in any stack takes traffic from outside the VPC', () => {
    for (const template of all) {
      for (const group of Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroup'))) {
        for (const rule of group.Properties.SecurityGroupIngress ?? []) expect(rule.CidrIp).toBe(VPC_CIDR);
      }
      for (const rule of Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress'))) {
        expect(rule.Properties.CidrIp ?? VPC_CIDR).toBe(VPC_CIDR);
      }
    }
  });

  test('no compute or storage node gets a public IP or an SSH key', () => {
    for (const template of [storage, compute]) {
      for (const type of ['AWS::EC2::Instance', 'AWS::EC2::LaunchTemplate']) {
        for (const resource of Object.values(resourcesOf(template, type))) {
          const properties = resource.Properties.LaunchTemplateData ?? resource.Properties;
          expect(properties.KeyName).toBeUndefined();
          for (const nic of properties.NetworkInterfaces ?? []) expect(nic.AssociatePublicIpAddress).toBe(false);
        }
      }
    }
  });
});

describe('StrataNetwork', () => {
  test('a VPC over 3 AZs: NAT-only public subnets, private workload subnets, isolated data subnets', () => {
    network.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: VPC_CIDR });
    network.resourceCountIs('AWS::EC2::Subnet', 9);
    network.resourceCountIs('AWS::EC2::NatGateway', 1);
    for (const subnet of Object.values(resourcesOf(network, 'AWS::EC2::Subnet')))
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
  });

  test('flow logs of all traffic go to CloudWatch Logs', () => {
    network.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
  });

  test('VPC endpoints for S3, SSM, CloudWatch and Secrets Manager', () => {
    network.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
    });
    const interfaces = Object.values(resourcesOf(network, 'AWS::EC2::VPCEndpoint'))
      .filter((endpoint) => endpoint.Properties.VpcEndpointType === 'Interface')
      .map((endpoint) => JSON.stringify(endpoint.Properties.ServiceName).match(/\.([a-z0-9]+)"\]/)?.[1]);
    expect(interfaces.sort()).toEqual(['ec2messages', 'logs', 'monitoring', 'secretsmanager', 'ssm', 'ssmmessages']);
  });

  test('the state store takes its port from the dispatcher, the functions API and the nodes only', () => {
    const cacheIngress = Object.values(resourcesOf(network, 'AWS::EC2::SecurityGroupIngress')).filter(
      (rule) => rule.Properties.FromPort === PORTS.cache,
    );
    expect(cacheIngress.map((rule) => rule.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]).sort()).toEqual([
      expect.stringMatching(/^NetworkComputeSecurityGroup/),
      expect.stringMatching(/^NetworkDispatcherSecurityGroup/),
      expect.stringMatching(/^NetworkFunctionsApiSecurityGroup/),
      expect.stringMatching(/^NetworkStorageSecurityGroup/),
    ]);
    for (const rule of cacheIngress) {
      expect(rule.Properties.SourceSecurityGroupId).toBeDefined();
      expect(rule.Properties.ToPort).toBe(PORTS.cache);
    }
  });

  test('the dispatcher has no ingress and egress only to the state store, compute nodes, HTTPS endpoints and S3', () => {
    const dispatcherGroup = Object.entries(resourcesOf(network, 'AWS::EC2::SecurityGroup')).find(([id]) =>
      id.startsWith('NetworkDispatcherSecurityGroup'),
    )!;
    expect(dispatcherGroup[1].Properties.SecurityGroupIngress).toBeUndefined();
    const [groupId] = dispatcherGroup;
    const egress = Object.values(resourcesOf(network, 'AWS::EC2::SecurityGroupEgress'))
      .filter((rule) => rule.Properties.GroupId['Fn::GetAtt']?.[0] === groupId)
      .map((rule) => rule.Properties.FromPort)
      .sort();
    expect(egress).toEqual([443, 443, PORTS.cache, PORTS.computeNode].sort()); // 443: Secrets Manager's endpoint, S3
    // The inline placeholder replaces EC2's default allow-all egress.
    expect(dispatcherGroup[1].Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '255.255.255.255/32', IpProtocol: 'icmp' }),
    ]);
  });

  test('Ceph ports are open between storage nodes only', () => {
    const storageGroupId = Object.keys(resourcesOf(network, 'AWS::EC2::SecurityGroup')).find((id) =>
      id.startsWith('NetworkStorageSecurityGroup'),
    )!;
    const cephRules = Object.values(resourcesOf(network, 'AWS::EC2::SecurityGroupIngress')).filter((rule) =>
      [3300, 6789, 6800].includes(rule.Properties.FromPort),
    );
    expect(cephRules).toHaveLength(3);
    for (const rule of cephRules)
      expect(rule.Properties.SourceSecurityGroupId).toEqual({ 'Fn::GetAtt': [storageGroupId, 'GroupId'] });
  });

  test('the alert topic is encrypted with a rotating key and refuses plain HTTP', () => {
    network.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    network.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    network.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('StrataState', () => {
  test('a Valkey replication group: Multi-AZ failover, TLS required, encrypted at rest, a non-default port', () => {
    state.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey',
      CacheNodeType: 'cache.t4g.small',
      NumCacheClusters: 2,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
      Port: 6380,
    });
  });

  test("each role's password is generated in Secrets Manager and reaches ElastiCache as a dynamic reference, never as text; no shared AUTH token", () => {
    state.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        GenerateStringKey: 'password',
        PasswordLength: 64,
        ExcludePunctuation: true,
      }),
    });
    const users = Object.values(resourcesOf(state, 'AWS::ElastiCache::User'));
    expect(users.map((user) => user.Properties.UserName).sort()).toEqual([
      'strata-compute',
      'strata-dispatcher',
      'strata-functions-api',
      'strata-storage',
    ]);
    for (const user of users)
      expect(JSON.stringify(user.Properties.AuthenticationMode)).toMatch(
        /\{\{resolve:secretsmanager:.*:SecretString:password::\}\}/,
      );
    const group = Object.values(resourcesOf(state, 'AWS::ElastiCache::ReplicationGroup'))[0];
    expect(group.Properties.AuthToken).toBeUndefined();
    expect(group.Properties.UserGroupIds).toHaveLength(1);
  });

  test('slow-log delivery to CloudWatch Logs', () => {
    state.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      LogDeliveryConfigurations: [Match.objectLike({ DestinationType: 'cloudwatch-logs', LogType: 'slow-log' })],
    });
  });
});

describe('StrataStorage', () => {
  const groups = Object.entries(resourcesOf(storage, 'AWS::AutoScaling::AutoScalingGroup'));
  const templates = groups.map(
    ([, group]) =>
      storage.toJSON().Resources[
        group.Properties.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId.Ref
      ].Properties.LaunchTemplateData,
  );

  test('each node may launch as either of two Graviton types (the next when EC2 has none of the first), both encrypting traffic between instances', () => {
    for (const [, group] of groups) {
      expect(group.Properties.MixedInstancesPolicy.LaunchTemplate.Overrides).toEqual([
        { InstanceType: 'm7g.large' },
        { InstanceType: 'm7gd.large' },
      ]);
      expect(group.Properties.MixedInstancesPolicy.InstancesDistribution).toEqual({
        OnDemandAllocationStrategy: 'prioritized',
        OnDemandPercentageAboveBaseCapacity: 100,
      });
    }
  });

  test('3 Debian 12 storage nodes (Ceph 16 from its packages), each a group of one in its own AZ', () => {
    expect(groups).toHaveLength(3);
    const parameters = storage.toJSON().Parameters as Record<string, { Default: string }>;
    expect(Object.values(parameters).map((parameter) => parameter.Default)).toContain(
      '/aws/service/debian/release/12/latest/arm64',
    );
  });

  test('each node: IMDSv2 (hop limit 1), detailed monitoring, an encrypted gp3 root; its OSD volume is a 100 GiB encrypted gp3 of its own', () => {
    for (const data of templates) {
      expect(data.MetadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
      expect(data.Monitoring).toEqual({ Enabled: true });
      expect(data.BlockDeviceMappings).toEqual([
        { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 30, VolumeType: 'gp3' } },
      ]);
    }
    storage.resourcePropertiesCountIs('AWS::EC2::Volume', { Encrypted: true, Size: 100, VolumeType: 'gp3' }, 3);
  });

  test('user data runs the project scripts with a 128-PG data pool and the autoscaler on; every node knows every monitor', () => {
    const [first, second] = templates.map((data) => userDataText(data.UserData));
    expect(first).toContain("STRATA_CEPH_INDEX='0'");
    expect(first).toContain("STRATA_PG_NUM='128'");
    expect(first).toContain("STRATA_PG_AUTOSCALE='on'");
    expect(first).toContain("STRATA_LOCALITY='on'"); // the agent publishes the placement map
    expect(first).toContain('exec bash /opt/strata/node-setup/storage-node.sh');
    expect(second).toContain("STRATA_CEPH_INDEX='1'");
    expect(second).toContain("STRATA_CEPH_MONS='storage-0=10.40.16.10 storage-1=10.40.32.10 storage-2=10.40.48.10'");
  });

  test("RGW has one name in a private hosted zone, with every storage node's fixed address behind it", () => {
    storage.hasResourceProperties('AWS::Route53::HostedZone', {
      Name: 'storage.strata.internal.',
      VPCs: Match.anyValue(),
    });
    storage.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'rgw.storage.strata.internal.',
      Type: 'A',
      ResourceRecords: ['10.40.16.10', '10.40.32.10', '10.40.48.10'],
    });
  });

  test('the storage role reads one bundle object and writes only its own three secrets', () => {
    const statements = Object.values(resourcesOf(storage, 'AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    // The function code bucket's reads: test/lib/functions.test.ts.
    const s3 = statements.filter(
      (statement) =>
        JSON.stringify(statement.Action).includes('s3:') &&
        !JSON.stringify(statement.Resource).includes('FunctionCode'),
    );
    expect(s3).toEqual([
      expect.objectContaining({
        Action: 's3:GetObject',
        Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }),
      }),
    ]);
    expect(JSON.stringify(s3[0].Resource)).toMatch(/\.zip"\]\]\}$/);
    const writes = statements.filter((statement) =>
      JSON.stringify(statement.Action).includes('secretsmanager:PutSecretValue'),
    );
    expect(
      writes
        .flatMap((statement) => [statement.Resource].flat())
        .map((resource) => resource.Ref)
        .sort(),
    ).toEqual([
      expect.stringMatching(/^CephClusterKeys/),
      expect.stringMatching(/^CephObjectStoreKeys/),
      expect.stringMatching(/^CephObjectStoreReadKeys/),
    ]);
  });

  test("the compute role reads the read-only RGW user's secret, not the bucket owner's", () => {
    const statements = Object.values(resourcesOf(compute, 'AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    const reads = JSON.stringify(
      statements.filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager:GetSecretValue')),
    );
    expect(reads).toMatch(/CephObjectStoreReadKeys/);
    expect(reads).not.toMatch(/CephObjectStoreKeys/);
  });

  test.each([
    ['compute', 'CacheComputeSecret'],
    ['storage', 'CacheStorageSecret'],
  ])("a %s node reads its own state store user's secret and no other role's", (role, own) => {
    const stack = role === 'compute' ? compute : storage;
    const reads = JSON.stringify(
      Object.values(resourcesOf(stack, 'AWS::IAM::Policy'))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
        .filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager:GetSecretValue')),
    );
    expect(reads).toContain(own);
    expect(reads.match(/Cache(Dispatcher|Compute|Storage|FunctionsApi)Secret/g)?.every((id) => id === own)).toBe(true);
  });

  test('a node may attach only the storage volumes, only to storage instances, and claim addresses only on their interfaces', () => {
    const statements = Object.values(resourcesOf(storage, 'AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    const ec2 = statements.filter((statement) => JSON.stringify(statement.Action).includes('ec2:'));
    expect(ec2.map((statement) => statement.Sid).sort()).toEqual([
      'AttachOwnVolumes',
      'ClaimFixedAddress',
      'ToStorageInstances',
    ]);
    expect(ec2.find((statement) => statement.Sid === 'AttachOwnVolumes').Resource).toHaveLength(3);
    for (const sid of ['ClaimFixedAddress', 'ToStorageInstances']) {
      expect(ec2.find((statement) => statement.Sid === sid).Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/strata:role': 'storage' },
      });
    }
    for (const data of templates) {
      expect(data.TagSpecifications.map((spec: { ResourceType: string }) => spec.ResourceType)).toEqual([
        'instance',
        'volume',
        'network-interface',
      ]);
      for (const spec of data.TagSpecifications)
        expect(spec.Tags).toContainEqual({ Key: 'strata:role', Value: 'storage' });
    }
  });
});

describe('StrataCompute', () => {
  const launchTemplate = Object.values(resourcesOf(compute, 'AWS::EC2::LaunchTemplate'))[0].Properties
    .LaunchTemplateData;

  test('a launch template with IMDSv2 (hop limit 1), instance tags in IMDS, detailed monitoring and an encrypted gp3 root', () => {
    expect(launchTemplate.MetadataOptions).toEqual({
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
      InstanceMetadataTags: 'enabled',
    });
    expect(launchTemplate.Monitoring).toEqual({ Enabled: true });
    expect(launchTemplate.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 20, VolumeType: 'gp3' } },
    ]);
    expect(launchTemplate.InstanceType).toBe('c7g.large');
  });

  test('the group launches either of two Graviton types that encrypt traffic between instances, across the three AZs of its subnets', () => {
    const [group] = Object.values(resourcesOf(compute, 'AWS::AutoScaling::AutoScalingGroup'));
    expect(group.Properties.MixedInstancesPolicy.LaunchTemplate.Overrides).toEqual([
      { InstanceType: 'c7g.large' },
      { InstanceType: 'c7gd.large' },
    ]);
    expect(group.Properties.VPCZoneIdentifier).toHaveLength(3);
    expect(group.Properties.AvailabilityZones).toEqual(
      [0, 1, 2].map((index) => ({ 'Fn::Select': [index, { 'Fn::GetAZs': '' }] })),
    );
    // The network stack's subnets name their AZs the same way, so the two lists agree.
    const subnetZones = Object.values(resourcesOf(network, 'AWS::EC2::Subnet')).map((subnet) =>
      JSON.stringify(subnet.Properties.AvailabilityZone),
    );
    for (const zone of group.Properties.AvailabilityZones) expect(subnetZones).toContain(JSON.stringify(zone));
  });

  test('user data writes the settings, fetches the node bundle and runs the compute setup', () => {
    const text = userDataText(launchTemplate.UserData);
    expect(text).toContain("STRATA_SLOTS='2'");
    expect(text).toContain("STRATA_NODE_POLICY='most-slots'");
    expect(text).toContain("STRATA_LOCALITY='on'"); // strata.offloadByLocality's default: --locality state
    expect(text).toContain(`STRATA_OFFLOAD_THRESHOLDS='{"cpu":0.8,"memory":0.8,"loadPerCore":0.8}'`);
    expect(text).toContain("STRATA_RGW_ENDPOINT='https://rgw.storage.strata.internal:7443'");
    expect(text).toContain(`STRATA_CACHE_PORT='${PORTS.cache}'`);
    expect(text).toMatch(/aws_fetch_bundle 's3:\/\/.*\/[0-9a-f]{64}\.zip' \/tmp\/strata-node\.zip/);
    expect(text).toContain('exec bash /opt/strata/node-setup/compute-node.sh');
  });

  test('an Auto Scaling group of 2 to 6 nodes that reports every scaling event to the alert topic', () => {
    compute.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '2',
      MaxSize: '6',
      NotificationConfigurations: [
        Match.objectLike({
          NotificationTypes: [
            'autoscaling:EC2_INSTANCE_LAUNCH',
            'autoscaling:EC2_INSTANCE_LAUNCH_ERROR',
            'autoscaling:EC2_INSTANCE_TERMINATE',
            'autoscaling:EC2_INSTANCE_TERMINATE_ERROR',
          ],
        }),
      ],
    });
  });

  test('scales on CPU and on slot use, whichever asks for more nodes', () => {
    compute.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      TargetTrackingConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' },
        TargetValue: 70,
      },
    });
    compute.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      TargetTrackingConfiguration: {
        CustomizedMetricSpecification: {
          Namespace: 'Strata',
          MetricName: 'SlotUse',
          Dimensions: [{ Name: 'Role', Value: 'compute' }],
          Statistic: 'Average',
        },
        TargetValue: 70,
      },
    });
  });

  test('publishes its group metrics, so that "Nodes in service" has data', () => {
    compute.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MetricsCollection: [{ Granularity: '1Minute' }],
    });
  });

  test('forecasts CPU and slot use with predictive scaling, forecast only, launching 5 minutes ahead within the maximum', () => {
    const policies = Object.values(resourcesOf(compute, 'AWS::AutoScaling::ScalingPolicy')).filter(
      (policy) => policy.Properties.PolicyType === 'PredictiveScaling',
    );
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.PredictiveScalingConfiguration).toMatchObject({
        Mode: 'ForecastOnly',
        SchedulingBufferTime: 300,
        MaxCapacityBreachBehavior: 'HonorMaxCapacity',
      });
    }
    const specs = policies.map((policy) => policy.Properties.PredictiveScalingConfiguration.MetricSpecifications[0]);
    expect(specs).toContainEqual({
      TargetValue: 70,
      PredefinedMetricPairSpecification: { PredefinedMetricType: 'ASGCPUUtilization' },
    });
    const slot = (id: string, name: string, stat: string) => ({
      MetricDataQueries: [
        {
          Id: id,
          MetricStat: {
            Metric: { Namespace: 'Strata', MetricName: name, Dimensions: [{ Name: 'Role', Value: 'compute' }] },
            Stat: stat,
          },
          ReturnData: true,
        },
      ],
    });
    expect(specs).toContainEqual({
      TargetValue: 70,
      CustomizedScalingMetricSpecification: slot('slot_use', 'SlotUse', 'Average'),
      CustomizedLoadMetricSpecification: slot('slot_load', 'SlotsUsed', 'Sum'),
    });
  });

  test('a terminating node is held by a lifecycle hook, and may complete only its own group’s hook', () => {
    compute.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: 'strata-drain',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: 360,
      DefaultResult: 'CONTINUE',
    });
    compute.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'autoscaling:CompleteLifecycleAction',
            Effect: 'Allow',
            Resource: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
          },
        ],
      },
    });
  });

  test("Session Manager instead of SSH, and nothing else of Systems Manager's (no Parameter Store)", () => {
    compute.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'SessionManager',
            Effect: 'Allow',
            Action: [
              'ssm:UpdateInstanceInformation',
              'ssmmessages:CreateControlChannel',
              'ssmmessages:CreateDataChannel',
              'ssmmessages:OpenControlChannel',
              'ssmmessages:OpenDataChannel',
            ],
            Resource: '*',
          },
        ]),
      },
    });
    const nodeRoles = Object.entries(resourcesOf(compute, 'AWS::IAM::Role')).filter(([, role]) =>
      JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'),
    );
    expect(nodeRoles.length).toBeGreaterThan(0);
    for (const [name, role] of nodeRoles) expect([name, role.Properties.ManagedPolicyArns]).toEqual([name, undefined]);
    expect(JSON.stringify(compute.toJSON())).not.toMatch(/ssm:GetParameter|AmazonSSMManagedInstanceCore/);
  });
});

describe('StrataDispatch', () => {
  const fn = Object.values(resourcesOf(dispatch, 'AWS::Lambda::Function')).find(
    (resource) => resource.Properties.Handler === 'index.handler',
  )!;

  test('the dispatcher: Node.js 24 on arm64, in the VPC, traced, with the policy layer', () => {
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Timeout: 29,
      MemorySize: 512,
    });
    expect(fn.Properties.VpcConfig.SubnetIds).toHaveLength(3);
    expect(fn.Properties.Layers).toEqual([{ Ref: expect.stringMatching(/^PolicyLayer/) }]);
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  test('its environment points at the TLS state store and the token secret, and names the strategy', () => {
    const env = fn.Properties.Environment.Variables;
    expect(userDataText(env.STRATA_REDIS_URL)).toMatch(/^rediss:\/\/<.*>:6380$/);
    expect(env.STRATA_REDIS_AUTH_SECRET_ARN).toBeDefined();
    expect(env).toMatchObject({
      STRATA_STRATEGY: 'least-expected-delay',
      STRATA_STRATEGY_OPTIONS: '{}',
    });
  });

  test('every API method takes IAM (SigV4) auth; the invoke route validates its parameters and JSON body', () => {
    const methods = Object.values(resourcesOf(dispatch, 'AWS::ApiGateway::Method'));
    // GET /health, POST /invoke/{function}; the five functions routes (test/lib/functions.test.ts).
    expect(methods.map((method) => method.Properties.HttpMethod).sort()).toEqual([
      'DELETE',
      'GET',
      'GET',
      'GET',
      'POST',
      'PUT',
      'PUT',
    ]);
    for (const method of methods) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
    dispatch.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestParameters: { 'method.request.path.function': true },
      RequestModels: { 'application/json': Match.anyValue() },
      RequestValidatorId: Match.anyValue(),
    });
    dispatch.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    dispatch.hasResourceProperties('AWS::ApiGateway::Model', {
      ContentType: 'application/json',
      Schema: Match.objectLike({ type: 'object' }),
    });
  });

  test("the API is named after its stack, so that its metrics (by ApiName) are this API's alone", () => {
    dispatch.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'StrataDispatch' });
  });

  test('the stage throttles, traces, logs access as JSON and logs errors without bodies', () => {
    dispatch.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 500,
          ThrottlingBurstLimit: 1000,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ],
    });
  });

  test("the dispatcher may read its own state store user's secret and nothing else of Secrets Manager", () => {
    const statements = Object.entries(resourcesOf(dispatch, 'AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('DispatcherFunction'))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
    const secrets = statements.filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager'));
    expect(secrets).toHaveLength(1);
    expect(secrets[0].Action).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    expect(JSON.stringify(secrets[0].Resource)).toContain('CacheDispatcherSecret');
    expect(JSON.stringify(secrets[0].Resource)).not.toMatch(/Cache(Compute|Storage|FunctionsApi)Secret/);
  });
});

describe('StrataObservability', () => {
  const body = JSON.stringify(
    Object.values(resourcesOf(observability, 'AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody,
  );

  test('the dashboard has a row per tier with its figures', () => {
    for (const text of ['Tier 1', 'Tier 2', 'Tier 3']) expect(body).toContain(text);
    for (const metric of [
      'DispatchLatency',
      'Decisions',
      'NoCapacity',
      'CpuBusy',
      'MemoryUsed',
      'LoadPerCore',
      'SlotsUsed',
      'SlotUse',
      'CephHealth',
      'EngineCPUUtilization',
      'DatabaseMemoryUsagePercentage',
      'ReplicationLag',
      'GroupInServiceInstances',
    ]) {
      expect(body).toContain(metric);
    }
    expect(body).toContain('\\"p50\\"');
    expect(body).toContain('\\"p99\\"');
  });

  test('every alarm notifies the alert topic when it fires and when it clears', () => {
    const alarms = Object.values(resourcesOf(observability, 'AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBe(9 + 2 * 2);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
      expect(alarm.Properties.OKActions).toEqual(alarm.Properties.AlarmActions);
    }
  });

  test('the alarms that guard scaling and offload count a silent agent as a breach, and storage pages on minutes, not seconds', () => {
    observability.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SlotUse',
      Statistic: 'Average',
      TreatMissingData: 'breaching',
      Threshold: 90,
      EvaluationPeriods: 10,
    });
    observability.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      TreatMissingData: 'breaching',
      Threshold: 90,
    });
    observability.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CpuBusy',
      Dimensions: [{ Name: 'Role', Value: 'storage' }],
      Statistic: 'Average',
      Period: 60,
      TreatMissingData: 'breaching',
      Threshold: 80,
    });
  });

  test('replication lag is drawn for every ElastiCache member, so a failover does not blank it', () => {
    const members = stacks.state.cache.memberIds();
    expect(members.length).toBeGreaterThan(1);
    const lagLines = body.split('ReplicationLag').length - 1;
    expect(lagLines).toBe(members.length);
  });

  test("the forecast of each predictive policy is drawn beside the group's nodes in service", () => {
    expect(body).toContain('PredictiveScalingCapacityForecast');
    expect(body.split('PredictiveScalingCapacityForecast').length - 1).toBe(2);
    expect(body).toContain('GroupInServiceInstances');
  });

  test('Ceph counts as unhealthy when its health metric stops', () => {
    observability.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CephHealth',
      TreatMissingData: 'breaching',
      Threshold: 0,
    });
  });
});
