import { Stack } from 'aws-cdk-lib';
import {
  type CfnSecurityGroup,
  CfnSecurityGroupEgress,
  type CfnSubnet,
  CfnSubnetCidrReservation,
  FlowLogDestination,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { exceptControl } from '../control-tower';
import { strataLogGroup } from './log-key';
import { acknowledgeNag } from './nag';
import { wholeProp } from './validate';

/** The ports each tier listens on, in one place for the security groups, user data and the dispatcher. */
export const PORTS = {
  /** Compute nodes' runtime. */
  computeNode: 8080,
  /** Storage nodes' agent (near-data stages). */
  storageAgent: 8081,
  /** Ceph RGW (S3) over TLS. */
  rgw: 7443,
  /** ElastiCache; not the default 6379, so scanners that try it find nothing. */
  cache: 6380,
} as const;

/** The VPC's address range; a literal, so security group rules and nag checks can read it. */
export const VPC_CIDR = '10.40.0.0/16';

/**
 * In each workload subnet, the block kept for the storage nodes' fixed addresses: its 10th
 * address on, six a subnet (storage.nodes 12 over two AZs). An explicit CIDR reservation:
 * EC2 assigns none of it by itself (to endpoints, Lambda or compute nodes), and the
 * storage nodes assign their own in it.
 */
export const STORAGE_ADDRESSES = { first: 10, perSubnet: 6, block: { offset: 8, prefixLength: 29 } } as const;

export interface NetworkProps {
  /** @default 3 */
  readonly maxAzs?: number;
  /** @default 1 */
  readonly natGateways?: number;
  /** The AZs by zone id, in order; the stack's AZ names come from the subnets made in them. @default by name (the stack's) */
  readonly availabilityZones?: readonly string[];
}

/**
 * The VPC every tier lives in, and the security groups between tiers. Workloads run in
 * private subnets (out through NAT to package mirrors); ElastiCache sits in isolated
 * subnets. No security group takes traffic from outside the VPC.
 */
export class Network extends Construct {
  readonly vpc: Vpc;
  /** Where EC2 nodes and the dispatcher run. */
  readonly workloadSubnets: SubnetSelection = { subnetType: SubnetType.PRIVATE_WITH_EGRESS };
  /** Where ElastiCache runs: no route out at all. */
  readonly dataSubnets: SubnetSelection = { subnetType: SubnetType.PRIVATE_ISOLATED };
  readonly dispatcherSecurityGroup: SecurityGroup;
  /** The functions API Lambda: out to the state store, Secrets Manager and S3 only. */
  readonly functionsApiSecurityGroup: SecurityGroup;
  readonly computeSecurityGroup: SecurityGroup;
  readonly storageSecurityGroup: SecurityGroup;
  readonly cacheSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    wholeProp(this, 'maxAzs', props.maxAzs, 2, 3); // Ceph and Multi-AZ ElastiCache need two at least
    wholeProp(this, 'natGateways', props.natGateways, 1, props.maxAzs ?? 3);
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(VPC_CIDR),
      maxAzs: props.maxAzs ?? 3,
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'nat', subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'workload', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'data', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 } },
    });
    // CDK's own handler that strips the default security group's rules (feature flag
    // restrictDefaultSecurityGroup) is a singleton of the stack, outside any VPC.
    const restrictDefaultRules = Stack.of(this)
      .node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider')
      ?.node.tryFindChild('Handler');
    if (restrictDefaultRules) {
      exceptControl(
        restrictDefaultRules,
        'CT.LAMBDA.PR.3',
        "CDK's handler that removes the default security group's rules at deploy time: it calls only the EC2 API and holds no data, and runs before any VPC endpoint it could use exists",
      );
    }
    if (props.availabilityZones) this.pinZones(props.availabilityZones);
    const storageReservations = this.reserveStorageAddresses();
    const flowLogs = strataLogGroup(this, 'FlowLogs');
    this.vpc.addFlowLog('FlowLog', { destination: FlowLogDestination.toCloudWatchLogs(flowLogs) });

    // AWS APIs without leaving the VPC: Session Manager, CloudWatch, Secrets Manager.
    const endpointSecurityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(Peer.ipv4(VPC_CIDR), Port.tcp(443), 'HTTPS from the VPC');
    const interfaceEndpoints = {
      Ssm: InterfaceVpcEndpointAwsService.SSM,
      SsmMessages: InterfaceVpcEndpointAwsService.SSM_MESSAGES,
      Ec2Messages: InterfaceVpcEndpointAwsService.EC2_MESSAGES,
      CloudWatchLogs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      CloudWatchMonitoring: InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
      SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    };
    for (const [name, service] of Object.entries(interfaceEndpoints)) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.workloadSubnets,
        securityGroups: [endpointSecurityGroup],
        open: false,
      });
      endpoint.node.addDependency(...storageReservations); // their interfaces take addresses outside the block
    }

    const group = (name: string, description: string, allowAllOutbound: boolean) =>
      new SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound });
    this.dispatcherSecurityGroup = group(
      'DispatcherSecurityGroup',
      'Dispatcher Lambda: no ingress; out to the state store, compute nodes and AWS APIs',
      false,
    );
    this.functionsApiSecurityGroup = group(
      'FunctionsApiSecurityGroup',
      'Functions API Lambda: no ingress; out to the state store, Secrets Manager and S3',
      false,
    );
    this.computeSecurityGroup = group(
      'ComputeSecurityGroup',
      'Compute nodes: runtime port from the dispatcher and peers',
      true,
    );
    this.storageSecurityGroup = group(
      'StorageSecurityGroup',
      'Ceph storage nodes: agent and RGW from compute nodes, Ceph ports between storage nodes',
      true,
    );
    this.cacheSecurityGroup = group(
      'CacheSecurityGroup',
      'ElastiCache: its port from the dispatcher and the nodes only',
      false,
    );

    const cachePort = Port.tcp(PORTS.cache);
    const lambdas = [this.dispatcherSecurityGroup, this.functionsApiSecurityGroup];
    for (const client of [...lambdas, this.computeSecurityGroup, this.storageSecurityGroup]) {
      this.cacheSecurityGroup.addIngressRule(client, cachePort, 'state store clients');
    }
    const s3 = s3PrefixListId(this);
    for (const lambda of lambdas) {
      lambda.addEgressRule(this.cacheSecurityGroup, cachePort, 'state store');
      lambda.addEgressRule(endpointSecurityGroup, Port.tcp(443), 'Secrets Manager through its endpoint');
      // The function code bucket (docs/functions.md) through the S3 gateway endpoint: a
      // rule of its own, as the rules to other groups are, so the placeholder below stays.
      new CfnSecurityGroupEgress(this, `${lambda.node.id}ToS3`, {
        groupId: lambda.securityGroupId,
        ipProtocol: 'tcp',
        fromPort: 443,
        toPort: 443,
        destinationPrefixListId: s3,
        description: 'S3 (the function code bucket) through the gateway endpoint',
      });
      // CDK drops its "no traffic" placeholder once any egress rule exists, even when the
      // rules are separate resources; CloudFormation then keeps EC2's default allow-all
      // egress. The placeholder, inline, makes the group's own rules the only way out.
      (lambda.node.defaultChild as CfnSecurityGroup).securityGroupEgress = [
        {
          cidrIp: '255.255.255.255/32',
          ipProtocol: 'icmp',
          fromPort: 252,
          toPort: 86,
          description: 'No default egress: only the rules that follow',
        },
      ];
    }
    this.dispatcherSecurityGroup.addEgressRule(
      this.computeSecurityGroup,
      Port.tcp(PORTS.computeNode),
      'invocations to compute nodes',
    );
    this.computeSecurityGroup.addIngressRule(
      this.dispatcherSecurityGroup,
      Port.tcp(PORTS.computeNode),
      'invocations from the dispatcher',
    );
    this.computeSecurityGroup.addIngressRule(
      this.computeSecurityGroup,
      Port.tcp(PORTS.computeNode),
      'invocations forwarded by peers',
    );
    this.storageSecurityGroup.addIngressRule(
      this.computeSecurityGroup,
      Port.tcp(PORTS.storageAgent),
      'near-data stages from compute nodes',
    );
    this.storageSecurityGroup.addIngressRule(
      this.computeSecurityGroup,
      Port.tcp(PORTS.rgw),
      'S3 (RGW) from compute nodes',
    );
    // Ceph inside the cluster only: monitors (msgr2 3300, v1 6789), OSD/MGR daemons, RGW.
    for (const [port, what] of [
      [Port.tcp(3300), 'Ceph monitor (msgr2)'],
      [Port.tcp(6789), 'Ceph monitor (v1)'],
      [Port.tcpRange(6800, 7300), 'Ceph OSD and MGR daemons'],
      [Port.tcp(PORTS.rgw), 'S3 (RGW) between storage nodes'],
      [Port.tcp(PORTS.storageAgent), 'storage agents'],
    ] as const) {
      this.storageSecurityGroup.addIngressRule(this.storageSecurityGroup, port, what);
    }
  }

  /** The AZ name of the index-th AZ, as EC2 made the subnets there (with zone ids, known only at deploy time). */
  zoneName(index: number): string {
    return (this.vpc.publicSubnets[index].node.defaultChild as CfnSubnet).attrAvailabilityZone;
  }

  /** Every subnet in its AZ by zone id rather than by name. */
  private pinZones(zoneIds: readonly string[]): void {
    for (const subnets of [this.vpc.publicSubnets, this.vpc.privateSubnets, this.vpc.isolatedSubnets]) {
      subnets.forEach((subnet, index) => {
        const cfn = subnet.node.defaultChild as CfnSubnet;
        cfn.addPropertyDeletionOverride('AvailabilityZone');
        cfn.addPropertyOverride('AvailabilityZoneId', zoneIds[index]);
      });
    }
  }

  private reserveStorageAddresses(): CfnSubnetCidrReservation[] {
    return this.vpc.selectSubnets(this.workloadSubnets).subnets.map(
      (subnet, index) =>
        new CfnSubnetCidrReservation(this, `StorageAddresses${index}`, {
          subnetId: subnet.subnetId,
          cidr: `${nthAddress(subnet.ipv4CidrBlock, STORAGE_ADDRESSES.block.offset)}/${STORAGE_ADDRESSES.block.prefixLength}`,
          reservationType: 'explicit',
          description: "Strata storage nodes' fixed addresses: EC2 assigns none of them by itself",
        }),
    );
  }
}

