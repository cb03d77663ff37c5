/** The app as the rehearsal (and the locality benchmark on its fleet) synthesizes it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { defineStrata } from '../../lib/app';

/**
 * Synthesizes the app into `outdir` with cdk.json's context and every bundle built (as
 * `cdk deploy` would upload it). The hosts share this machine's kernel: a storage host
 * reads the whole machine's load average, which says nothing of its own room and stays
 * over AutoNDP's 0.8 per core while five hosts boot Ceph on two cores. The thresholds are
 * the operator's setting; this sets them so that data stages do run next to the data
 * (CPU still under 1).
 */
export function synthesizeForRehearsal(outdir: string): void {
  const context = (
    JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
      context: { strata: Record<string, unknown> } & Record<string, unknown>;
    }
  ).context;
  context.strata = { ...context.strata, offloadThresholds: { cpu: 1, memory: 1, loadPerCore: 100 } };
  const app = new App({ context, outdir });
  defineStrata(app);
  app.synth();
}
