import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

test('`cdk synth` (what `npm run synth` runs) synthesizes every stack with no network, no credentials and no AWS config, and no warning', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'strata-cdk-'));
  // A fresh network namespace has only a loopback that is down: any attempt to reach
  // AWS, npm or the CDK's notice service fails instead of passing unseen.
  const isolated = spawnSync('unshare', ['--net', 'true']).status === 0;
  // CDK CLI 2.1148's synth takes no --all (it warns "Unknown option(s)"): with no stack named it synthesizes them all.
  const command = ['npx', 'cdk', 'synth', '--quiet', '-o', outdir];
  const result = spawnSync(isolated ? 'unshare' : command[0], isolated ? ['--net', ...command] : command.slice(1), {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: mkdtempSync(join(tmpdir(), 'strata-home-')),
      CDK_DISABLE_VERSION_CHECK: '1',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(isolated).toBe(true);
  expect(result.stderr).toContain('Successfully synthesized');
  expect(result.stderr).not.toMatch(/unknown option|warn/i);
  expect(result.status).toBe(0);
  const templates = readdirSync(outdir)
    .filter((name) => name.endsWith('.template.json'))
    .sort();
  expect(templates).toEqual(
    ['StrataCompute', 'StrataDispatch', 'StrataNetwork', 'StrataObservability', 'StrataState', 'StrataStorage'].map(
      (stack) => `${stack}.template.json`,
    ),
  );
}, 120_000);
