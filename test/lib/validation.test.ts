import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { defineStrata } from '../../lib/app';
import { cdkJsonContext } from '../support/cdk';

describe('synth-time validation', () => {
  test('cdk-nag is wired in: a resource that breaks an AwsSolutions rule fails synth', () => {
    const app = new App({
      context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
      outdir: mkdtempSync(join(tmpdir(), 'strata-nag-')),
    });
    defineStrata(app);
    new Bucket(new Stack(app, 'Careless'), 'Bucket'); // no access logs, no TLS-only policy
    expect(() => app.synth()).toThrow(/AwsSolutions-S1'[\s\S]*AwsSolutions-S10'/);
  });
});

describe('bin/strata.ts', () => {
  test('a bad policy name stops the app with a message naming the key and the valid names', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'bin', 'strata.ts')], {
      env: {
        ...process.env,
        CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'strata-bad-')),
        CDK_CONTEXT_JSON: JSON.stringify({ strata: { nodePolicy: 'random' } }),
      },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'Invalid Strata config: strata.nodePolicy must be one of most-slots, least-load, power-of-two, least-expected-delay, single-entry; got "random"',
    );
  });
});
