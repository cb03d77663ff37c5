import { Match, Template } from 'aws-cdk-lib/assertions';
import { CephCluster, type CephClusterProps } from '../../../lib/constructs';
import { userDataText } from '../../support/cdk';
import { bareStack, ec2Dependencies } from './fixtures';

function build(props: Partial<CephClusterProps> = {}) {
  const stack = bareStack();
  const cluster = new CephCluster(stack, 'Storage', {
    ...ec2Dependencies(stack),
    agentPort: 8081,
    computePort: 8080,
    rgwPort: 7443,
    thresholds: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 },
    ...props,
  });
  return { stack, cluster };
}

describe('CephCluster', () => {
  // GIVEN its dependencies on a bare stack over three AZs, WHEN four nodes of two OSDs are built (synthesized once)
  const { stack, cluster } = build({ nodes: 4, osdsPerNode: 2, osdVolumeGiB: 50 });
  const template = Template.fromStack(stack);

  test('THEN each node is a group of one with encrypted gp3 OSD volumes of the size asked', () => {
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 4);
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '1' });
    template.resourceCountIs('AWS::EC2::Volume', 8);
    template.hasResourceProperties('AWS::EC2::Volume', { Size: 50, VolumeType: 'gp3', Encrypted: true });
    expect(cluster.addresses).toHaveLength(4);
  });

  test('THEN its nodes start from the shared node launch template, EBS-optimized, and write the data bucket', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        EbsOptimized: true,
        MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 30, Encrypted: true }) })],
      }),
    });
    const launch = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0];
    expect(userDataText(launch.Properties.LaunchTemplateData.UserData)).toContain("STRATA_BUCKET='strata-data'");
    expect(cluster.bucket).toBe('strata-data');
  });

  test.each([
    [{ nodes: 2 }, 'Storage: nodes must be a whole number from 3 to 12, got 2'],
    [{ nodes: 13 }, 'Storage: nodes must be a whole number from 3 to 12, got 13'],
    [{ osdsPerNode: 0 }, 'Storage: osdsPerNode must be a whole number from 1 to 8, got 0'],
    [{ osdVolumeGiB: 5 }, 'Storage: osdVolumeGiB must be a whole number from 10 to 16384, got 5'],
    [{ slotsPerNode: 300 }, 'Storage: slotsPerNode must be a whole number from 1 to 256, got 300'],
    [{ pgNum: 100 }, 'Storage: pgNum must be a power of two from 8 to 4096, got 100'],
    [{ agentPort: -1 }, 'Storage: agentPort must be a whole number from 1 to 65535, got -1'],
    [{ rgwPort: 1.5 }, 'Storage: rgwPort must be a whole number from 1 to 65535, got 1.5'],
    [{ instanceTypes: [] }, 'Storage: instanceTypes must be a list of at least one, got []'],
    [{ bucket: 'Strata_Data' }, 'Storage: bucket must be an S3 bucket name'],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
