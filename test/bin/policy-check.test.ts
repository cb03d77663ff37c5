import { spawn } from 'node:child_process';
import { join } from 'node:path';

// `npm run policy:check` end to end on a tier-1 plugin: conformance, the simulator beside
// the built-ins it is compared with, the decision benchmark on its own redis-server.
const ROOT = join(__dirname, '..', '..');

async function policyCheck(...args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'policy-check.ts'), ...args], {
    cwd: ROOT,
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out };
}

test('the example plugin: every check in one table, exit 0', async () => {
  const { code, out } = await policyCheck('policies/least-memory.ts', '--quick', '--runs', '50');
  expect([code, out]).toEqual([0, expect.stringContaining('| conformance: never picks an ineligible node ')]);
  const checks = out
    .split('\n')
    .filter((line) => /^\| (conformance|simulator|decisions):/.test(line))
    .map((line) => line.split('|')[1].trim());
  expect(checks).toEqual([
    'conformance: never picks an ineligible node',
    'conformance: finds room whenever there is some',
    'conformance: never changes its input',
    'conformance: same answer for the same random source',
    'simulator: oracle',
    'simulator: least-memory',
    'simulator: least-expected-delay',
    'simulator: round-robin',
    'decisions: 10 nodes, 16 dispatchers',
    'decisions: 1000 nodes, 16 dispatchers',
  ]);
}, 120_000);

test('a plugin that fails conformance: exit 1, the property named', async () => {
  const { code, out } = await policyCheck('test/support/plugins/picks-the-dead.ts', '--quick', '--runs', '50');
  expect(code).toBe(1);
  expect(out).toMatch(/conformance: never picks an ineligible node\s+\| fail/);
}, 120_000);
