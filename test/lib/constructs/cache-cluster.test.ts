import { Match, Template } from 'aws-cdk-lib/assertions';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { CacheCluster, type CacheClusterProps } from '../../../lib/constructs';
import { bareStack, ec2Dependencies } from './fixtures';

function build(props: Partial<CacheClusterProps> = {}) {
  const stack = bareStack();
  const { vpc, securityGroup } = ec2Dependencies(stack);
  new CacheCluster(stack, 'Cache', {
    vpc,
    subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    securityGroup,
    port: 6380,
    ...props,
  });
  return stack;
}

describe('CacheCluster', () => {
  // GIVEN a VPC, WHEN the state store is built with two replicas (synthesized once)
  const template = Template.fromStack(build({ replicas: 2, nodeType: 'cache.t4g.medium' }));

  test('THEN it is a Multi-AZ replication group with TLS, encryption at rest and an AUTH token', () => {
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      CacheNodeType: 'cache.t4g.medium',
      NumCacheClusters: 3,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      Port: 6380,
      AuthToken: Match.anyValue(),
    });
  });

  test.each([
    [{ replicas: 0 }, 'Cache: replicas must be a whole number from 1 to 5, got 0'],
    [{ port: 70000 }, 'Cache: port must be a whole number from 1 to 65535, got 70000'],
    [
      { nodeType: 't4g.small' },
      'Cache: nodeType must be an ElastiCache node type such as cache.t4g.small, got "t4g.small"',
    ],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
