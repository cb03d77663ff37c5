import { Match, Template } from 'aws-cdk-lib/assertions';
import { Network, type NetworkProps, PORTS } from '../../../lib/constructs';
import { bareStack } from './fixtures';

function build(props: NetworkProps = {}) {
  const stack = bareStack();
  return { stack, network: new Network(stack, 'Network', props) };
}

describe('Network', () => {
  // GIVEN a bare stack in a region, WHEN the network is built (synthesized once)
  const { stack } = build({ maxAzs: 3, natGateways: 1 });
  const template = Template.fromStack(stack);

  test('THEN the VPC has one NAT gateway and the cache takes its port from the compute nodes only', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: PORTS.cache,
      ToPort: PORTS.cache,
      SourceSecurityGroupId: Match.anyValue(),
    });
  });

  test.each([
    [{ maxAzs: 1 }, 'Network: maxAzs must be a whole number from 2 to 3, got 1'],
    [{ maxAzs: 2, natGateways: 3 }, 'Network: natGateways must be a whole number from 1 to 2, got 3'],
    [{ natGateways: 0 }, 'Network: natGateways must be a whole number from 1 to 3, got 0'],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
