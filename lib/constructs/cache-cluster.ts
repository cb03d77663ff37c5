import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup } from 'aws-cdk-lib/aws-elasticache';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
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

/** Where the dispatchers and nodes find the state store, and the secret holding its AUTH token. */
export interface StateStoreEndpoint {
  readonly host: string;
  readonly port: number;
  readonly authSecret: ISecret;
}

/**
 * The shared state of the dispatchers and nodes: a Valkey replication group with
 * Multi-AZ automatic failover, TLS required, encryption at rest, and an AUTH token
 * that lives in Secrets Manager. Cluster mode is off: Strata's Lua scripts touch
 * several keys, and one shard holds a fleet's state many times over.
 */
export class CacheCluster extends Construct implements StateStoreEndpoint {
  readonly replicationGroup: CfnReplicationGroup;
  /** JSON `{"token": "..."}`: the AUTH token clients put in their rediss:// URL. */
  readonly authSecret: Secret;
  readonly host: string;
  readonly port: number;

  constructor(scope: Construct, id: string, props: CacheClusterProps) {
    super(scope, id);
    portProp(this, 'port', props.port);
    wholeProp(this, 'replicas', props.replicas, 1, 5); // Multi-AZ failover needs a replica
    if (props.nodeType !== undefined && !/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(props.nodeType))
      throw new PropError(this, 'nodeType', 'an ElastiCache node type such as cache.t4g.small', props.nodeType);
    this.authSecret = new Secret(this, 'AuthToken', {
      description: 'Strata state store (ElastiCache) AUTH token',
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'token',
        passwordLength: 64,
        excludePunctuation: true, // ElastiCache takes only some punctuation in a token
      },
    });
    acknowledgeNag(
      this.authSecret,
      'SMG4',
      'ElastiCache takes a new AUTH token only through ModifyReplicationGroup with a ROTATE strategy, which Secrets Manager rotation cannot drive without a custom function; the README gives the two commands that rotate it by hand',
    );
    const subnetGroup = new CfnSubnetGroup(this, 'Subnets', {
      description: 'Strata state store',
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });
    const slowLog = strataLogGroup(this, 'SlowLog');
    this.replicationGroup = new CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: 'Strata state store: node registry, in-flight counts, policy cursors',
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: props.nodeType ?? 'cache.t4g.small',
      numCacheClusters: 1 + (props.replicas ?? 1),
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      port: props.port,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      authToken: this.authSecret.secretValueFromJson('token').unsafeUnwrap(), // a CloudFormation dynamic reference, not the value
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
    this.host = this.replicationGroup.attrPrimaryEndPointAddress;
    this.port = props.port;
  }

  /** The ElastiCache member ids, as CloudWatch's CacheClusterId dimension names them. */
  memberIds(): string[] {
    const count = this.replicationGroup.numCacheClusters ?? 2;
    return Array.from({ length: count }, (_, i) => `${this.replicationGroup.ref}-${String(i + 1).padStart(3, '0')}`);
  }
}
