#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { defineStrata } from '../lib/app';
import { StrataConfigError } from '../lib/config';

try {
  defineStrata(new App());
} catch (error) {
  if (!(error instanceof StrataConfigError)) throw error;
  console.error(`Invalid Strata config: ${error.message}`);
  process.exit(1);
}
