import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AWS_SEAM } from '../../lib/constructs/ec2-node';
import { nthAddress, parseSubnet } from '../ipv4';
import { CloudAssembly, type Resource } from './cloudformation';

export const STACKS = {
  network: 'StrataNetwork',
  state: 'StrataState',
  storage: 'StrataStorage',
  compute: 'StrataCompute',
  dispatch: 'StrataDispatch',
} as const;
const REHEARSAL_SEAM = join(__dirname, '..', 'rehearsal-aws.sh');

export interface Subnet {
  readonly logicalId: string;
  readonly cidr: string;
  readonly az: string;
}

/** One instance to launch, as its template describes it. */
export interface InstanceLaunch {
  readonly role: 'storage' | 'compute';
  /** The resource that launches it: the instance, or the Auto Scaling group. */
  readonly resource: string;
  readonly subnet: Subnet;
  readonly userData: string;
  /** Tags as the instance would carry them; served by IMDS only if its launch settings say so. */
  readonly tags: Record<string, string>;
  readonly tagsInMetadata: boolean;
}

/**
 * The deployed app as the rehearsal sees it: the synthesized templates of a cloud
 * assembly, read with the answers that only AWS would give (instance addresses, the
 * ElastiCache endpoint, ARNs), and the user data with the AWS seam swapped for the
 * rehearsal's (nothing else of it is changed).
 */
export class Deployment {
  readonly assembly: CloudAssembly;
  readonly vpcCidr: string;
  readonly subnets: readonly Subnet[];
  /** The ElastiCache primary endpoint's name, as the nodes and the dispatcher get it. */
  readonly stateStoreName = 'master.strata-state.rhrsl1.euw1.cache.amazonaws.com';
  private readonly nextOffset = new Map<string, number>();

  constructor(
    readonly directory: string,
    readonly region = 'eu-west-1',
    readonly account = '123456789012',
  ) {
    const azs = ['a', 'b', 'c'].map((letter) => `${region}${letter}`);
    this.assembly = new CloudAssembly(
      directory,
      region,
      account,
      {
        ref: (stack, id, resource) =>
          resource.Type === 'AWS::EC2::Volume' ? `vol-${randomSuffix(stack + id).toLowerCase()}0ab1c2d3e` : undefined,
        attribute: (stack, id, resource, name) => this.attribute(stack, id, resource, name),
      },
      azs,
    );
    const [, vpc] = this.assembly.resources(STACKS.network, 'AWS::EC2::VPC')[0];
    this.vpcCidr = String(vpc.Properties!.CidrBlock);
    this.subnets = this.assembly.resources(STACKS.network, 'AWS::EC2::Subnet').map(([logicalId, subnet]) => ({
      logicalId,
      cidr: String(subnet.Properties!.CidrBlock),
      az: String(this.assembly.resolve(STACKS.network, subnet.Properties!.AvailabilityZone)),
    }));
  }

  /** A free address in a subnet, for a new instance (from the 20th on: the lower ones are left for fixed addresses). */
  allocate(subnet: Subnet): string {
    const offset = this.nextOffset.get(subnet.logicalId) ?? 20;
    this.nextOffset.set(subnet.logicalId, offset + 1);
    return nthAddress(parseSubnet(subnet.cidr), offset);
  }

  /** The storage nodes, in the order of their index: each its own group of one. */
  storageLaunches(): InstanceLaunch[] {
    return this.assembly
      .resources(STACKS.storage, 'AWS::AutoScaling::AutoScalingGroup')
      .map(([groupId]) => this.groupLaunches(STACKS.storage, groupId)[0]);
  }

  /** The compute group's first instances, as many as its minimum size, one per subnet in turn. */
  computeLaunches(): InstanceLaunch[] {
    const [[groupId]] = this.assembly.resources(STACKS.compute, 'AWS::AutoScaling::AutoScalingGroup');
    return this.groupLaunches(STACKS.compute, groupId);
  }

