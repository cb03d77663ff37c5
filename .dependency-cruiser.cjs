/**
 * The architecture rules: imports only go down. Deployed code (what runs in Lambda,
 * on the EC2 nodes, and the libraries both use) never imports the one-machine harness,
 * a benchmark, a test or an entry point; the policy engine imports nothing of ours.
 * `npm run check:layers`; `npm test` runs it too (test/architecture.test.ts).
 */
const DEPLOYED = '^(lambdas|nodes|functions|common)/';
const NOT_DEPLOYED = '^(bin|lib|local|bench|operator|test)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'deployed-imports-only-deployed',
      comment:
        'Code that runs in Lambda or on a node must not pull in the CDK app, the local harness, benchmarks, tests, the operator CLI or entry points.',
      severity: 'error',
      from: { path: DEPLOYED },
      to: { path: NOT_DEPLOYED },
    },
    {
      name: 'policy-engine-is-pure',
      comment:
        'The policy engine (the shared layer) is pure functions: nothing of ours outside it, no Node.js I/O modules, no packages.',
      severity: 'error',
      from: { path: '^lambdas/policy-engine/' },
      to: {
        pathNot: '^lambdas/policy-engine/',
      },
    },
    {
      name: 'common-below-its-users',
      comment: 'The shared libraries sit below the dispatcher, the nodes and the functions.',
      severity: 'error',
      from: { path: '^common/' },
      to: { path: '^(lambdas/dispatcher|nodes|functions)/' },
    },
    {
      name: 'functions-stand-alone',
      comment: "Functions are the user's extension point: they import only the policy engine and the shared libraries.",
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: '^(lambdas/dispatcher|nodes)/' },
    },
    {
      name: 'tiers-apart',
      comment: 'The dispatcher (Lambda) and the nodes (EC2) share code only through common/ and the policy engine.',
      severity: 'error',
      from: { path: '^lambdas/dispatcher/' },
      to: { path: '^nodes/' },
    },
    {
      name: 'lambdas-hold-no-function-code',
      comment:
        'The dispatcher and the functions API find every function, built-ins too, through the registry (common/functions): no function code in their bundles (docs/functions.md).',
      severity: 'error',
      from: { path: '^lambdas/' },
      to: { path: '^functions/' },
    },
    {
      name: 'nodes-not-into-dispatcher',
      severity: 'error',
      from: { path: '^nodes/' },
      to: { path: '^lambdas/dispatcher/' },
    },
    {
      name: 'harness-below-benchmarks',
      comment:
        'The local harness is used by benchmarks and tests, never the other way round; nothing but tests imports tests.',
      severity: 'error',
      from: { path: '^(bin|lib|local|bench|operator)/' },
      to: { path: '^test/' },
    },
    {
      name: 'nothing-imports-entry-points',
      comment: 'bin/ holds entry points only: nothing imports them.',
      severity: 'error',
      from: { pathNot: '^bin/' },
      to: { path: '^bin/' },
    },
    {
      name: 'local-not-into-bench',
      severity: 'error',
      from: { path: '^local/' },
      to: { path: '^bench/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|cdk\\.out)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
