import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadStrataConfig } from './config';
import { StrataStack } from './strata-stack';

/** Adds Strata's stacks and the cdk-nag AwsSolutions checks to an app; the CLI and the tests both use this. */
export function defineStrata(app: App): { readonly stack: StrataStack } {
  const config = loadStrataConfig(app.node.tryGetContext('strata'));
  const stack = new StrataStack(app, 'Strata', {
    config,
    description: 'Strata: multi-tier load balancing for serverless runtimes',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { stack };
}
