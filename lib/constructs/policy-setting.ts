import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import { ParameterTier, StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { PolicyChoice } from '../../common/live-policy';
import { strataLogGroup } from './log-key';

export interface PolicySettingStoreProps {
  /** The first policy of each tier, from cdk.json: the setting's first version. */
  readonly first: Readonly<Record<'invocation' | 'node' | 'offload', PolicyChoice>>;
}

/**
 * Where `strata policy set` keeps which policy each tier runs: an SSM parameter (SSM
 * keeps its versions: the history, and what a rollback goes back to) and a log group
 * for the audit trail (who, when, from, to). The deploy writes the first version from
 * cdk.json; a later deploy writes it again only when cdk.json's policies change. The
 * dispatcher copies it into Redis, where every dispatcher and node reads it.
 */
export class PolicySettingStore extends Construct {
  readonly parameter: StringParameter;
  readonly auditLog: LogGroup;

  constructor(scope: Construct, id: string, props: PolicySettingStoreProps) {
    super(scope, id);
    this.parameter = new StringParameter(this, 'Parameter', {
      description: "Strata: each tier's policy and options (npm run strata -- policy set); versions are its history",
      tier: ParameterTier.STANDARD,
      stringValue: JSON.stringify({
        version: 1,
        policies: props.first,
        changedBy: 'cdk deploy (cdk.json)',
        changedAt: 'deploy',
      }),
    });
    this.auditLog = strataLogGroup(this, 'AuditLog');
  }

  /** Lets the dispatcher read the setting, to fill Redis when the key is missing and to publish a change. */
  grantRead(grantee: IGrantable): void {
    this.parameter.grantRead(grantee);
  }
}
