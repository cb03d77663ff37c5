import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import {
  type AutoScalingGroup,
  type AutoScalingGroupProps,
  OnDemandAllocationStrategy,
} from 'aws-cdk-lib/aws-autoscaling';
import { InstanceType, type LaunchTemplate, type UserData } from 'aws-cdk-lib/aws-ec2';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { exceptControl } from '../control-tower';
import { acknowledgeNag } from './nag';

/** The AWS seam (nodes/node-setup/aws.sh): the user data writes it to /etc/strata/aws.sh between these lines. */
export const AWS_SEAM = {
  path: '/etc/strata/aws.sh',
  start: "cat > /etc/strata/aws.sh <<'AWS_SEAM'",
  end: 'AWS_SEAM',
  source: join(__dirname, '..', '..', 'nodes', 'node-setup', 'aws.sh'),
} as const;

/** What the user data needs before the node bundle is there (nodes/node-setup/boot.sh: retry, imds, fail), written to /etc/strata/boot.sh. */
export const BOOT_HELPERS = {
  path: '/etc/strata/boot.sh',
  start: "cat > /etc/strata/boot.sh <<'BOOT_HELPERS'",
  end: 'BOOT_HELPERS',
  source: join(__dirname, '..', '..', 'nodes', 'node-setup', 'boot.sh'),
} as const;

export interface NodeUserDataOptions {
  readonly bundle: Asset;
  /** Commands that make `unzip` (and on Debian `aws`) available on this image; the AWS seam's and boot.sh's functions are defined. */
  readonly prelude: readonly string[];
  /** The setup script inside the bundle, e.g. node-setup/compute-node.sh. */
  readonly setupScript: string;
  /** Written to /etc/strata/strata.env, which the setup scripts read. */
  readonly settings: Record<string, string>;
}

/**
 * The role both kinds of EC2 node take: Session Manager (no SSH), writing to their log
 * group, reading their own state store user's secret and the one object of their node bundle.
 */
export function nodeRole(
  scope: Construct,
  description: string,
  access: { readonly bundle: Asset; readonly logGroup: ILogGroup; readonly stateSecret: ISecret },
): Role {
  const role = new Role(scope, 'Role', { assumedBy: new ServicePrincipal('ec2.amazonaws.com'), description });
  // Session Manager's own actions (AWS's minimal policy for it), not AmazonSSMManagedInstanceCore,
  // which also reads every Parameter Store parameter (ssm:GetParameter* on *): a compute node
  // runs users' code, and no node reads a parameter.
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'SessionManager',
      actions: [
        'ssm:UpdateInstanceInformation',
        'ssmmessages:CreateControlChannel',
        'ssmmessages:CreateDataChannel',
        'ssmmessages:OpenControlChannel',
        'ssmmessages:OpenDataChannel',
      ],
      resources: ['*'],
    }),
  );
  grantReadBundle(access.bundle, role);
  access.logGroup.grantWrite(role);
  access.stateSecret.grantRead(role);
  return role;
}

/**
 * Lets a node read the one object of its bundle (asset.grantRead would open the whole
 * asset bucket). An account bootstrapped with a customer key (`cdk bootstrap
 * --bootstrap-customer-kms-key`) encrypts the asset bucket with it, and S3 then needs
 * the reader's kms:Decrypt: allowed for that key only through S3, for this bucket.
 */
function grantReadBundle(bundle: Asset, role: IRole): void {
  const object = bundle.bucket.arnForObjects(bundle.s3ObjectKey);
  role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [object] }));
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'DecryptBundleThroughS3',
      actions: ['kms:Decrypt'],
      resources: ['*'], // the bootstrap key, which the app cannot name
      conditions: {
        StringEquals: { 'kms:ViaService': `s3.${Stack.of(role).region}.amazonaws.com` },
        // The object's ARN, or the bucket's with S3 Bucket Keys.
        'ForAnyValue:StringEquals': { 'kms:EncryptionContext:aws:s3:arn': [bundle.bucket.bucketArn, object] },
      },
    }),
  );
  acknowledgeNag(
    role,
    'IAM5[Resource::*]',
    "Session Manager's five actions, which take no resource (the agent registers and opens its channels), and kms:Decrypt of the asset bucket's key, which the app cannot name (the account's bootstrap chose it): only through S3 and only for the node bundle's bucket",
  );
}

/**
 * User data both node kinds share: the AWS seam, the boot helpers and the settings file,
 * then an ERR trap that signals FAILURE to CloudFormation from the first command that can
 * fail (the package installs, the bundle's fetch); the node bundle from its S3 asset into
 * /opt/strata, then the bundle's own setup script. The settings are written
 * single-quoted, so no value is expanded by the shell.
 */
export function nodeUserData(userData: UserData, options: NodeUserDataOptions): void {
  const settings = Object.entries(options.settings).map(([key, value]) => `${key}='${value}'`);
  const file = (helpers: typeof AWS_SEAM | typeof BOOT_HELPERS) => [
    helpers.start,
    readFileSync(helpers.source, 'utf8').trimEnd(),
    helpers.end,
  ];
  userData.addCommands(
    'set -Eeuo pipefail',
    'install -d -m 0700 /etc/strata',
    ...file(AWS_SEAM),
    ...file(BOOT_HELPERS),
    "cat > /etc/strata/strata.env <<'SETTINGS'",
    ...settings,
    'SETTINGS',
    'source /etc/strata/strata.env',
    `source ${AWS_SEAM.path}`,
    `source ${BOOT_HELPERS.path}`,
    `trap 'fail "the user data failed (line \${LINENO})"' ERR`,
    ...options.prelude,
    `retry 300 'the node bundle' aws_fetch_bundle 's3://${options.bundle.s3BucketName}/${options.bundle.s3ObjectKey}' /tmp/strata-node.zip`,
    'rm -rf /opt/strata && install -d /opt/strata && unzip -q /tmp/strata-node.zip -d /opt/strata && rm /tmp/strata-node.zip',
    `exec bash /opt/strata/${options.setupScript}`,
  );
}

/**
 * An Auto Scaling group's launch: its template, with every instance type the operator
 * allows, the first preferred, on demand only (the next type when EC2 has no capacity of
 * one in the AZ).
 */
export function launchAnyOf(
  template: LaunchTemplate,
  instanceTypes: readonly string[],
): NonNullable<AutoScalingGroupProps['mixedInstancesPolicy']> {
  return {
    launchTemplate: template,
    launchTemplateOverrides: instanceTypes.map((name) => ({ instanceType: new InstanceType(name) })),
    instancesDistribution: {
      onDemandAllocationStrategy: OnDemandAllocationStrategy.PRIORITIZED,
      onDemandPercentageAboveBaseCapacity: 100,
    },
  };
}

/**
 * What the checks at synth cannot see in a group launched by launchAnyOf, said once:
 * cdk-nag's EC26 reads only a group's own LaunchTemplate (it throws on a mixed instances
 * policy), and a single instance type is the operator's choice against Control Tower's
 * CT.AUTOSCALING.PR.6.
 */
export function acknowledgeLaunchChecks(group: AutoScalingGroup, instanceTypes: readonly string[], key: string): void {
  acknowledgeNag(
    group,
    'EC26',
    "cdk-nag cannot follow a mixed instances policy to its launch template; that template's volumes are encrypted gp3 (test/lib/stacks.test.ts)",
  );
  if (instanceTypes.length === 1)
    exceptControl(
      group,
      'CT.AUTOSCALING.PR.6',
      `The operator allowed one instance type (${key}: ["${instanceTypes[0]}"])`,
    );
}