  /** What an Auto Scaling group launches at create: MinSize instances from its launch template (the one its mixed instances policy names), across its subnets. */
  private groupLaunches(stack: string, groupId: string): InstanceLaunch[] {
    const group = this.assembly.resource(stack, groupId);
    type TemplateRef = { LaunchTemplateId: { Ref: string } };
    const mixed = group.Properties!.MixedInstancesPolicy as
      | { LaunchTemplate: { LaunchTemplateSpecification: TemplateRef } }
      | undefined;
    const templateId = (
      mixed?.LaunchTemplate.LaunchTemplateSpecification ?? (group.Properties!.LaunchTemplate as TemplateRef)
    ).LaunchTemplateId.Ref;
    const data = this.assembly.resource(stack, templateId).Properties!.LaunchTemplateData as Record<string, unknown>;
    const subnets = (this.assembly.resolve(stack, group.Properties!.VPCZoneIdentifier) as string[]).map((id) =>
      this.subnetOf(stack, id),
    );
    const instanceTags = ((data.TagSpecifications ?? []) as { ResourceType: string; Tags: unknown }[]).find(
      (spec) => spec.ResourceType === 'instance',
    )?.Tags;
    const tags = { ...this.tags(stack, instanceTags), 'aws:autoscaling:groupName': this.physicalName(stack, groupId) };
    const tagsInMetadata =
      (data.MetadataOptions as { InstanceMetadataTags?: string } | undefined)?.InstanceMetadataTags === 'enabled';
    return Array.from({ length: Number(group.Properties!.MinSize) }, (_, index) => ({
      role: stack === STACKS.storage ? 'storage' : 'compute',
      resource: groupId,
      subnet: subnets[index % subnets.length],
      userData: this.userData(stack, data.UserData),
      tags,
      tagsInMetadata,
    }));
  }

  /** The resources a stack's creation waits for signals from (CreationPolicy), with how many. */
  signalledResources(stack: string): { resource: string; count: number }[] {
    return Object.entries(this.assembly.template(stack).Resources)
      .filter(([, resource]) => resource.CreationPolicy?.ResourceSignal)
      .map(([resource, { CreationPolicy }]) => ({
        resource,
        count: Number((CreationPolicy!.ResourceSignal as { Count?: number }).Count ?? 1),
      }));
  }

  /** The dispatcher function: its environment and the asset folders of its code and of the policy layer. */
  dispatcher(): { environment: Record<string, string>; codeDir: string; layerDir: string; handler: string } {
    const [, fn] = this.assembly
      .resources(STACKS.dispatch, 'AWS::Lambda::Function')
      .find(([, resource]) => resource.Properties!.Handler === 'index.handler')!;
    const [, layer] = this.assembly.resources(STACKS.dispatch, 'AWS::Lambda::LayerVersion')[0];
    const assetDir = (key: unknown) => join(this.directory, `asset.${String(key).replace(/\.zip$/, '')}`);
    return {
      environment: this.assembly.resolve(
        STACKS.dispatch,
        (fn.Properties!.Environment as { Variables: unknown }).Variables,
      ) as Record<string, string>,
      codeDir: assetDir((fn.Properties!.Code as { S3Key: string }).S3Key),
      layerDir: assetDir((layer.Properties!.Content as { S3Key: string }).S3Key),
      handler: String(fn.Properties!.Handler),
    };
  }

  /**
   * The state store's port and its users as the template makes them (ElastiCache RBAC): each
   * user's name, access string, and the secret its password comes from (the dynamic reference).
   */
  stateStore(): { port: number; users: { name: string; accessString: string; secretArn: string }[] } {
    const [, group] = this.assembly.resources(STACKS.state, 'AWS::ElastiCache::ReplicationGroup')[0];
    const users = this.assembly.resources(STACKS.state, 'AWS::ElastiCache::User').map(([logicalId, user]) => {
      const { UserName, AccessString, AuthenticationMode } = this.assembly.resolve(STACKS.state, user.Properties) as {
        UserName: string;
        AccessString: string;
        AuthenticationMode: { Passwords: string[] };
      };
      const secretArn = /^\{\{resolve:secretsmanager:(.+):SecretString:password::\}\}$/.exec(
        AuthenticationMode.Passwords[0],
      )?.[1];
      if (!secretArn) throw new Error(`${logicalId}: its password is not a reference to a secret's password field`);
      return { name: UserName, accessString: AccessString, secretArn };
    });
    if (users.length === 0) throw new Error(`${STACKS.state} makes no state store user (AWS::ElastiCache::User)`);
    return { port: Number(group.Properties!.Port), users };
  }

  /** The private DNS records (Route 53 private hosted zones) every host resolves, name -> addresses. */
  dnsRecords(): Record<string, string[]> {
    const records: Record<string, string[]> = { [this.stateStoreName]: [] };
    for (const [, record] of this.assembly.resources(STACKS.storage, 'AWS::Route53::RecordSet')) {
      const properties = this.assembly.resolve(STACKS.storage, record.Properties) as {
        Name: string;
        Type: string;
        ResourceRecords: string[];
      };
      if (properties.Type === 'A') records[properties.Name.replace(/\.$/, '')] = properties.ResourceRecords;
    }
    return records;
  }