/** The address `offset` places into a literal IPv4 CIDR block. */
export function nthAddress(cidr: string, offset: number): string {
  const [base, bits] = cidr.split('/');
  if (bits === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(base))
    throw new Error(`the subnet CIDR ${cidr} is not a literal IPv4 block; fixed node addresses need one`);
  const value = base.split('.').reduce((sum, part) => sum * 256 + Number(part), 0) + offset;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * The id of the region's AWS-managed prefix list for S3, which the gateway endpoint's
 * routes use: a security group rule can name it, but CloudFormation cannot look it up
 * and a synth-time lookup would tie the stacks to one account and region. So a deploy-time
 * lookup (ec2:DescribeManagedPrefixLists, through CDK's AwsCustomResource).
 */
/** The id CDK gives the singleton function behind AwsCustomResource (aws-cdk-lib custom-resources). */
const AWS_CUSTOM_RESOURCE_HANDLER = 'AWS679f53fac002430cb0da5b7982bd2287';

function s3PrefixListId(scope: Construct): string {
  const { region } = Stack.of(scope);
  const name = `com.amazonaws.${region}.s3`;
  const lookup = new AwsCustomResource(scope, 'S3PrefixList', {
    onUpdate: {
      service: 'EC2',
      action: 'describeManagedPrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [name] }] },
      physicalResourceId: PhysicalResourceId.of(name),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    },
    policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: AwsCustomResourcePolicy.ANY_RESOURCE }),
    logGroup: strataLogGroup(scope, 'S3PrefixListLogs'),
    installLatestAwsSdk: false,
  });
  acknowledgeNag(
    lookup,
    'IAM5[Resource::*]',
    'ec2:DescribeManagedPrefixLists, the one action of this policy, takes no resource: AWS requires *',
  );
  // CDK's one function behind every AwsCustomResource of the stack.
  const handler = Stack.of(scope).node.tryFindChild(AWS_CUSTOM_RESOURCE_HANDLER)!;
  acknowledgeNag(
    handler,
    'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    'AWS-maintained: writing to its own log group only',
  );
  exceptControl(
    handler,
    'CT.LAMBDA.PR.3',
    "CDK's handler that looks up the S3 prefix list at deploy time: it calls only the EC2 API and holds no data, and the security groups it serves are made from its answer",
  );
  return lookup.getResponseField('PrefixLists.0.PrefixListId');
}
