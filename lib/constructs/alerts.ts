import { Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { denyGrantsExceptForAwsServices } from './kms';

export interface AlertsProps {
  /** Gets every alarm and scaling event by email. @default no subscription */
  readonly email?: string;
}

/**
 * The SNS topic that every alarm and Auto Scaling event goes to: encrypted with its own
 * KMS key (CloudWatch and Auto Scaling may use it), and TLS-only.
 */
export class Alerts extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: AlertsProps = {}) {
    super(scope, id);
    const key = new Key(this, 'Key', { description: 'Strata alert topic', enableKeyRotation: true });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    // Auto Scaling publishes as its service-linked role. Named by condition, not as the
    // principal, because the role may not exist yet when the key is created.
    const { partition, account } = Stack.of(this);
    key.addToResourcePolicy(new PolicyStatement({
      principals: [new AccountRootPrincipal()],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { ArnEquals: { 'aws:PrincipalArn': `arn:${partition}:iam::${account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling` } },
    }));
    denyGrantsExceptForAwsServices(key);
    this.topic = new Topic(this, 'Topic', { displayName: 'Strata alerts', masterKey: key, enforceSSL: true });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
  }
}
