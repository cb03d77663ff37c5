import { Match, Template } from 'aws-cdk-lib/assertions';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { accessString, STATE_ROLES } from '../../../common/state/access';
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

  test('THEN it is a Multi-AZ replication group with TLS, encryption at rest and a user group (RBAC), no shared AUTH token', () => {
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      CacheNodeType: 'cache.t4g.medium',
      NumCacheClusters: 3,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      Port: 6380,
      UserGroupIds: [Match.anyValue()],
      AuthToken: Match.absent(),
    });
  });

  test("THEN each role is a Valkey user with its access string, its password its own secret's (a dynamic reference), all in one Valkey user group", () => {
    const users = template.findResources('AWS::ElastiCache::User');
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    expect(Object.keys(users)).toHaveLength(STATE_ROLES.length);
    for (const role of STATE_ROLES) {
      const [id, user] = Object.entries(users).find(([, u]) => u.Properties.UserName === `strata-${role}`)!;
      expect(user.Properties).toMatchObject({ Engine: 'valkey', AccessString: accessString(role) });
      expect(user.Properties.UserId).toMatch(/^[a-z][a-z0-9-]{0,39}$/);
      const [secretId] = Object.entries(secrets).find(
        ([, s]) =>
          s.Properties.GenerateSecretString.SecretStringTemplate === JSON.stringify({ username: `strata-${role}` }),
      )!;
      expect(secrets[secretId].Properties.GenerateSecretString).toMatchObject({
        GenerateStringKey: 'password',
        PasswordLength: 64,
        ExcludePunctuation: true,
      });
      const password = JSON.stringify(user.Properties.AuthenticationMode);
      expect(password).toMatch(/"Type":"password"/);
      expect(password).toMatch(new RegExp(`resolve:secretsmanager:.*${secretId}.*:SecretString:password::`));
      expect(id).toBeDefined();
    }
    const [group] = Object.values(template.findResources('AWS::ElastiCache::UserGroup'));
    expect(group.Properties.Engine).toBe('valkey'); // no default user: a client that names no user gets nothing
    expect(group.Properties.UserIds).toHaveLength(STATE_ROLES.length);
  });

  test('THEN no user may run everything or name every key', () => {
    for (const user of Object.values(template.findResources('AWS::ElastiCache::User'))) {
      expect(user.Properties.AccessString).toMatch(/^on .*-@all/);
      expect(user.Properties.AccessString).not.toMatch(/~\*|\+@|allkeys|allcommands|flushall|config|keys/);
    }
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
