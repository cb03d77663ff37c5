#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { defineStrata } from '../lib/app';
import { StrataConfigError } from '../lib/config';

const USAGE = `bin/strata.ts is the CDK app: run it through the CDK CLI, which reads cdk.json.

  npx cdk synth                  synthesize every stack into cdk.out (offline)
  npx cdk deploy --all           deploy the six stacks (docs/aws.md)
  npx cdk diff                   what a deploy would change
  npx cdk destroy --all          remove them

Settings: the "strata" object in cdk.json, or npx cdk deploy --all -c strata='{"compute":{"minNodes":4}}'.`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}

try {
  defineStrata(new App());
} catch (error) {
  if (!(error instanceof StrataConfigError)) throw error;
  console.error(`Invalid Strata config: ${error.message}`);
  process.exit(1);
}
