import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Stack } from 'aws-cdk-lib';
import { defineStrata } from '../../lib/app';
import { cdkJsonContext } from '../support/cdk';

// Template properties a first `cdk deploy --all` depends on, and that only a real account
// would otherwise show (docs/rehearsal.md): who may publish to the alert topic, what
// `cdk destroy` leaves, how the storage nodes survive a lost AZ, a deploy and a replacement.
// One synth of the app as cdk.json configures it, without bundling.
function synth(strata?: unknown) {
  const context = { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...(strata ? { strata } : {}) };
  const app = new App({ context, outdir: mkdtempSync(join(tmpdir(), 'strata-first-deploy-')) });
  const stacks = defineStrata(app);
  const assembly = app.synth();
  const templateOf = (stack: Stack) => Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
  return { stacks, assembly, templateOf };
}
const { stacks, templateOf } = synth();
const network = templateOf(stacks.network);
const dispatch = templateOf(stacks.dispatch);

type Statement = { Effect: string; Principal?: unknown; Action: string | string[]; Condition?: Record<string, Record<string, unknown>> };
const statementsOf = (template: Template, type: string, property: string): Statement[] =>
  Object.values(template.findResources(type)).flatMap((resource) => (resource.Properties[property] as { Statement: Statement[] }).Statement);
const actions = (statement: Statement) => [statement.Action].flat();
const AUTO_SCALING_ROLE = /:role\/aws-service-role\/autoscaling\.amazonaws\.com\/AWSServiceRoleForAutoScaling/;

describe('the alert topic takes what CloudWatch alarms and Auto Scaling send it', () => {
  const topicPolicy = statementsOf(network, 'AWS::SNS::TopicPolicy', 'PolicyDocument');
  const keyPolicy = statementsOf(network, 'AWS::KMS::Key', 'KeyPolicy');

  test('the topic policy lets CloudWatch alarms of this account publish (enforceSSL alone leaves only a Deny)', () => {
    expect(topicPolicy).toContainEqual(expect.objectContaining({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': expect.anything() } }),
    }));
  });

  test("the topic policy lets Auto Scaling's service-linked role publish", () => {
    const autoScaling = topicPolicy.filter((statement) => statement.Effect === 'Allow' && JSON.stringify(statement.Condition ?? {}).match(AUTO_SCALING_ROLE));
    expect(autoScaling.map(actions)).toEqual([['sns:Publish']]);
  });

  test('the key lets CloudWatch encrypt for the topic', () => {
    expect(keyPolicy).toContainEqual(expect.objectContaining({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    }));
  });

  test("the key lets Auto Scaling's service-linked role use it directly, not through IAM (its policy cannot be changed)", () => {
    const autoScaling = keyPolicy.filter((statement) => statement.Effect === 'Allow' && JSON.stringify(statement.Condition ?? {}).match(AUTO_SCALING_ROLE));
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
