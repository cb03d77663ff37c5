import { Match, Template } from 'aws-cdk-lib/assertions';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { CacheCluster, type CacheClusterProps, stateUrl } from '../../../lib/constructs';
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

  test('THEN one cell on one primary: cluster mode off, the primary endpoint, a URL with no query', () => {
    const props = template.findResources('AWS::ElastiCache::ReplicationGroup');
    const group = Object.values(props)[0].Properties;
    expect(group.NumNodeGroups).toBeUndefined();
    expect(group.ClusterMode).toBeUndefined();
  });

  test.each([
    [{ replicas: 0 }, 'Cache: replicas must be a whole number from 1 to 5, got 0'],
    [{ cells: 0 }, 'Cache: cells must be a whole number from 1 to 64, got 0'],
    [
      { cells: 6, shards: 4 },
      'Cache: shards must be a divisor of cells (6), so that each shard holds as many cells, got 4',
    ],
    [{ port: 70000 }, 'Cache: port must be a whole number from 1 to 65535, got 70000'],
    [
      { nodeType: 't4g.small' },
      'Cache: nodeType must be an ElastiCache node type such as cache.t4g.small, got "t4g.small"',
    ],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

describe('CacheCluster with cells on shards', () => {
  // GIVEN six cells on three shards, one replica each (synthesized once)
  const stack = bareStack();
  const { vpc, securityGroup } = ec2Dependencies(stack);
  const cache = new CacheCluster(stack, 'Cache', {
    vpc,
    subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    securityGroup,
    port: 6380,
    cells: 6,
    shards: 3,
  });
  const template = Template.fromStack(stack);

  test('THEN it is ElastiCache in cluster mode: three shards with a replica each, TLS and encryption kept', () => {
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      ClusterMode: 'enabled',
      CacheParameterGroupName: 'default.valkey8.cluster.on',
      NumNodeGroups: 3,
      ReplicasPerNodeGroup: 1,
      NumCacheClusters: Match.absent(),
      MultiAZEnabled: true,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
    });
  });

  test('THEN clients get the configuration endpoint, and the cells and cluster mode in the URL', () => {
    expect(stack.resolve(cache.host)).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^CacheReplicationGroup/), 'ConfigurationEndPoint.Address'],
    });
    expect(cache.urlQuery).toBe('cells=6&cluster=yes');
    expect(stateUrl(cache)).toMatch(/^rediss:\/\/.*:6380\?cells=6&cluster=yes$/);
  });

  test('THEN its members are named per shard, as CloudWatch names them', () => {
    expect(cache.memberIds().map((id) => id.replace(/^.*?-(\d{4}-\d{3})$/, '$1'))).toEqual([
      '0001-001',
      '0001-002',
      '0002-001',
      '0002-002',
      '0003-001',
      '0003-002',
    ]);
  });
});
