/**
 * Three projects, so that the fast half runs on its own (`npm run test:unit`) with
 * nothing but `npm ci`; `npm test` runs all three.
 * - unit: pure code and loopback HTTP inside the test process. No redis-server, Ceph,
 *   Chromium, root or shellcheck, no child process but Node's; seconds.
 * - synth: the CDK app and its constructs, synthesized (npm ci is enough, but each
 *   synth takes seconds).
 * - system: real components: redis-server, Ceph, Chromium, emulated hosts (root),
 *   shellcheck, clusters of node processes.
 * A new test file is a system test until it is listed under unit or synth.
 */
const UNIT = [
  '/test/architecture\\.test\\.ts$',
  '/test/bench/(simulate|drivers|tier3-inputs|warm-up)\\.test\\.ts$',
  '/test/nodes/locality\\.test\\.ts$',
  '/test/common/http/(json|forward-and-retry)\\.test\\.ts$', // forward.test.ts starts python3 (a listener that never accepts)
  '/test/common/functions/package\\.test\\.ts$',
  '/test/common/object-store\\.test\\.ts$',
  '/test/common/settings/',
  '/test/common/state/(http|memory)-store\\.test\\.ts$',
  '/test/functions/',
  '/test/lambdas/dispatcher/(dispatcher|last-known-fleet|secret)\\.test\\.ts$',
  '/test/lambdas/functions-api\\.test\\.ts$',
  '/test/engine/',
  '/test/common/policy-faults\\.test\\.ts$',
  '/test/local/dashboard-store\\.test\\.ts$',
  '/test/nodes/metrics-agent/',
];
const SYNTH = ['/test/lib/(?!bundles|cdk-cli)', '/test/common/metrics/dashboard\\.test\\.ts$'];

/** The test files whose path matches one of the patterns. */
function testFilesUnder(patterns) {
  return `^(?=.*\\.test\\.ts$).*(?:${patterns.join('|')})`;
}

const shared = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.lua$': '<rootDir>/test/support/text-transform.js',
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testRegex: testFilesUnder(UNIT) },
    { ...shared, displayName: 'synth', testRegex: testFilesUnder(SYNTH) },
    {
      ...shared,
      displayName: 'system',
      testRegex: '\\.test\\.ts$',
      testPathIgnorePatterns: ['/node_modules/', ...UNIT, ...SYNTH],
    },
  ],
  // Synthesizing CDK stacks and booting servers take seconds, not milliseconds.
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
