import { Names } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup, CfnUser, CfnUserGroup } from 'aws-cdk-lib/aws-elasticache';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { accessString, STATE_ROLES, type StateRole, stateUser } from '../../common/state/access';
import { MAX_CELLS } from '../../common/state/cells';
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
  /**
   * Cells the fleet is split into, each under its own hash tag (common/state/cells.ts,
   * docs/policies.md): every client is told through the URL's query. @default 1
   */
  readonly cells?: number;
  /**
   * Primaries (shards, each with `replicas` replicas): above 1, the replication group runs
   * in cluster mode and the cells are spread over the shards; `cells` must be a multiple.
   * @default 1, cluster mode off
   */
  readonly shards?: number;
}

/**
 * Where the dispatchers and nodes find the state store, and each role's secret: JSON
 * `{"username": "...", "password": "..."}`, the user it authenticates as (common/state/access.ts).
 */
export interface StateStoreEndpoint {
  readonly host: string;
  readonly port: number;
  readonly secrets: Readonly<Record<StateRole, ISecret>>;
  /** The query every client's URL carries: `cells=N` and `cluster=yes` (stateUrlOptions); '' for one cell on one primary. @default '' */
  readonly urlQuery?: string;
}

/** The URL a client connects with, less its user and password (a client adds them from its secret). */
export function stateUrl(endpoint: StateStoreEndpoint): string {
  return `rediss://${endpoint.host}:${endpoint.port}${endpoint.urlQuery ? `?${endpoint.urlQuery}` : ''}`;
}

/**
 * The shared state of the dispatchers and nodes: a Valkey replication group with
 * Multi-AZ automatic failover, TLS required, encryption at rest, and a user per role
 * (RBAC: the dispatcher, compute nodes, storage nodes, the functions API), each allowed
 * only the commands and keys its code runs, its password in a secret of its own that
 * only that role may read. The user group is Valkey's: it has no default user, so a
 * client that names no user gets nothing. Cluster mode is off by default: one primary
 * holds a fleet's state up to about 10,000 nodes (docs/policies.md, cost model). With
 * `shards` above 1 it is on, and the fleet's cells (one hash tag each, so every script
 * stays in one slot) are spread over the shards.
 */
export class CacheCluster extends Construct implements StateStoreEndpoint {
  readonly replicationGroup: CfnReplicationGroup;
  readonly userGroup: CfnUserGroup;
  readonly secrets: Readonly<Record<StateRole, Secret>>;
  readonly host: string;
  readonly port: number;
  readonly urlQuery: string;
  readonly shards: number;

  constructor(scope: Construct, id: string, props: CacheClusterProps) {
    super(scope, id);
    portProp(this, 'port', props.port);
    wholeProp(this, 'replicas', props.replicas, 1, 5); // Multi-AZ failover needs a replica
    if (props.nodeType !== undefined && !/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(props.nodeType))
      throw new PropError(this, 'nodeType', 'an ElastiCache node type such as cache.t4g.small', props.nodeType);
    wholeProp(this, 'cells', props.cells, 1, MAX_CELLS);
    wholeProp(this, 'shards', props.shards, 1, MAX_CELLS);
    const cells = props.cells ?? 1;
    this.shards = props.shards ?? 1;
    if (cells % this.shards !== 0)
      throw new PropError(
        this,
        'shards',
        `a divisor of cells (${cells}), so that each shard holds as many cells`,
        this.shards,
      );
    const clusterMode = this.shards > 1;
    this.urlQuery = [...(cells > 1 ? [`cells=${cells}`] : []), ...(clusterMode ? ['cluster=yes'] : [])].join('&');
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
        accessString: accessString(role, 'strata', cells),
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
      ...(clusterMode
        ? {
            clusterMode: 'enabled',
            cacheParameterGroupName: 'default.valkey8.cluster.on',
            numNodeGroups: this.shards,
            replicasPerNodeGroup: props.replicas ?? 1,
          }
        : { numCacheClusters: 1 + (props.replicas ?? 1) }),
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
    // In cluster mode, the configuration endpoint: a client asks it where each slot is (CLUSTER SLOTS).
    this.host = clusterMode
      ? this.replicationGroup.attrConfigurationEndPointAddress
      : this.replicationGroup.attrPrimaryEndPointAddress;
    this.port = props.port;
  }

  /** The ElastiCache member ids, as CloudWatch's CacheClusterId dimension names them. */
  memberIds(): string[] {
    const id = this.replicationGroup.ref;
    const pad = (n: number, width: number) => String(n).padStart(width, '0');
    if (this.shards > 1) {
      // Cluster mode names members <group>-<shard, 4 digits>-<member, 3 digits>.
      const perShard = 1 + (this.replicationGroup.replicasPerNodeGroup ?? 1);
      return Array.from({ length: this.shards * perShard }, (_, i) =>
        [id, pad(Math.floor(i / perShard) + 1, 4), pad((i % perShard) + 1, 3)].join('-'),
      );
    }
    const count = this.replicationGroup.numCacheClusters ?? 2;
    return Array.from({ length: count }, (_, i) => `${id}-${pad(i + 1, 3)}`);
  }
}

/** `functions-api` -> `FunctionsApi`: a role in a construct id. */
function pascal(role: string): string {
  return role.replace(/(^|-)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
}
