import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { defineStrata } from '../../lib/app';
import { StrataConfigError } from '../../lib/config';
import { cdkJsonContext, userDataText } from '../support/cdk';

// What a real account does that the rehearsal cannot show (issue 23, part 2): the
// templates as CloudFormation gets them, synthesized as `cdk synth` does (cdk-nag and the
// Control Tower checks on), without bundling assets.
function synth(strata: Record<string, unknown> = {}) {
  const context = cdkJsonContext();
  const app = new App({
    context: {
      ...context,
      strata: { ...(context.strata as Record<string, unknown>), ...strata },
      'aws:cdk:bundling-stacks': [],
    },
    outdir: mkdtempSync(join(tmpdir(), 'strata-account-')),
  });
  const stacks = defineStrata(app);
  const assembly = app.synth();
  const templateOf = (stack: Stack) =>
    Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
  return {
    network: templateOf(stacks.network),
    storage: templateOf(stacks.storage),
    compute: templateOf(stacks.compute),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by the test as it comes
type Resources = Record<string, { Properties: Record<string, any>; DependsOn?: string[]; DeletionPolicy?: string }>;
const resourcesOf = (template: Template, type: string) => template.findResources(type) as Resources;

const toNumber = (address: string) => address.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
const inBlock = (address: string, cidr: string) => {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return toNumber(address) >= toNumber(base) && toNumber(address) < toNumber(base) + size;
};

describe('the default app', () => {
  const { network, storage, compute } = synth();
  const subnets = resourcesOf(network, 'AWS::EC2::Subnet');
  const reservations = Object.entries(resourcesOf(network, 'AWS::EC2::SubnetCidrReservation'));

  test("each workload subnet reserves its storage nodes' fixed addresses (explicit: EC2 assigns none of them itself), and every fixed address is in its subnet's block", () => {
    const workload = Object.entries(subnets).filter(([id]) => id.includes('workload'));
    expect(workload).toHaveLength(3);
    expect(reservations.map(([, r]) => r.Properties.SubnetId.Ref).sort()).toEqual(workload.map(([id]) => id).sort());
    for (const [, { Properties }] of reservations) {
      expect(Properties.ReservationType).toBe('explicit');
      const subnet = subnets[Properties.SubnetId.Ref].Properties.CidrBlock as string;
      expect(inBlock(Properties.Cidr.split('/')[0], subnet)).toBe(true);
    }
    const groups = resourcesOf(storage, 'AWS::AutoScaling::AutoScalingGroup');
    const templates = resourcesOf(storage, 'AWS::EC2::LaunchTemplate');
    const checked = Object.values(groups).map((group) => {
      const templateId =
        group.Properties.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId.Ref;
      const text = userDataText(templates[templateId].Properties.LaunchTemplateData.UserData);
      const address = /STRATA_CEPH_ADDRESS='([0-9.]+)'/.exec(text)![1];
      // The group's one subnet, imported from the network stack by its export name (which names the subnet's logical id).
      const subnetImport = JSON.stringify(group.Properties.VPCZoneIdentifier);
      const [subnetId] = Object.keys(subnets).filter((id) => subnetImport.includes(id));
      const [, reservation] = reservations.find(([, r]) => r.Properties.SubnetId.Ref === subnetId)!;
      expect(inBlock(address, reservation.Properties.Cidr)).toBe(true);
      return address;
    });
    expect(checked).toHaveLength(3);
  });

  test('the interface endpoints, which take addresses in the workload subnets first, are made after the reservations', () => {
    const endpoints = Object.values(resourcesOf(network, 'AWS::EC2::VPCEndpoint')).filter(
      (endpoint) => endpoint.Properties.VpcEndpointType === 'Interface',
    );
    expect(endpoints.length).toBeGreaterThan(0);
    for (const endpoint of endpoints) for (const [id] of reservations) expect(endpoint.DependsOn).toContain(id);
  });

  test("a node reads its bundle from an asset bucket encrypted with the account's bootstrap key: kms:Decrypt only through S3, only for that bucket", () => {
    for (const template of [storage, compute]) {
      const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap(
        (policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[],
      );
      const decrypt = statements.find((statement) => statement.Sid === 'DecryptBundleThroughS3') as {
        Action: string;
        Resource: string;
        Condition: Record<string, Record<string, unknown>>;
      };
      expect(decrypt.Action).toBe('kms:Decrypt');
      expect(decrypt.Condition.StringEquals['kms:ViaService']).toEqual({
        'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
      });
      expect(JSON.stringify(decrypt.Condition['ForAnyValue:StringEquals']['kms:EncryptionContext:aws:s3:arn'])).toMatch(
        /cdk-hnb659fds-assets/,
      );
    }
  });

  test("volumes are encrypted with the account's default EBS key (no key of their own): the first-deploy checklist checks that key lets Auto Scaling and the nodes use it", () => {
    for (const volume of Object.values(resourcesOf(storage, 'AWS::EC2::Volume'))) {
      expect(volume.Properties.Encrypted).toBe(true);
      expect(volume.Properties.KmsKeyId).toBeUndefined();
    }
    for (const template of [storage, compute]) {
      for (const launch of Object.values(resourcesOf(template, 'AWS::EC2::LaunchTemplate'))) {
        for (const device of launch.Properties.LaunchTemplateData.BlockDeviceMappings) {
          expect(device.Ebs.Encrypted).toBe(true);
          expect(device.Ebs.KmsKeyId).toBeUndefined();
        }
      }
    }
  });

  test('the alert key goes with the stack, after a 7-day waiting period, instead of staying behind at a dollar a month', () => {
    const keys = Object.values(resourcesOf(network, 'AWS::KMS::Key')).filter(
      (key) => key.Properties.Description === 'Strata alert topic',
    );
    expect(keys).toHaveLength(1);
    expect(keys[0].DeletionPolicy).toBe('Delete');
    expect(keys[0].Properties.PendingWindowInDays).toBe(7);
  });

  test('the user data signals FAILURE from its first command that can fail (the packages, the bundle), and stays under EC2’s 16 KB', () => {
    for (const template of [storage, compute]) {
      const launch = Object.values(resourcesOf(template, 'AWS::EC2::LaunchTemplate'))[0];
      const text = userDataText(launch.Properties.LaunchTemplateData.UserData);
      const lines = text.split('\n');
      const trap = lines.findIndex((line) => /^trap 'fail .*' ERR$/.test(line));
      const firstInstall = lines.findIndex((line) => /^(apt_install |retry 600 'the package unzip' )/.test(line));
      const fetch = lines.findIndex((line) => /^retry \d+ 'the node bundle' aws_fetch_bundle /.test(line));
      expect(trap).toBeGreaterThan(lines.indexOf('source /etc/strata/boot.sh'));
      expect(lines.indexOf('source /etc/strata/boot.sh')).toBeGreaterThan(0);
      expect(firstInstall).toBeGreaterThan(trap);
      expect(fetch).toBeGreaterThan(trap);
      expect(lines[0]).toBe('#!/bin/bash');
      expect(text).toContain('set -Eeuo pipefail');
      expect(Buffer.byteLength(text)).toBeLessThan(16 * 1024);
      // The bundle's fetch names the region: outside us-east-1 it stays on the VPC's S3 gateway endpoint.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${...}, not a template
      expect(text).toContain('aws s3 cp --region "${STRATA_REGION}" --only-show-errors "$1" "$2"');
    }
  });
});

describe('AZs pinned by zone id (network.availabilityZones)', () => {
  const { network, storage, compute } = synth({ network: { availabilityZones: ['use1-az1', 'use1-az2', 'use1-az4'] } });

  test('every subnet is placed by zone id, and what needs an AZ name takes the one EC2 gave that subnet', () => {
    const subnets = Object.values(resourcesOf(network, 'AWS::EC2::Subnet'));
    expect(subnets).toHaveLength(9);
    for (const subnet of subnets) expect(subnet.Properties.AvailabilityZone).toBeUndefined();
    expect(subnets.map((subnet) => subnet.Properties.AvailabilityZoneId).sort()).toEqual(
      ['use1-az1', 'use1-az2', 'use1-az4'].flatMap((id) => [id, id, id]).sort(),
    );
    // The compute group and the storage volumes name their AZs by the network stack's outputs of its subnets' AZs.
    const fromSubnet = /"(Fn::GetStackOutput|Fn::ImportValue)".*natSubnet\dSubnet\w*AvailabilityZone/;
    const [group] = Object.values(resourcesOf(compute, 'AWS::AutoScaling::AutoScalingGroup'));
    expect(group.Properties.AvailabilityZones).toHaveLength(3);
    for (const zone of group.Properties.AvailabilityZones) expect(JSON.stringify(zone)).toMatch(fromSubnet);
    const volumes = Object.values(resourcesOf(storage, 'AWS::EC2::Volume'));
    expect(volumes).toHaveLength(3);
    for (const volume of volumes) expect(JSON.stringify(volume.Properties.AvailabilityZone)).toMatch(fromSubnet);
  });

  test('bad zone ids and a maxAzs that disagrees are synth-time errors that name the setting', () => {
    expect(() => synth({ network: { availabilityZones: ['us-east-1a', 'us-east-1b'] } })).toThrow(
      new StrataConfigError(
        'strata.network.availabilityZones[0] must be an AZ id such as use1-az1 (the zone id, not the name us-east-1a); got "us-east-1a"',
      ),
    );
    expect(() => synth({ network: { availabilityZones: ['use1-az1', 'use1-az1'] } })).toThrow(
      /strata.network.availabilityZones must be a list of 2 or 3 distinct AZ ids/,
    );
    expect(() => synth({ network: { availabilityZones: ['use1-az1', 'use1-az2'], maxAzs: 3 } })).toThrow(
      'strata.network.maxAzs must equal the number of strata.network.availabilityZones (2), or be left out; got 3',
    );
  });
});
