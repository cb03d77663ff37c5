import type { OffloadThresholds } from '@strata/policy-engine';
import { Annotations, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import {
  AutoScalingGroup,
  type CfnAutoScalingGroup,
  HealthChecks,
  ScalingEvents,
  Signals,
} from 'aws-cdk-lib/aws-autoscaling';
import {
  type CfnLaunchTemplate,
  EbsDeviceVolumeType,
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  MachineImage,
  type SubnetSelection,
  Volume,
} from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { ARecord, PrivateHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DATA_BUCKET, STRATA_DEFAULTS, type StorageNodeEnvironment } from '../../common/settings';
import { exceptControl } from '../control-tower';
import { instanceArchitecture } from '../instance-types';
import type { StateStoreEndpoint } from './cache-cluster';
import { acknowledgeLaunchChecks, launchAnyOf, nodeRole, nodeUserData } from './ec2-node';
import type { FunctionCodeBucket } from './function-code-bucket';
import { acknowledgeNag } from './nag';
import { nthAddress, STORAGE_ADDRESSES } from './network';
import { NodeLaunchTemplate } from './node-launch-template';
import { nonEmptyProp, PropError, portProp, wholeProp } from './validate';

export interface CephClusterProps {
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  readonly securityGroup: ISecurityGroup;
  readonly bundle: Asset;
  readonly logGroup: ILogGroup;
  readonly alerts: ITopic;
  readonly state: StateStoreEndpoint;
  /** Users' functions: the nodes read their modules and records (never write them), through S3's gateway endpoint. */
  readonly functionCode: FunctionCodeBucket;
  readonly agentPort: number;
  /** The compute nodes' port: with the agents' own and the VPC's range, the only peers an agent trusts. */
  readonly computePort: number;
  readonly rgwPort: number;
  /** Over these the storage agent runs no data stage. */
  readonly thresholds: OffloadThresholds;
  /** 3 (the monitors) to 12. @default cdk.json's storage.nodes (3) */
  readonly nodes?: number;
  /** The first preferred; one architecture and size (lib/config.ts checks). @default ['m7g.large', 'm7gd.large'] */
  readonly instanceTypes?: readonly string[];
  /** @default 1 */
  readonly osdsPerNode?: number;
  /** @default 100 */
  readonly osdVolumeGiB?: number;
  /** @default 128 */
  readonly pgNum?: number;
  /** @default true */
  readonly pgAutoscale?: boolean;
  /** The storage agents publish the data pool's placement map for tier 3 by locality (--publish-placement). @default true */
  readonly offloadByLocality?: boolean;
  /** @default 2 */
  readonly slotsPerNode?: number;
  /** @default DATA_BUCKET, 'strata-data' */
  readonly bucket?: string;
}

/** Each OSD's memory target: leaves room for MON, MGR, RGW and the agent on an 8 GiB node. */
const OSD_MEMORY_TARGET = 2 * 1024 ** 3;
/** Monitors: the first three nodes, one per AZ; every daemon's mon_host names all three. */
const MONITORS = 3;
/** How long a node may take to join and see Ceph HEALTH_OK before its creation counts as failed. */
const HEALTHY_WITHIN = Duration.minutes(45);
/** The tag by which storage nodes, their volumes and their network interfaces are known to IAM. */
export const STORAGE_TAG = { key: 'strata:role', value: 'storage' } as const;

/**
 * Ceph on EC2 from Debian's packages. Each node is an Auto Scaling group of exactly one
 * instance in its own subnet (AZ by AZ in turn), with what outlives the instance kept
 * apart from it: a fixed private address (the tenth of its subnet on, claimed at boot)
 * and its EBS data volumes (attached at boot, raw-mode BlueStore OSDs). So:
 * - a deploy never replaces a running node: a new Debian image changes only the launch
 *   template, which the group uses the next time it launches (no rolling update policy);
 * - a node is replaced when its instance fails or the operator terminates it, one at a
 *   time (docs/aws.md), and the new instance comes back with the same address, monitor
 *   name and OSD data;
 * - the stack completes only when every node has signalled that Ceph is HEALTH_OK.
 * Node 0 creates the cluster (once: a replacement node 0 joins); every node runs an OSD
 * per volume, RGW (S3 over TLS) and the storage agent; the first three run a monitor
 * and a manager. The data pool keeps pgNum PGs as its floor with the autoscaler on, one
 * replica per AZ (three AZs; per host with two). Compute nodes reach RGW at
 * rgw.<zone>, every node's fixed address.
 */
export class CephCluster extends Construct {
  readonly groups: AutoScalingGroup[] = [];
  readonly role: Role;
  /** The keyrings and RGW's TLS key: storage nodes only. */
  readonly clusterSecret: Secret;
  /** The bucket owner's S3 access key and secret key, and RGW's CA certificate: storage nodes and the operator. */
  readonly objectsSecret: Secret;
  /** A read-only RGW user's S3 keys (a bucket policy grants it s3:GetObject and s3:ListBucket) and the CA: the compute nodes, which only read. */
  readonly objectsReadSecret: Secret;
  /** https://rgw.<zone>:<port> */
  readonly rgwEndpoint: string;
  readonly bucket: string;
  /** Every node's fixed private address, by index. */
  readonly addresses: string[] = [];

  constructor(scope: Construct, id: string, props: CephClusterProps) {
    super(scope, id);
    const defaults = STRATA_DEFAULTS.storage;
    wholeProp(this, 'nodes', props.nodes, MONITORS, 12); // three monitors, each on a node of its own
    wholeProp(this, 'osdsPerNode', props.osdsPerNode, 1, 8);
    wholeProp(this, 'osdVolumeGiB', props.osdVolumeGiB, 10, 16384);
    wholeProp(this, 'slotsPerNode', props.slotsPerNode, 1, 256);
    portProp(this, 'agentPort', props.agentPort);
    portProp(this, 'rgwPort', props.rgwPort);
    nonEmptyProp(this, 'instanceTypes', props.instanceTypes);
    if (
      props.pgNum !== undefined &&
      !(props.pgNum >= 8 && props.pgNum <= 4096 && Number.isInteger(Math.log2(props.pgNum)))
    )
      throw new PropError(this, 'pgNum', 'a power of two from 8 to 4096', props.pgNum);
    if (props.bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(props.bucket))
      throw new PropError(
        this,
        'bucket',
        'an S3 bucket name (3 to 63 lower-case letters, digits, dots, hyphens)',
        props.bucket,
      );
    const count = props.nodes ?? defaults.nodes;
    const osdsPerNode = props.osdsPerNode ?? defaults.osdsPerNode;
    this.bucket = props.bucket ?? DATA_BUCKET;
    const instanceTypes = props.instanceTypes ?? defaults.instanceTypes;
    const arch = instanceArchitecture(instanceTypes[0]) === 'arm64' ? 'arm64' : 'amd64';
    const zone = new PrivateHostedZone(this, 'Zone', { vpc: props.vpc, zoneName: 'storage.strata.internal' });
    const rgwName = `rgw.${zone.zoneName}`;
    this.rgwEndpoint = `https://${rgwName}:${props.rgwPort}`;
    const stack = Stack.of(this);

    this.clusterSecret = new Secret(this, 'ClusterKeys', {
      description: 'Strata Ceph: keyrings, monmap and RGW TLS key, published by storage node 0',
    });
    this.objectsSecret = new Secret(this, 'ObjectStoreKeys', {
      description: 'Strata Ceph RGW: S3 keys and CA certificate, published by storage node 0',
    });
    this.objectsReadSecret = new Secret(this, 'ObjectStoreReadKeys', {
      description:
        'Strata Ceph RGW: read-only S3 keys and CA certificate for the compute nodes, published by storage node 0',
    });
    this.role = nodeRole(
      this,
      'Strata storage node: Session Manager, its log group, the node bundle, the Ceph secrets, its volumes and address',
      { ...props, stateSecret: props.state.secrets.storage },
    );
    props.functionCode.grantRead(this.role);
    for (const secret of [this.clusterSecret, this.objectsSecret, this.objectsReadSecret]) {
      secret.grantRead(this.role);
      secret.grantWrite(this.role);
      acknowledgeNag(
        secret,
        'SMG4',
        'Ceph keys and RGW S3 keys are created inside the cluster by storage node 0, which publishes them here; a Secrets Manager rotation could not change them in Ceph',
      );
    }

    const subnets = props.vpc.selectSubnets(props.subnets).subnets;
    if (subnets.length < 3) {
      Annotations.of(this).addWarningV2(
        'strata:storage-two-azs',
        `Storage spans ${subnets.length} AZs: losing the AZ with two of the three monitors stops Ceph (no quorum, and PGs with two of their three copies there fall below min_size 2) until it returns; use network.maxAzs 3`,
      );
    }
    const failureDomain = subnets.length >= 3 ? 'zone' : 'host';
    const placement = Array.from({ length: count }, (_, index) => subnets[index % subnets.length]);
    this.addresses.push(...placement.map((subnet, index) => fixedAddress(subnet, Math.floor(index / subnets.length))));
    const monitors = this.addresses
      .slice(0, MONITORS)
      .map((address, index) => `storage-${index}=${address}`)
      .join(' ');
    const volumeArns: string[] = [];

    for (let index = 0; index < count; index++) {
      const subnet = placement[index];
      const volumes = Array.from(
        { length: osdsPerNode },
        (_, osd) =>
          new Volume(this, `Node${index}Osd${osd}`, {
            availabilityZone: subnet.availabilityZone,
            size: Size.gibibytes(props.osdVolumeGiB ?? defaults.osdVolumeGiB),
            volumeType: EbsDeviceVolumeType.GP3,
            encrypted: true,
            removalPolicy: RemovalPolicy.DESTROY, // kept when the node's instance is replaced; `cdk destroy` deletes it
          }),
      );
      volumeArns.push(
        ...volumes.map((volume) =>
          stack.formatArn({ service: 'ec2', resource: 'volume', resourceName: volume.volumeId }),
        ),
      );
      const template = new NodeLaunchTemplate(this, `Node${index}Template`, {
        instanceTypes,
        machineImage: MachineImage.fromSsmParameter(`/aws/service/debian/release/12/latest/${arch}`),
        role: this.role,
        securityGroup: props.securityGroup,
        rootVolumeGiB: 30,
        ebsOptimized: true,
      });
      // Tags IAM conditions read: the instance (attach a volume to it) and its network interface (claim the address).
      const tags = [{ key: 'Name', value: `${this.node.path}/Node${index}` }, STORAGE_TAG];
      (template.node.defaultChild as CfnLaunchTemplate).addPropertyOverride(
        'LaunchTemplateData.TagSpecifications',
        ['instance', 'volume', 'network-interface'].map((resourceType) => ({
          ResourceType: resourceType,
          Tags: tags.map(({ key, value }) => ({ Key: key, Value: value })),
        })),
      );
      const group = new AutoScalingGroup(this, `Node${index}`, {
        vpc: props.vpc,
        vpcSubnets: { subnets: [subnet] },
        mixedInstancesPolicy: launchAnyOf(template, instanceTypes),
        minCapacity: 1,
        maxCapacity: 1,
        healthChecks: HealthChecks.ec2({ gracePeriod: Duration.minutes(10) }),
        signals: Signals.waitForCount(1, { timeout: HEALTHY_WITHIN }),
        notifications: [{ topic: props.alerts, scalingEvents: ScalingEvents.ALL }],
      });
      exceptControl(
        group,
        'CT.AUTOSCALING.PR.1',
        'A storage node is a group of one kept in one AZ: its OSD volume and its fixed address live there. Ceph spans the AZs instead, a node, a monitor and a copy of each PG in each',
      );
      acknowledgeLaunchChecks(group, instanceTypes, 'storage.instanceTypes');
      nodeUserData(template.userData, {
        bundle: props.bundle,
        prelude: ['apt_install awscli unzip'],
        setupScript: 'node-setup/storage-node.sh',
        settings: {
          STRATA_REGION: stack.region,
          STRATA_STACK: stack.stackName,
          STRATA_SIGNAL_RESOURCE: stack.getLogicalId(group.node.defaultChild as CfnAutoScalingGroup),
          STRATA_LOG_GROUP: props.logGroup.logGroupName,
          STRATA_PORT: String(props.agentPort),
          STRATA_COMPUTE_PORT: String(props.computePort),
          STRATA_SLOTS: String(props.slotsPerNode ?? defaults.slotsPerNode),
          STRATA_CACHE_HOST: props.state.host,
          STRATA_CACHE_PORT: String(props.state.port),
          STRATA_CACHE_QUERY: props.state.urlQuery ?? '',
          STRATA_CACHE_SECRET_ARN: props.state.secrets.storage.secretArn,
          STRATA_OBJECTS_SECRET_ARN: this.objectsSecret.secretArn,
          STRATA_OBJECTS_READ_SECRET_ARN: this.objectsReadSecret.secretArn,
          STRATA_CEPH_SECRET_ARN: this.clusterSecret.secretArn,
          STRATA_OFFLOAD_THRESHOLDS: JSON.stringify(props.thresholds),
          STRATA_VPC_CIDR: props.vpc.vpcCidrBlock,
          STRATA_CEPH_INDEX: String(index),
          STRATA_CEPH_NAME: `storage-${index}`,
          STRATA_CEPH_ADDRESS: this.addresses[index],
          STRATA_CEPH_MONS: monitors,
          STRATA_CEPH_FAILURE_DOMAIN: failureDomain,
          STRATA_CEPH_NODES: String(count),
          STRATA_OSD_VOLUMES: volumes.map((volume) => volume.volumeId).join(' '),
          STRATA_OSD_MEMORY_TARGET: String(OSD_MEMORY_TARGET),
          STRATA_PG_NUM: String(props.pgNum ?? defaults.pgNum),
          STRATA_PG_AUTOSCALE: (props.pgAutoscale ?? defaults.pgAutoscale) ? 'on' : 'off',
          STRATA_LOCALITY: (props.offloadByLocality ?? STRATA_DEFAULTS.offloadByLocality) ? 'on' : 'off',
          STRATA_BUCKET: this.bucket,
          STRATA_RGW_PORT: String(props.rgwPort),
          STRATA_RGW_NAME: rgwName,
          STRATA_FUNCTIONS_BUCKET: props.functionCode.bucket.bucketName,
        } satisfies StorageNodeEnvironment,
      });
      this.groups.push(group);
    }

    this.grantNodeSelfService(volumeArns);
    new ARecord(this, 'Rgw', {
      zone,
      recordName: rgwName,
      target: RecordTarget.fromIpAddresses(...this.addresses),
      ttl: Duration.minutes(5),
    });
  }

  /** What a node does to itself at boot: attach its volumes, claim its address, signal CloudFormation. */
  private grantNodeSelfService(volumeArns: string[]): void {
    const stack = Stack.of(this);
    const tagged = { StringEquals: { [`aws:ResourceTag/${STORAGE_TAG.key}`]: STORAGE_TAG.value } };
    const statements = [
      new PolicyStatement({ sid: 'AttachOwnVolumes', actions: ['ec2:AttachVolume'], resources: volumeArns }),
      new PolicyStatement({
        sid: 'ToStorageInstances',
        actions: ['ec2:AttachVolume'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
        conditions: tagged,
      }),
      new PolicyStatement({
        sid: 'ClaimFixedAddress',
        actions: ['ec2:AssignPrivateIpAddresses'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' })],
        conditions: tagged,
      }),
      new PolicyStatement({
        sid: 'SignalCreation',
        actions: ['cloudformation:SignalResource'],
        resources: [stack.stackId],
      }),
    ];
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);
    acknowledgeNag(
      this.role,
      'IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
      'A replacement instance is not known before it launches: the statement allows only instances tagged strata:role=storage, and only with the volumes named in the statement before it',
    );
    acknowledgeNag(
      this.role,
      'IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]',
      "A replacement instance's network interface is not known before it launches: only interfaces tagged strata:role=storage may take a node's fixed address",
    );
  }
}

/**
 * A node's fixed private address: the tenth address of its subnet, the eleventh for a
 * second node in the same subnet, ... inside the block the network reserves for them.
 */
function fixedAddress(subnet: ISubnet, slot: number): string {
  if (slot >= STORAGE_ADDRESSES.perSubnet)
    throw new Error(
      `storage.nodes puts more than ${STORAGE_ADDRESSES.perSubnet} nodes in the subnet ${subnet.node.path}, more than its reserved block holds`,
    );
  return nthAddress(subnet.ipv4CidrBlock, STORAGE_ADDRESSES.first + slot);
}
