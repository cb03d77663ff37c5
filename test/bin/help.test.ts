import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runScript } from '../support/processes';

const ROOT = join(__dirname, '..', '..');
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

// Every command a reader may run answers --help: what it does or how to call it, on
// stdout, exit 0, and nothing on stderr (no warning either).
describe('--help', () => {
  test.each([
    ['bin/start.ts', [], /^usage: npm start -- /],
    ['bin/bench.ts', [], /^usage: npm run bench -- /],
    ['bin/bench-decisions.ts', [], /^usage: npm run bench:decisions -- /],
    ['bin/bench-fleet.ts', [], /^usage: npm run bench:fleet -- /],
    ['bin/bench-ceph.ts', [], /^usage: npm run bench:ceph -- /],
    ['bin/bench-cold-start.ts', [], /^usage: npm run bench:cold-start -- /],
    ['bin/bench-functions.ts', [], /^usage: npm run bench:functions -- /],
    ['bin/bench-locality.ts', [], /^usage: npm run bench:locality -- /],
    ['bin/rehearse.ts', [], /^usage: npm run rehearse /],
    ['bin/simulate.ts', [], /^usage: npm run simulate -- /],
    ['bin/simulate-tier3.ts', [], /^usage: npm run simulate:tier3 -- /],
    ['bin/simulate-mixtures.ts', [], /^usage: npm run simulate:mixtures -- /],
    ['bin/policy-check.ts', [], /^usage: npm run policy:check -- PATH/],
    ['bin/functions-build.ts', [], /^usage: npm run functions:build -- /],
    ['bin/cli.ts', [], /^usage: npm run strata -- <command>/],
    ['bin/cli.ts', ['invoke'], /^usage: npm run strata -- invoke FUNCTION/],
    ['bin/cli.ts', ['status'], /^usage: npm run strata -- status/],
    ['bin/cli.ts', ['policy'], /^usage: npm run strata -- policy <subcommand>/],
    ['bin/cli.ts', ['local'], /^usage: npm start -- /],
    ['bin/strata.ts', [], /^bin\/strata.ts is the CDK app: run it through the CDK CLI/],
    ['nodes/compute/main.ts', [], /^usage: nodes\/compute\/main.ts --id ID/],
    ['nodes/storage/main.ts', [], /^usage: nodes\/storage\/main.ts --id ID/],
  ])('%s %s', async (script, args, usage) => {
    const result = await runScript(script, [...args, '--help'], env);
    expect([result.status, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(usage);
  });

  test('local/ceph-one-host.sh', () => {
    const result = spawnSync('bash', [join(ROOT, 'local', 'ceph-one-host.sh'), '--help'], { encoding: 'utf8' });
    expect([result.status, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(/^Usage: ceph-one-host.sh start DIR/m);
  });

  test('a flag a command does not know: exit 2, the flag named, then the usage', async () => {
    const result = await runScript('bin/bench-decisions.ts', ['--fast'], env);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^Unknown option '--fast'[\s\S]*usage: npm run bench:decisions -- /);
  });

  test('a value a node does not accept: exit 2, the flag and its values named', async () => {
    const result = await runScript(
      'nodes/storage/main.ts',
      ['--id', 's1', '--objects', '/tmp', '--state', 'redis://127.0.0.1:1', '--measure', 'cgroup'],
      env,
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--measure must be one of host, process; got "cgroup"/);
  });
});
