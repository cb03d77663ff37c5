import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsStandIns, awsEndpoints, REHEARSAL_OPERATOR } from '../../local/rehearsal/aws-stand-ins';

// The rehearsal's AWS stand-ins answer the operator's command line as AWS would: `strata
// policy` (without --local) finds the setting through DescribeStacks, keeps it in SSM,
// audits it in CloudWatch Logs, and has the dispatcher publish it with Lambda's Invoke.
const ROOT = join(__dirname, '..', '..');
const FIRST = {
  version: 1,
  policies: {
    invocation: { name: 'least-expected-delay', options: {} },
    node: { name: 'most-slots', options: {} },
    offload: { name: 'thresholds', options: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 } },
  },
  changedBy: 'cdk deploy (cdk.json)',
  changedAt: 'deploy',
};
let aws: AwsStandIns;
let endpoint: string;
const published: unknown[] = [];

beforeAll(async () => {
  aws = new AwsStandIns(join(mkdtempSync(join(tmpdir(), 'strata-aws-apis-')), 'aws'));
  aws.putParameter('PolicySettingParameter', JSON.stringify(FIRST), 'cdk deploy');
  aws.onInvoke('Dispatcher', async (payload) => {
    published.push(payload);
    return { statusCode: 200, body: '{"version":2}' };
  });
  endpoint = await aws.serveApis('127.0.0.1', (stack) =>
    stack === 'StrataDispatch'
      ? {
          PolicyParameterName: 'PolicySettingParameter',
          PolicyAuditLogGroup: 'PolicyAuditLog',
          DispatcherFunctionName: 'Dispatcher',
        }
      : undefined,
  );
});

afterAll(() => aws.close());

/** The command line in a child process (not spawnSync: the stand-ins answer from this one). */
async function strata(...args: string[]): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'cli.ts'), ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...awsEndpoints(endpoint),
      AWS_ACCESS_KEY_ID: 'AKIATEST',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'eu-west-1',
      NODE_NO_WARNINGS: '1',
    },
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk));
  const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { status, out };
}

test('policy show, set, history and rollback against the stand-ins: SSM versions, an audit line each, a publish each', async () => {
  expect((await strata('policy', 'show')).out).toContain('invocation=least-expected-delay');

  const set = await strata('policy', 'set', 'invocation', 'prequal', '--option', 'probes=4', '--reason', 'test');
  expect([set.status, set.out]).toEqual([0, expect.stringMatching(/^set: version 2 /)]);
  expect(set.out).toContain(REHEARSAL_OPERATOR);
  const rollback = await strata('policy', 'rollback');
  expect([rollback.status, rollback.out]).toEqual([0, expect.stringMatching(/^rolled back: version 3 /)]);

  expect(aws.parameterVersions('PolicySettingParameter').map((v) => v.version)).toEqual([1, 2, 3]);
  const audit = aws.logEvents('PolicyAuditLog').map((event) => JSON.parse(event.message));
  expect(audit).toEqual([
    expect.objectContaining({
      version: 2,
      changedBy: REHEARSAL_OPERATOR,
      from: expect.objectContaining({ invocation: { name: 'least-expected-delay', options: {} } }),
      to: expect.objectContaining({ invocation: { name: 'prequal', options: { probes: 4 } } }),
      reason: 'test',
    }),
    expect.objectContaining({ version: 3, to: FIRST.policies, reason: 'rollback to version 1' }),
  ]);
  expect(published).toEqual([{ strataPolicy: 'publish' }, { strataPolicy: 'publish' }]);
  expect((await strata('policy', 'history')).out.trim().split('\n')).toHaveLength(3);

  // A stack that is not deployed: the operator is told so.
  const missing = await strata('policy', 'show', '--stack', 'Nope');
  expect([missing.status, missing.out]).toEqual([1, expect.stringContaining('stack Nope is not deployed')]);
}, 60_000);
