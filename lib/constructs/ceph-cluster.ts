import { Duration, Stack } from 'aws-cdk-lib';
import {
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  Instance,
  InstanceType,
  MachineImage,
  UserData,
  type ISecurityGroup,
  type IVpc,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { ARecord, PrivateHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { StateStoreEndpoint } from './cache-cluster';
import type { OffloadThresholds } from '@strata/policy-engine';
import { nodeRole, nodeUserData } from './ec2-node';
import { acknowledgeNag } from './nag';
import { instanceArchitecture } from '../instance-types';

export interface CephClusterProps {
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  readonly securityGroup: ISecurityGroup;
  readonly bundle: Asset;
  readonly logGroup: ILogGroup;
  readonly state: StateStoreEndpoint;
  readonly agentPort: number;
  readonly rgwPort: number;
  /** Over these the storage agent runs no data stage. */
  readonly thresholds: OffloadThresholds;
  /** @default 3 */
  readonly nodes?: number;
  /** @default 'm7g.large' */
  readonly instanceType?: string;
  /** @default 1 */
  readonly osdsPerNode?: number;
  /** @default 100 */
  readonly osdVolumeGiB?: number;
  /** @default 128 */
  readonly pgNum?: number;
  /** @default true */
  readonly pgAutoscale?: boolean;
  /** @default 2 */
  readonly slotsPerNode?: number;
  /** @default 'strata-data' */
  readonly bucket?: string;
}

/** Each OSD's memory target: leaves room for MON, MGR, RGW and the agent on an 8 GiB node. */
const OSD_MEMORY_TARGET = 2 * 1024 ** 3;

/**
 * Ceph on EC2 from Debian's packages: one node per AZ in turn, each with MON, MGR, its
 * EBS volumes as OSDs, RGW (S3 over TLS) and the storage agent. Node 0 creates the
 * cluster and the data pool (pgNum PGs, autoscaler on, pgNum as its floor) and
 * publishes the cluster keys and the S3 keys in Secrets Manager; the others join.
 * Compute nodes find RGW at rgw.<zone> in a private hosted zone.
 */
export class CephCluster extends Construct {
  readonly instances: Instance[] = [];
  readonly role: Role;
  /** The keyrings and RGW's TLS key: storage nodes only. */
  readonly clusterSecret: Secret;
  /** S3 access key, secret key and RGW's CA certificate, for the compute nodes. */
  readonly objectsSecret: Secret;
  /** https://rgw.<zone>:<port> */
  readonly rgwEndpoint: string;
  readonly bucket: string;

  constructor(scope: Construct, id: string, props: CephClusterProps) {
    super(scope, id);
    const count = props.nodes ?? 3;
    const osdsPerNode = props.osdsPerNode ?? 1;
    this.bucket = props.bucket ?? 'strata-data';
    const instanceType = new InstanceType(props.instanceType ?? 'm7g.large');
    const arch = instanceArchitecture(instanceType.toString()) === 'arm64' ? 'arm64' : 'amd64';
    const zone = new PrivateHostedZone(this, 'Zone', { vpc: props.vpc, zoneName: 'storage.strata.internal' });
    const rgwName = `rgw.${zone.zoneName}`;
    this.rgwEndpoint = `https://${rgwName}:${props.rgwPort}`;

    this.clusterSecret = new Secret(this, 'ClusterKeys', { description: 'Strata Ceph: keyrings and RGW TLS key, published by storage node 0' });
    this.objectsSecret = new Secret(this, 'ObjectStoreKeys', { description: 'Strata Ceph RGW: S3 keys and CA certificate, published by storage node 0' });
    this.role = nodeRole(this, 'Strata storage node: Session Manager, its log group, the node bundle, the Ceph secrets', props);
    for (const secret of [this.clusterSecret, this.objectsSecret]) {
      secret.grantRead(this.role);
      secret.grantWrite(this.role);
      acknowledgeNag(secret, 'SMG4', 'Ceph keys and RGW S3 keys are created inside the cluster by storage node 0, which publishes them here; a Secrets Manager rotation could not change them in Ceph');
    }

    const subnets = props.vpc.selectSubnets(props.subnets).subnets;
    const { region } = Stack.of(this);
    for (let index = 0; index < count; index++) {
      const userData = UserData.forLinux();
      nodeUserData(userData, {
        bundle: props.bundle,
        prelude: ['export DEBIAN_FRONTEND=noninteractive', 'apt-get update', 'apt-get install -y --no-install-recommends awscli unzip'],
        setupScript: 'node-setup/storage-node.sh',
        settings: {
          STRATA_REGION: region,
          STRATA_LOG_GROUP: props.logGroup.logGroupName,
          STRATA_PORT: String(props.agentPort),
          STRATA_SLOTS: String(props.slotsPerNode ?? 2),
          STRATA_CACHE_HOST: props.state.host,
          STRATA_CACHE_PORT: String(props.state.port),
          STRATA_CACHE_SECRET_ARN: props.state.authSecret.secretArn,
          STRATA_OBJECTS_SECRET_ARN: this.objectsSecret.secretArn,
          STRATA_CEPH_SECRET_ARN: this.clusterSecret.secretArn,
          STRATA_OFFLOAD_THRESHOLDS: JSON.stringify(props.thresholds),
          STRATA_VPC_CIDR: props.vpc.vpcCidrBlock,
          STRATA_CEPH_INDEX: String(index),
          // The joiners learn the cluster from node 0's monitor; node 0 takes its own address.
          STRATA_CEPH_FIRST_IP: index === 0 ? '' : this.instances[0].instancePrivateIp,
          STRATA_CEPH_NODES: String(count),
          STRATA_OSDS_PER_NODE: String(osdsPerNode),
          STRATA_OSD_MEMORY_TARGET: String(OSD_MEMORY_TARGET),
          STRATA_PG_NUM: String(props.pgNum ?? 128),
          STRATA_PG_AUTOSCALE: props.pgAutoscale === false ? 'off' : 'on',
          STRATA_BUCKET: this.bucket,
          STRATA_RGW_PORT: String(props.rgwPort),
          STRATA_RGW_NAME: rgwName,
        },
      });
      const instance = new Instance(this, `Node${index}`, {
        vpc: props.vpc,
        vpcSubnets: { subnets: [subnets[index % subnets.length]] },
        instanceType,
        machineImage: MachineImage.fromSsmParameter(`/aws/service/debian/release/12/latest/${arch}`),
        role: this.role,
        securityGroup: props.securityGroup,
        userData,
        userDataCausesReplacement: false, // a new user data must not wipe a running OSD
        requireImdsv2: true,
        associatePublicIpAddress: false,
        detailedMonitoring: true,
        ebsOptimized: true,
        blockDevices: [
          { deviceName: '/dev/xvda', volume: BlockDeviceVolume.ebs(30, { volumeType: EbsDeviceVolumeType.GP3, encrypted: true }) },
          ...Array.from({ length: osdsPerNode }, (_, osd) => ({
            deviceName: `/dev/sd${String.fromCharCode('f'.charCodeAt(0) + osd)}`,
            volume: BlockDeviceVolume.ebs(props.osdVolumeGiB ?? 100, { volumeType: EbsDeviceVolumeType.GP3, encrypted: true, deleteOnTermination: true }),
          })),
        ],
      });
      acknowledgeNag(instance, 'EC29', 'Termination protection would make `cdk destroy` fail; the data pool keeps 3 replicas across AZs, so losing one node loses no data');
      this.instances.push(instance);
    }
    new ARecord(this, 'Rgw', {
      zone,
      recordName: rgwName,
      target: RecordTarget.fromIpAddresses(...this.instances.map((instance) => instance.instancePrivateIp)),
      ttl: Duration.minutes(1),
    });
  }
}