  /** The node bundle's S3 address and its asset folder, from a user data's fetch line. */
  bundle(userData: string): { s3Uri: string; folder: string } {
    const match = /aws_fetch_bundle '(s3:\/\/[^']+\/([0-9a-f]{64})\.zip)'/.exec(userData);
    if (!match) throw new Error('the user data fetches no node bundle');
    return { s3Uri: match[1], folder: join(this.directory, `asset.${match[2]}`) };
  }

  /**
   * The Debian packages a launch installs with apt: the `apt_install` lines of its
   * user data and of the setup script it runs from the bundle. The host image carries
   * them installed, so the user data's apt-get finds them there (the rehearsal would
   * spend ten minutes a host unpacking Ceph on two shared cores otherwise).
   */
  aptPackages(launch: InstanceLaunch): string[] {
    const script = /exec bash \/opt\/strata\/(\S+)/.exec(launch.userData)?.[1];
    const texts = [
      launch.userData,
      script ? readFileSync(join(this.bundle(launch.userData).folder, script), 'utf8') : '',
    ];
    return texts.flatMap((text) =>
      text
        .replace(/\\\n/g, ' ')
        .split('\n')
        .filter((line) => /^\s*apt_install /.test(line))
        .flatMap((line) =>
          line
            .replace(/#.*/, '')
            .trim()
            .split(/\s+/)
            .slice(1)
            .filter((word) => /^[a-z0-9][a-z0-9.+-]+$/.test(word)),
        ),
    );
  }

  /** Stack secrets, for the stand-in Secrets Manager. */
  stacks(): string[] {
    return Object.values(STACKS);
  }

  /** A stack's outputs as DescribeStacks answers them once it is deployed (those the rehearsal can resolve); undefined for no such stack. */
  outputs(stack: string): Record<string, string> | undefined {
    if (!this.stacks().includes(stack)) return undefined;
    const outputs: Record<string, string> = {};
    for (const [key, output] of Object.entries(this.assembly.template(stack).Outputs ?? {})) {
      try {
        outputs[key] = String(this.assembly.resolve(stack, output.Value));
      } catch {
        // an output only AWS knows (an API's URL): not needed by the rehearsal's operator
      }
    }
    return outputs;
  }

  /** The name CloudFormation would give a resource without one (stack, logical id, a suffix). */
  physicalName(stack: string, logicalId: string): string {
    return `${stack}-${logicalId}-${randomSuffix(stack + logicalId)}`;
  }

  private userData(stack: string, value: unknown): string {
    const text = String(this.assembly.resolve(stack, value));
    const start = text.indexOf(`${AWS_SEAM.start}\n`);
    const end = text.indexOf(`\n${AWS_SEAM.end}\n`, start);
    if (start < 0 || end < 0 || text.indexOf(`${AWS_SEAM.start}\n`, end) >= 0)
      throw new Error(
        `the ${stack} user data must hold the AWS seam once, between "${AWS_SEAM.start}" and "${AWS_SEAM.end}"`,
      );
    return `${text.slice(0, start + AWS_SEAM.start.length + 1)}${readFileSync(REHEARSAL_SEAM, 'utf8').trimEnd()}${text.slice(end)}`;
  }

  private tags(stack: string, tags: unknown): Record<string, string> {
    const list = this.assembly.resolve(stack, tags ?? []) as { Key: string; Value: string }[];
    return Object.fromEntries(list.map(({ Key, Value }) => [Key, Value]));
  }

  private subnetOf(stack: string, reference: unknown): Subnet {
    const id = String(this.assembly.resolve(stack, reference));
    const subnet = this.subnets.find((candidate) => candidate.logicalId === id);
    if (!subnet) throw new Error(`no subnet ${id} in ${STACKS.network}`);
    return subnet;
  }

  private attribute(stack: string, logicalId: string, resource: Resource, name: string): string | undefined {
    switch (`${resource.Type}.${name}`) {
      case 'AWS::EC2::VPC.CidrBlock':
        return String(resource.Properties!.CidrBlock);
      case 'AWS::ElastiCache::ReplicationGroup.PrimaryEndPoint.Address':
        return this.stateStoreName;
      case 'AWS::ElastiCache::ReplicationGroup.PrimaryEndPoint.Port':
        return String(resource.Properties!.Port);
      case 'AWS::EC2::LaunchTemplate.LatestVersionNumber':
        return '1';
      case 'AWS::EC2::SecurityGroup.GroupId':
        return `sg-${randomSuffix(stack + logicalId)}`;
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:aws:logs:${this.region}:${this.account}:log-group:${logicalId}:*`;
    }
    return undefined;
  }
}

/** A suffix that stays the same for the same input, as a deployed name would from one deploy to the next. */
function randomSuffix(seed: string): string {
  let hash = 2166136261;
  for (const char of seed) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return hash.toString(16).padStart(8, '0').toUpperCase();
}

/** The settings a user data writes to /etc/strata/strata.env (KEY='value' lines). */
export function settingsOf(userData: string): Record<string, string> {
  return Object.fromEntries(
    [...userData.matchAll(/^(STRATA_[A-Z0-9_]+)='([^']*)'$/gm)].map((match) => [match[1], match[2]]),
  );
}

/** An EC2-style id: i-, eni- ... and 17 hex digits. */
export function ec2Id(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}
