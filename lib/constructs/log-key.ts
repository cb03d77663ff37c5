import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { denyGrantsExceptForAwsServices } from './kms';

/**
 * The customer-managed KMS key a stack's log groups are encrypted with (Control Tower
 * CT.CLOUDWATCH.PR.3), one per stack so that each log group names a key of its own
 * template: CloudWatch Logs may use it for this account's log groups in this region,
 * nobody else. Writers and readers of the logs need no KMS permission of their own;
 * CloudWatch Logs encrypts and decrypts for them.
 */
export class LogKey extends Construct {
  /** The stack's log key, made the first time a log group of the stack asks for it. */
  static of(scope: Construct): LogKey {
    const stack = Stack.of(scope);
    return (stack.node.tryFindChild('LogKey') as LogKey | undefined) ?? new LogKey(stack, 'LogKey');
  }

  readonly key: Key;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const { partition, region, account, stackName } = Stack.of(this);
    this.key = new Key(this, 'Key', {
      description: `Strata log groups of ${stackName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` },
        },
      }),
    );
    denyGrantsExceptForAwsServices(this.key);
  }
}

/**
 * A Strata log group: encrypted with its stack's log key and kept for a year (Control
 * Tower CT.CLOUDWATCH.PR.2 and PR.3); `cdk destroy` removes it with its stack.
 */
export function strataLogGroup(scope: Construct, id: string): LogGroup {
  return new LogGroup(scope, id, {
    encryptionKey: LogKey.of(scope).key,
    retention: RetentionDays.ONE_YEAR,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}
