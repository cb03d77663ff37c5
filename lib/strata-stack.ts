import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StrataConfig } from './config';
import { PolicyLayer } from './policy-layer';

export interface StrataStackProps extends StackProps {
  readonly config: StrataConfig;
}

/** Strata on AWS. For now the shared policy layer; the runtime tiers join it as they land. */
export class StrataStack extends Stack {
  readonly policyLayer: PolicyLayer;

  constructor(scope: Construct, id: string, props: StrataStackProps) {
    super(scope, id, props);
    this.policyLayer = new PolicyLayer(this, 'PolicyLayer');
    new CfnOutput(this, 'PolicyLayerArn', { value: this.policyLayer.layer.layerVersionArn });
    new CfnOutput(this, 'Policies', {
      description: 'The policy chosen for each tier',
      value: `${props.config.invocationStrategy} / ${props.config.nodePolicy} / ${props.config.offloadPolicy}`,
    });
  }
}
