import { Names } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup, CfnUser, CfnUserGroup } from 'aws-cdk-lib/aws-elasticache';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { accessString, STATE_ROLES, type StateRole, stateUser } from '../../common/state/access';
import { strataLogGroup } from './log-key';
import { acknowledgeNag } from './nag';
import { PropError, portProp, wholeProp } from './validate';

export interface CacheClusterProps {
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  readonly securityGroup: ISecurityGroup;
  readonly port: number;
  /** @default 'cache.t4g.small' */
  readonly nodeType?: string;
  /** Replicas beside the primary, each in another AZ. @default 1 */
  readonly replicas?: number;
}

/**
 * Where the dispatchers and nodes find the state store, and each role's secret: JSON
 * `{"username": "...", "password": "..."}`, the user it authenticates as (common/state/access.ts).
 */
export interface StateStoreEndpoint {
  readonly host: string;
  readonly port: number;
  readonly secrets: Readonly<Record<StateRole, ISecret>>;
}

/**
 * The shared state of the dispatchers and nodes: a Valkey replication group with
 * Multi-AZ automatic failover, TLS required, encryption at rest, and a user per role
 * (RBAC: the dispatcher, compute nodes, storage nodes, the functions API), each allowed
 * only the commands and keys its code runs, its password in a secret of its own that
 * only that role may read. The user group is Valkey's: it has no default user, so a
 * client that names no user gets nothing. Cluster mode is off: Strata's Lua scripts
 * touch several keys, and one shard holds a fleet's state many times over.
 */
export class CacheCluster extends Construct implements StateStoreEndpoint {
  readonly replicationGroup: CfnReplicationGroup;
  readonly userGroup: CfnUserGroup;
  readonly secrets: Readonly<Record<StateRole, Secret>>;
  readonly host: string;
  readonly port: number;

  constructor(scope: Construct, id: string, props: CacheClusterProps) {
    super(scope, id);
    portProp(this, 'port', props.port);
    wholeProp(this, 'replicas', props.replicas, 1, 5); // Multi-AZ failover needs a replica
    if (props.nodeType !== undefined && !/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(props.nodeType))
      throw new PropError(this, 'nodeType', 'an ElastiCache node type such as cache.t4g.small', props.nodeType);
    const secrets = {} as Record<StateRole, Secret>;
    const users = STATE_ROLES.map((role) => {
      const id = pascal(role);
      const secret = new Secret(this, `${id}Secret`, {
        description: `Strata state store (ElastiCache): the ${role} user's name and password`,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ username: stateUser(role) }),
          generateStringKey: 'password',
          passwordLength: 64,
          excludePunctuation: true, // ElastiCache refuses , " / @ in a password
        },
      });
      acknowledgeNag(
        secret,
        'SMG4',
        "Rotating an ElastiCache user's password takes Secrets Manager's ElastiCache rotation function and clients that read the secret again; docs/aws.md gives the commands that rotate it by hand",
      );
      secrets[role] = secret;
      return new CfnUser(this, `${id}User`, {
        // Unique in the account and Region, as ElastiCache wants: the construct's path.
        userId: Names.uniqueResourceName(secret, { maxLength: 40, separator: '-' }).toLowerCase(),
        userName: stateUser(role),
        engine: 'valkey',
        accessString: accessString(role),
        authenticationMode: {
          Type: 'password',
          Passwords: [secret.secretValueFromJson('password').unsafeUnwrap()], // a CloudFormation dynamic reference, not the value
        },
      });
    });
    this.secrets = secrets;
    this.userGroup = new CfnUserGroup(this, 'Users', {
      userGroupId: Names.uniqueResourceName(this, { maxLength: 40, separator: '-' }).toLowerCase(),
      engine: 'valkey',
      userIds: users.map((user) => user.ref), // a user's Ref is its id: the group waits for its users
    });
    const subnetGroup = new CfnSubnetGroup(this, 'Subnets', {
      description: 'Strata state store',
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });
    const slowLog = strataLogGroup(this, 'SlowLog');
    this.replicationGroup = new CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: 'Strata state store: node registry, in-flight counts, policy cursors',
      engine: 'valkey',
      engineVersion: '8.0', // Valkey users and user groups (RBAC) need 7.2 or later
      cacheNodeType: props.nodeType ?? 'cache.t4g.small',
      numCacheClusters: 1 + (props.replicas ?? 1),
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      port: props.port,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      userGroupIds: [this.userGroup.ref],
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [props.securityGroup.securityGroupId],
      snapshotRetentionLimit: 1,
      autoMinorVersionUpgrade: true,
      logDeliveryConfigurations: [
        {
          destinationType: 'cloudwatch-logs',
          destinationDetails: { cloudWatchLogsDetails: { logGroup: slowLog.logGroupName } },
          logFormat: 'json',
          logType: 'slow-log',
        },
      ],
    });
    acknowledgeNag(
      this.replicationGroup,
      'AEC6',
      'Role-based access control instead of one AUTH token: a user per role, each with its own password and only the commands and keys it runs (common/state/access.ts)',
    );
    this.host = this.replicationGroup.attrPrimaryEndPointAddress;
    this.port = props.port;
  }

  /** The ElastiCache member ids, as CloudWatch's CacheClusterId dimension names them. */
  memberIds(): string[] {
    const count = this.replicationGroup.numCacheClusters ?? 2;
    return Array.from({ length: count }, (_, i) => `${this.replicationGroup.ref}-${String(i + 1).padStart(3, '0')}`);
  }
}

/** `functions-api` -> `FunctionsApi`: a role in a construct id. */
function pascal(role: string): string {
  return role.replace(/(^|-)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
}
