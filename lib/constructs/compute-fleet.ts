import type { OffloadThresholds, PolicyOptions } from '@strata/policy-engine';
import { Duration, Stack } from 'aws-cdk-lib';
import type { CfnScalingPolicy } from 'aws-cdk-lib/aws-autoscaling';
import {
  AutoScalingGroup,
  type CfnAutoScalingGroup,
  DefaultResult,
  GroupMetrics,
  HealthChecks,
  LifecycleTransition,
  ScalingEvents,
  Signals,
} from 'aws-cdk-lib/aws-autoscaling';
import {
  AmazonLinuxCpuType,
  type ISecurityGroup,
  type IVpc,
  MachineImage,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import { Policy, PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { SLOT_USE } from '../../common/metrics/dashboard';
import { type ComputeNodeEnvironment, STRATA_DEFAULTS } from '../../common/settings';
import { instanceArchitecture } from '../instance-types';
import type { StateStoreEndpoint } from './cache-cluster';
import { acknowledgeLaunchChecks, launchAnyOf, nodeRole, nodeUserData } from './ec2-node';
import type { FunctionCodeBucket } from './function-code-bucket';
import { plainMetric } from './metrics';
import { acknowledgeNag } from './nag';
import { NodeLaunchTemplate } from './node-launch-template';
import { PREDICTIVE_MODES, type PredictiveMode, PredictiveScaling } from './predictive-scaling';
import { nonEmptyProp, oneOfProp, portProp, wholeProp } from './validate';

export interface ComputeFleetProps {
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  readonly securityGroup: ISecurityGroup;
  readonly bundle: Asset;
  readonly logGroup: ILogGroup;
  readonly alerts: ITopic;
  readonly port: number;
  /** The storage agents' port: with the nodes' own and the VPC's range, where a node may forward. */
  readonly storagePort: number;
  readonly state: StateStoreEndpoint;
  /** Users' functions: the nodes read their modules and records (never write them), through S3's gateway endpoint. */
  readonly functionCode: FunctionCodeBucket;
  /** Where the nodes read function data: RGW's name and port, its bucket, and the secret with S3 keys and CA. */
  readonly objects: { readonly endpoint: string; readonly bucket: string; readonly secret: ISecret };
  /** The first tier-2 policy, a built-in or a plugin in the node bundle (`strata policy set` changes it later). */
  readonly nodePolicy: string;
  /** @default the policy's defaults */
  readonly nodePolicyOptions?: PolicyOptions;
  /** The first tier-3 policy. */
  readonly offloadPolicy: string;
  /** @default the policy's defaults (for thresholds: offloadThresholds) */
  readonly offloadPolicyOptions?: PolicyOptions;
  readonly offloadThresholds: OffloadThresholds;
  /** Compute nodes offer a data stage first to the host of the object's primary (--locality state). @default true */
  readonly offloadByLocality?: boolean;
  /** The first preferred; one architecture and size (lib/config.ts checks). @default ['c7g.large', 'c7gd.large'] */
  readonly instanceTypes?: readonly string[];
  /** 1 to 1000. @default cdk.json's compute.minNodes (2) */
  readonly minNodes?: number;
  /** minNodes to 1000. @default cdk.json's compute.maxNodes (6), or minNodes if more */
  readonly maxNodes?: number;
  /** 1 to 256. @default cdk.json's compute.slotsPerNode (2) */
  readonly slotsPerNode?: number;
  /** 10 to 95. @default cdk.json's compute.targetCpuPercent (70) */
  readonly targetCpuPercent?: number;
  /** 10 to 95. @default cdk.json's compute.targetSlotUsePercent (70) */
  readonly targetSlotUsePercent?: number;
  /**
   * Predictive scaling on CPU and on slot use, beside the target tracking (PredictiveScaling):
   * 'forecast-only' publishes forecasts without acting; 'forecast-and-scale' also launches
   * nodes ahead of the slot-use forecast; 'off' makes no predictive policy. @default 'forecast-only'
   */
  readonly predictiveScaling?: PredictiveScalingMode;
}

export type PredictiveScalingMode = 'off' | PredictiveMode;

/** The name of the lifecycle hook during which a terminating node drains. */
export const DRAIN_HOOK = 'strata-drain';

/**
 * The compute nodes: an Auto Scaling group of Amazon Linux 2023 instances from a launch
 * template (IMDSv2, encrypted gp3, detailed monitoring, no public IP, Session Manager
 * instead of SSH). User data installs Node.js and the node bundle and runs the runtime
 * under systemd. The group scales on CPU and on slot use (target tracking), forecasts
 * both (predictive scaling, acting on the forecast only if asked); a lifecycle hook holds
 * a terminating node until it has drained. The stack completes only when the first
 * minNodes nodes have registered in the state store and signalled so (a node waits for
 * the object-store keys storage node 0 publishes before it starts).
 */
export class ComputeFleet extends Construct {
  readonly autoScalingGroup: AutoScalingGroup;
  readonly role: Role;
  /** The predictive scaling policies (CPU, slot use); their forecasts are on the dashboard. */
  readonly predictivePolicies: readonly CfnScalingPolicy[] = [];

  constructor(scope: Construct, id: string, props: ComputeFleetProps) {
    super(scope, id);
    const defaults = STRATA_DEFAULTS.compute;
    portProp(this, 'port', props.port);
    nonEmptyProp(this, 'instanceTypes', props.instanceTypes);
    wholeProp(this, 'minNodes', props.minNodes, 1, 1000);
    const minNodes = props.minNodes ?? defaults.minNodes;
    wholeProp(this, 'maxNodes', props.maxNodes, minNodes, 1000);
    wholeProp(this, 'slotsPerNode', props.slotsPerNode, 1, 256);
    wholeProp(this, 'targetCpuPercent', props.targetCpuPercent, 10, 95);
    wholeProp(this, 'targetSlotUsePercent', props.targetSlotUsePercent, 10, 95);
    oneOfProp(this, 'predictiveScaling', props.predictiveScaling, ['off', ...PREDICTIVE_MODES]);
    const instanceTypes = props.instanceTypes ?? defaults.instanceTypes;
    const { region } = Stack.of(this);
    this.role = nodeRole(
      this,
      'Strata compute node: Session Manager, its log group, its secrets, the node bundle, completing its drain',
      { ...props, stateSecret: props.state.secrets.compute },
    );
    props.objects.secret.grantRead(this.role);
    props.functionCode.grantRead(this.role);

    const template = new NodeLaunchTemplate(this, 'LaunchTemplate', {
      instanceTypes,
      machineImage: MachineImage.latestAmazonLinux2023({
        cpuType:
          instanceArchitecture(instanceTypes[0]) === 'arm64' ? AmazonLinuxCpuType.ARM_64 : AmazonLinuxCpuType.X86_64,
      }),
      role: this.role,
      securityGroup: props.securityGroup,
      rootVolumeGiB: 20,
      instanceMetadataTags: true, // the drain reads its group's name from the instance tags
    });

    this.autoScalingGroup = new AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      mixedInstancesPolicy: launchAnyOf(template, instanceTypes),
      minCapacity: minNodes,
      maxCapacity: props.maxNodes ?? Math.max(defaults.maxNodes, minNodes),
      healthChecks: HealthChecks.ec2({ gracePeriod: Duration.minutes(5) }),
      notifications: [{ topic: props.alerts, scalingEvents: ScalingEvents.ALL }],
      defaultInstanceWarmup: Duration.minutes(3),
      cooldown: Duration.minutes(2),
      // AWS/AutoScaling publishes GroupInServiceInstances and the rest only when asked (free, every minute).
      groupMetrics: [GroupMetrics.all()],
      signals: Signals.waitForCount(minNodes, { timeout: Duration.minutes(30) }),
    });
    // The subnets' AZs, named as well: Control Tower's CT.AUTOSCALING.PR.1 reads them there.
    const group = this.autoScalingGroup.node.defaultChild as CfnAutoScalingGroup;
    group.availabilityZones = props.vpc.selectSubnets(props.subnets).availabilityZones;
    acknowledgeLaunchChecks(this.autoScalingGroup, instanceTypes, 'compute.instanceTypes');
    const { stackName, stackId } = Stack.of(this);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['cloudformation:SignalResource'], resources: [stackId] }),
    );
    // The user data names the group (to signal it), so it is written once the group exists; it renders at synth.
    nodeUserData(template.userData, {
      bundle: props.bundle,
      prelude: ["retry 600 'the package unzip' aws_dnf_install unzip"], // the AMI has the AWS CLI
      setupScript: 'node-setup/compute-node.sh',
      settings: {
        STRATA_REGION: region,
        STRATA_STACK: stackName,
        STRATA_SIGNAL_RESOURCE: Stack.of(this).getLogicalId(group),
        STRATA_LOG_GROUP: props.logGroup.logGroupName,
        STRATA_PORT: String(props.port),
        STRATA_STORAGE_PORT: String(props.storagePort),
        STRATA_VPC_CIDR: props.vpc.vpcCidrBlock,
        STRATA_SLOTS: String(props.slotsPerNode ?? defaults.slotsPerNode),
        STRATA_CACHE_HOST: props.state.host,
        STRATA_CACHE_PORT: String(props.state.port),
        STRATA_CACHE_QUERY: props.state.urlQuery ?? '',
        STRATA_CACHE_SECRET_ARN: props.state.secrets.compute.secretArn,
        STRATA_RGW_ENDPOINT: props.objects.endpoint,
        STRATA_BUCKET: props.objects.bucket,
        STRATA_OBJECTS_SECRET_ARN: props.objects.secret.secretArn,
        STRATA_NODE_POLICY: props.nodePolicy,
        STRATA_NODE_POLICY_OPTIONS: JSON.stringify(props.nodePolicyOptions ?? {}),
        STRATA_OFFLOAD_POLICY: props.offloadPolicy,
        STRATA_OFFLOAD_POLICY_OPTIONS: JSON.stringify(
          props.offloadPolicyOptions ?? (props.offloadPolicy === 'thresholds' ? props.offloadThresholds : {}),
        ),
        STRATA_OFFLOAD_THRESHOLDS: JSON.stringify(props.offloadThresholds),
        STRATA_LIFECYCLE_HOOK: DRAIN_HOOK,
        STRATA_LOCALITY: (props.offloadByLocality ?? STRATA_DEFAULTS.offloadByLocality) ? 'on' : 'off',
        STRATA_FUNCTIONS_BUCKET: props.functionCode.bucket.bucketName,
      } satisfies ComputeNodeEnvironment,
    });
    this.autoScalingGroup.addLifecycleHook('Drain', {
      lifecycleHookName: DRAIN_HOOK,
      lifecycleTransition: LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: Duration.minutes(6), // above the unit's 5-minute stop timeout
      defaultResult: DefaultResult.CONTINUE,
    });
    // A policy of its own: in the role's default policy it would make the launch template wait for the group.
    const completeDrain = new Policy(this, 'CompleteDrain', {
      roles: [this.role],
      statements: [
        new PolicyStatement({
          actions: ['autoscaling:CompleteLifecycleAction'],
          resources: [this.autoScalingGroup.autoScalingGroupArn],
        }),
      ],
    });
    acknowledgeNag(
      completeDrain,
      'IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/<FleetGroupASGF037160E>]',
      "The * is the group's UUID, which no template can know; the ARN names this group only",
    );

    const targetCpu = props.targetCpuPercent ?? defaults.targetCpuPercent;
    const targetSlotUse = props.targetSlotUsePercent ?? defaults.targetSlotUsePercent;
    this.autoScalingGroup.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: targetCpu });
    this.autoScalingGroup.scaleToTrackMetric('SlotUse', { metric: plainMetric(SLOT_USE), targetValue: targetSlotUse });

    const mode = props.predictiveScaling ?? 'forecast-only';
    if (mode !== 'off') {
      this.predictivePolicies = new PredictiveScaling(this, 'Predictive', {
        group: this.autoScalingGroup,
        mode,
        targetCpuPercent: targetCpu,
        targetSlotUsePercent: targetSlotUse,
      }).policies;
    }
  }
}
