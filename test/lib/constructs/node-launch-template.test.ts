import { Match, Template } from 'aws-cdk-lib/assertions';
import { MachineImage } from 'aws-cdk-lib/aws-ec2';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { NodeLaunchTemplate, type NodeLaunchTemplateProps } from '../../../lib/constructs';
import { bareStack, ec2Dependencies } from './fixtures';

function build(props: Partial<NodeLaunchTemplateProps> = {}) {
  const stack = bareStack();
  const { securityGroup } = ec2Dependencies(stack);
  const template = new NodeLaunchTemplate(stack, 'Template', {
    instanceTypes: ['m7g.large', 'm7gd.large'],
    machineImage: MachineImage.latestAmazonLinux2023(),
    role: new Role(stack, 'Role', { assumedBy: new ServicePrincipal('ec2.amazonaws.com') }),
    securityGroup,
    rootVolumeGiB: 30,
    ...props,
  });
  return { stack, template };
}

describe('NodeLaunchTemplate', () => {
  // GIVEN a bare stack, WHEN a node template is built (synthesized once)
  const { stack, template: launchTemplate } = build({ ebsOptimized: true });
  launchTemplate.userData.addCommands('echo node');
  const template = Template.fromStack(stack);

  test('THEN it requires IMDSv2 with one hop, has no public address, and an encrypted gp3 root of the size asked', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'm7g.large',
        EbsOptimized: true,
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
        Monitoring: { Enabled: true },
        NetworkInterfaces: [Match.objectLike({ AssociatePublicIpAddress: false })],
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 30, VolumeType: 'gp3' } }],
        UserData: Match.anyValue(),
      }),
    });
  });

  test.each([
    [{ instanceTypes: [] }, 'Test: Template.instanceTypes must be a list of at least one, got []'],
    [{ rootVolumeGiB: 4 }, 'Test: Template.rootVolumeGiB must be a whole number from 8 to 16384, got 4'],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
