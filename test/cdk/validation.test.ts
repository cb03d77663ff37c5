import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { defineStrata } from '../../lib/app';
import { cdkJsonContext } from '../support/cdk';

describe('synth-time validation', () => {
  test('cdk-nag is wired in: a resource that breaks an AwsSolutions rule fails synth', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] }, outdir: mkdtempSync(join(tmpdir(), 'strata-nag-')) });
    defineStrata(app);
    new Bucket(new Stack(app, 'Careless'), 'Bucket'); // no access logs, no TLS-only policy
    expect(() => app.synth()).toThrow(/AwsSolutions-S1'[\s\S]*AwsSolutions-S10'/);
  });
});
