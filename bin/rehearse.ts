/**
 * `npm run rehearse`: the EC2 bring-up on emulated Debian 12 hosts (docs/rehearsal.md).
 * Synthesizes the app with every bundle built, boots three storage hosts and the compute
 * hosts on the user data of the templates (the AWS seam backed by files), checks Ceph and
 * the nodes, sends invocations through the dispatcher's Lambda bundle, then rehearses
 * the faults. Prints what it saw and the figures; exits 1 on the first failed check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPrerequisites } from '../local/emulated-hosts';
import { type RehearsalOptions, rehearse } from '../local/rehearsal/rehearsal';
import { synthesizeForRehearsal } from '../local/rehearsal/synth';

const USAGE = `usage: npm run rehearse [-- --keep-going] [--no-faults]
  --no-faults    stop after the bring-up and the invocations
  --keep-going   on a failed check, report it and go on with the next (exit 1 at the end)`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help')) return void process.stdout.write(`${USAGE}\n`);
  const unknown = args.filter((arg) => !['--keep-going', '--no-faults'].includes(arg));
  if (unknown.length > 0) {
    process.stderr.write(`unknown argument ${unknown[0]}\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    checkPrerequisites({ nat: true });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  const started = Date.now();
  const outdir = mkdtempSync(join(tmpdir(), 'strata-rehearsal-cdk-'));
  try {
    process.stdout.write('synthesizing the app with every bundle built (as `cdk deploy` would upload it)\n');
    synthesizeForRehearsal(outdir);
    const options: RehearsalOptions = {
      assembly: outdir,
      faults: !args.includes('--no-faults'),
      keepGoing: args.includes('--keep-going'),
    };
    const ok = await rehearse(options);
    process.stdout.write(`rehearsal ${ok ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s\n`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
