import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { defineStrata } from '../../lib/app';
import { cdkJsonContext, userDataText } from '../support/cdk';

// Template properties a first `cdk deploy --all` depends on, and that only a real account
// would otherwise show (docs/rehearsal.md): who may publish to the alert topic, what
// `cdk destroy` leaves, how the storage nodes survive a lost AZ, a deploy and a replacement.
// One synth of the app as cdk.json configures it, without bundling.
function synth(strata?: unknown) {
  const context = { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...(strata ? { strata } : {}) };
  const app = new App({ context, outdir: mkdtempSync(join(tmpdir(), 'strata-first-deploy-')) });
  const stacks = defineStrata(app);
  const assembly = app.synth();
  const templateOf = (stack: Stack) =>
    Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
  return { stacks, assembly, templateOf };
}
const { stacks, templateOf } = synth();
const network = templateOf(stacks.network);
const dispatch = templateOf(stacks.dispatch);

type Statement = {
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
};
const statementsOf = (template: Template, type: string, property: string): Statement[] =>
  Object.values(template.findResources(type)).flatMap(
    (resource) => (resource.Properties[property] as { Statement: Statement[] }).Statement,
  );
const actions = (statement: Statement) => [statement.Action].flat();
const AUTO_SCALING_ROLE = /:role\/aws-service-role\/autoscaling\.amazonaws\.com\/AWSServiceRoleForAutoScaling/;

describe('the alert topic takes what CloudWatch alarms and Auto Scaling send it', () => {
  const topicPolicy = statementsOf(network, 'AWS::SNS::TopicPolicy', 'PolicyDocument');
  const keyPolicy = statementsOf(network, 'AWS::KMS::Key', 'KeyPolicy');

  test('the topic policy lets CloudWatch alarms of this account publish (enforceSSL alone leaves only a Deny)', () => {
    expect(topicPolicy).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': expect.anything() } }),
      }),
    );
  });

  test("the topic policy lets Auto Scaling's service-linked role publish", () => {
    const autoScaling = topicPolicy.filter(
      (statement) => statement.Effect === 'Allow' && JSON.stringify(statement.Condition ?? {}).match(AUTO_SCALING_ROLE),
    );
    expect(autoScaling.map(actions)).toEqual([['sns:Publish']]);
  });

  test('the key lets CloudWatch encrypt for the topic', () => {
    expect(keyPolicy).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
  });

  test("the key lets Auto Scaling's service-linked role use it directly, not through IAM (its policy cannot be changed)", () => {
    const autoScaling = keyPolicy.filter(
      (statement) => statement.Effect === 'Allow' && JSON.stringify(statement.Condition ?? {}).match(AUTO_SCALING_ROLE),
    );
    expect(autoScaling).toHaveLength(1);
    // A statement for the account's root only delegates to IAM policies; the role's AWS-managed policy grants no KMS use.
    expect(autoScaling[0].Principal).toEqual({ AWS: '*' });
    expect(actions(autoScaling[0]).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
  });
});

