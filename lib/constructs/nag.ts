import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { exceptControl } from '../control-tower';

/**
 * Acknowledges one cdk-nag AwsSolutions finding on a construct (and what it contains),
 * with the reason it is acceptable here. `rule` is the id after "AwsSolutions-", with
 * the finding's detail in brackets where cdk-nag gives one.
 */
export function acknowledgeNag(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${rule}`, reason });
}

/**
 * What every Strata Lambda function in the VPC is excepted from, with why: the AWS-managed
 * execution roles (logs, network interfaces), X-Ray's resource-less actions, and Control
 * Tower's VPC rule, which cannot read the network stack's cross-stack references.
 */
export function acknowledgeVpcLambda(fn: IConstruct, checkedBy: string): void {
  exceptControl(
    fn,
    'CT.LAMBDA.PR.3',
    `It runs in the VPC's private subnets with its own security group; both come from the network stack as cross-stack references, which the rule cannot resolve statically (${checkedBy} checks its VpcConfig)`,
  );
  acknowledgeNag(
    fn,
    'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    'AWS-maintained: writing to its own log group only',
  );
  acknowledgeNag(
    fn,
    'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
    'AWS-maintained: the network interfaces a function in a VPC needs',
  );
  acknowledgeNag(
    fn,
    'IAM5[Resource::*]',
    'X-Ray PutTraceSegments and PutTelemetryRecords take no resource: AWS requires *',
  );
}
