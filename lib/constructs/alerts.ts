import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AnyPrincipal, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { denyGrantsExceptForAwsServices } from './kms';
import { PropError } from './validate';

export interface AlertsProps {
  /** Gets every alarm and scaling event by email. @default no subscription */
  readonly email?: string;
}

/**
 * The SNS topic that every alarm and Auto Scaling event goes to: encrypted with its own
 * KMS key, TLS-only, and open to exactly its two publishers. A topic policy replaces
 * SNS's default one (which lets the account's services publish), so it names them:
 * CloudWatch alarms of this account, and Auto Scaling's service-linked role. Both also
 * need the key: CloudWatch as a service principal; the role directly in the key policy,
 * since its AWS-managed IAM policy grants no KMS use. The role is named by condition
 * (`aws:PrincipalArn`) rather than as the principal, because it may not exist yet when
 * the key and the topic are made (it appears with the account's first Auto Scaling
 * group), and a policy that names a missing role is refused.
 */
export class Alerts extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: AlertsProps = {}) {
    super(scope, id);
    if (props.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.email))
      throw new PropError(this, 'email', 'an email address', props.email);
    const { partition, account, region } = Stack.of(this);
    const autoScalingRole = `arn:${partition}:iam::${account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;
    const byAutoScaling = {
      ArnEquals: { 'aws:PrincipalArn': autoScalingRole },
      StringEquals: { 'aws:PrincipalAccount': account },
    };
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const useKey = ['kms:Decrypt', 'kms:GenerateDataKey*'];

    // Deleted with the stack (after KMS's waiting period, in which a mistake can be undone), not left costing a dollar a month.
    const key = new Key(this, 'Key', {
      description: 'Strata alert topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new PolicyStatement({ sid: 'CloudWatchAlarms', principals: [cloudWatch], actions: useKey, resources: ['*'] }),
    );
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AutoScalingNotifications',
        principals: [new AnyPrincipal()],
        actions: useKey,
        resources: ['*'],
        conditions: byAutoScaling,
      }),
    );
    denyGrantsExceptForAwsServices(key);

    this.topic = new Topic(this, 'Topic', { displayName: 'Strata alerts', masterKey: key, enforceSSL: true });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarms',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      }),
    );
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AutoScalingNotifications',
        principals: [new AnyPrincipal()],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: byAutoScaling,
      }),
    );
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
  }
}
