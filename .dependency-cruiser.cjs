/**
 * The architecture rules: imports only go down. Deployed code (what runs in Lambda,
 * on the EC2 nodes, and the libraries both use) never imports the one-machine harness,
 * a benchmark, a test or an entry point. The policy engine (engine/) is the ground floor:
 * every tier imports it, it imports nothing of ours, and the others reach it only through
 * its public interface (the package `@strata/policy-engine`, engine/src/index.ts).
 * `npm run check:layers`; `npm test` runs it too (test/architecture.test.ts).
 */
const DEPLOYED = '^(engine|policies|lambdas|nodes|functions|common)/';
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
      // One exception: the loader that makes a rule's .lua file import as its text when running
      // from source (tsx); the bundles use esbuild's text loader and never run it.
      from: { path: '^engine/', pathNot: '^engine/src/rules/lua-text\\.ts$' },
      to: {
        pathNot: '^engine/',
      },
    },
    {
      name: 'engine-through-its-interface',
      comment:
        "Everything else, plugins included, uses the engine through its public interface (import from '@strata/policy-engine'), never a file inside it.",
      severity: 'error',
      from: { pathNot: '^(engine|test/engine)/' },
      to: { path: '^engine/', pathNot: '^engine/src/index\\.ts$' },
    },
    {
      name: 'plugins-use-only-the-engine',
      comment:
        "A plugin (policies/) is bundled into the layer and the nodes: it builds on the engine's interface, never on Strata's other code.",
      severity: 'error',
      from: { path: '^policies/' },
      to: { path: '^(lambdas|nodes|functions|common)/' },
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