describe('cdk destroy leaves what the account shares', () => {
  test("API Gateway's account-wide CloudWatch role and its account setting are retained", () => {
    const account = Object.values(dispatch.findResources('AWS::ApiGateway::Account'));
    expect(account).toHaveLength(1);
    expect(account[0].DeletionPolicy).toBe('Retain');
    const roleId = (account[0].Properties.CloudWatchRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    expect(dispatch.toJSON().Resources[roleId].DeletionPolicy).toBe('Retain');
  });
});

const setting = (text: string, key: string) => new RegExp(`^${key}='([^']*)'$`, 'm').exec(text)?.[1];

describe('the storage nodes survive a lost AZ, a deploy and a replacement', () => {
  const storage = templateOf(stacks.storage);
  const compute = templateOf(stacks.compute);
  const groups = Object.entries(storage.findResources('AWS::AutoScaling::AutoScalingGroup'));
  const userDataOf = (group: (typeof groups)[number][1]) => {
    const templateId = (
      group.Properties.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification as {
        LaunchTemplateId: { Ref: string };
      }
    ).LaunchTemplateId.Ref;
    return userDataText(storage.toJSON().Resources[templateId].Properties.LaunchTemplateData.UserData);
  };

  test('three AZs by default, a storage node in each: Ceph places one copy of each PG per AZ', () => {
    const azs = Object.values(network.findResources('AWS::EC2::Subnet')).map((subnet) =>
      JSON.stringify(subnet.Properties.AvailabilityZone),
    );
    expect(new Set(azs).size).toBe(3);
    expect(groups).toHaveLength(3);
    const subnets = groups.map(([, group]) => JSON.stringify(group.Properties.VPCZoneIdentifier));
    expect(new Set(subnets).size).toBe(3);
    for (const [, group] of groups) {
      expect(group.Properties.VPCZoneIdentifier).toHaveLength(1);
      expect(setting(userDataOf(group), 'STRATA_CEPH_FAILURE_DOMAIN')).toBe('zone');
    }
  });

  test('with two AZs the synth warns what the operator gives up', () => {
    const twoAzs = synth({ ...(cdkJsonContext().strata as object), network: { maxAzs: 2, natGateways: 1 } });
    const warnings = twoAzs.assembly
      .getStackByName(twoAzs.stacks.storage.stackName)
      .messages.filter((message) => message.level === 'warning')
      .map((message) => String(message.entry.data));
    expect(warnings).toContainEqual(
      expect.stringMatching(/^Storage spans 2 AZs: losing the AZ with two of the three monitors stops Ceph/),
    );
  });

  test('no storage node is an instance a deploy can replace: each is a group of exactly one, with no rolling or replacing update', () => {
    expect(storage.findResources('AWS::EC2::Instance')).toEqual({});
    for (const [, group] of groups) {
      expect(group.Properties).toMatchObject({ MinSize: '1', MaxSize: '1' });
      expect(Object.keys(group.UpdatePolicy ?? {})).not.toContain('AutoScalingRollingUpdate');
      expect(Object.keys(group.UpdatePolicy ?? {})).not.toContain('AutoScalingReplacingUpdate');
    }
  });

  test('OSD data lives on encrypted volumes of their own, in the node’s AZ, that a replacement instance attaches again', () => {
    const volumes = storage.findResources('AWS::EC2::Volume');
    expect(Object.values(volumes).map((volume) => volume.Properties)).toEqual(
      Array(3).fill(expect.objectContaining({ Encrypted: true, Size: 100, VolumeType: 'gp3' })),
    );
    for (const [, group] of groups) {
      const ids = setting(userDataOf(group), 'STRATA_OSD_VOLUMES')!;
      expect(ids).toMatch(/^<\{"Ref":"CephNode\dOsd0[0-9A-F]+"\}>$/);
      const volume = volumes[JSON.parse(ids.slice(1, -1)).Ref as string];
      expect(JSON.stringify(volume.Properties.AvailabilityZone)).toBeDefined();
    }
    for (const template of Object.values(storage.findResources('AWS::EC2::LaunchTemplate'))) {
      expect(template.Properties.LaunchTemplateData.BlockDeviceMappings).toEqual([
        { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 30, VolumeType: 'gp3' } },
      ]);
    }
  });

  test('every node’s mon_host names all three monitors at their fixed addresses', () => {
    const monitors = groups.map(([, group]) => setting(userDataOf(group), 'STRATA_CEPH_MONS'));
    expect(new Set(monitors).size).toBe(1);
    const pairs = monitors[0]!.split(' ');
    expect(pairs).toHaveLength(3);
    for (const [index, [, group]] of groups.entries()) {
      expect(pairs[index]).toBe(`storage-${index}=${setting(userDataOf(group), 'STRATA_CEPH_ADDRESS')}`);
    }
    expect(pairs.map((pair) => pair.split('=')[1])).toEqual(['10.40.16.10', '10.40.32.10', '10.40.48.10']);
  });

  test('the storage stack completes only when every node has signalled (Ceph HEALTH_OK), and nodes may signal only their stack', () => {
    for (const [id, group] of groups) {
      expect(group.CreationPolicy).toEqual({ ResourceSignal: { Count: 1, Timeout: 'PT45M' } });
      expect(setting(userDataOf(group), 'STRATA_SIGNAL_RESOURCE')).toBe(id);
    }
    const statements = Object.values(storage.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as Statement[],
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'cloudformation:SignalResource', Resource: { Ref: 'AWS::StackId' } }),
    );
  });

  test('the compute stack completes only when its first nodes have registered in the state store and signalled', () => {
    const [[id, group]] = Object.entries(compute.findResources('AWS::AutoScaling::AutoScalingGroup'));
    expect(group.CreationPolicy).toEqual({ ResourceSignal: { Count: 2, Timeout: 'PT30M' } });
    const templateId = (
      group.Properties.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification as {
        LaunchTemplateId: { Ref: string };
      }
    ).LaunchTemplateId.Ref;
    expect(
      setting(
        userDataText(compute.toJSON().Resources[templateId].Properties.LaunchTemplateData.UserData),
        'STRATA_SIGNAL_RESOURCE',
      ),
    ).toBe(id);
  });
});
