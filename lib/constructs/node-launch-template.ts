import {
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  type IMachineImage,
  InstanceType,
  type ISecurityGroup,
  LaunchTemplate,
  UserData,
} from 'aws-cdk-lib/aws-ec2';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { nonEmptyProp, wholeProp } from './validate';

export interface NodeLaunchTemplateProps {
  /** The types the group may launch, the first preferred: the template names the first. */
  readonly instanceTypes: readonly string[];
  readonly machineImage: IMachineImage;
  readonly role: IRole;
  readonly securityGroup: ISecurityGroup;
  /** The root volume's size, GiB (encrypted gp3 at /dev/xvda). */
  readonly rootVolumeGiB: number;
  /** Instance tags readable through the metadata service. @default false */
  readonly instanceMetadataTags?: boolean;
  /** @default false */
  readonly ebsOptimized?: boolean;
}

/**
 * The launch template both kinds of Strata node (compute and storage) start from: IMDSv2
 * only, one hop (no container reaches the metadata), no public address, detailed
 * monitoring, an encrypted gp3 root volume, and empty Linux user data for the node to
 * fill (nodeUserData). A LaunchTemplate itself, so its id and logical id are the
 * caller's.
 */
export class NodeLaunchTemplate extends LaunchTemplate {
  declare readonly userData: UserData;

  constructor(scope: Construct, id: string, props: NodeLaunchTemplateProps) {
    nonEmptyProp(scope, `${id}.instanceTypes`, props.instanceTypes);
    wholeProp(scope, `${id}.rootVolumeGiB`, props.rootVolumeGiB, 8, 16384);
    super(scope, id, {
      instanceType: new InstanceType(props.instanceTypes[0]),
      machineImage: props.machineImage,
      role: props.role,
      securityGroup: props.securityGroup,
      userData: UserData.forLinux(),
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      instanceMetadataTags: props.instanceMetadataTags,
      associatePublicIpAddress: false,
      detailedMonitoring: true,
      ebsOptimized: props.ebsOptimized,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: BlockDeviceVolume.ebs(props.rootVolumeGiB, { volumeType: EbsDeviceVolumeType.GP3, encrypted: true }),
        },
      ],
    });
  }
}
