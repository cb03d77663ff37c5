import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { invocationStrategies, nodePolicies, offloadPolicies } from '@strata/policy-engine';
import { defineStrata } from '../../lib/app';
import { cdkJsonContext } from '../support/cdk';

// One synth for the file, with real esbuild bundling of the layer, cdk-nag and the
// CloudFormation validator: app.synth() throws if either reports a finding.
const outdir = mkdtempSync(join(tmpdir(), 'strata-synth-'));
const app = new App({ context: cdkJsonContext(), outdir });
const { stack } = defineStrata(app);
const assembly = app.synth();
const template = Template.fromStack(stack);

describe('StrataStack', () => {
  test('synthesizes with no cdk-nag or CloudFormation validation finding', () => {
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
  });

  test('ships the policy engine as a layer for current Node.js runtimes on both architectures', () => {
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs22.x', 'nodejs24.x'],
      CompatibleArchitectures: ['arm64', 'x86_64'],
    });
    template.hasOutput('Policies', { Value: 'round-robin / most-slots / thresholds' });
  });

  test('the bundled layer loads in a fresh Node process from the Lambda layer path and exports every registered policy', () => {
    const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    const nodeModules = assets.map((name) => join(assembly.directory, name, 'nodejs', 'node_modules')).find((dir) => existsSync(dir));
    expect(nodeModules).toBeDefined();
    const script = `
      const engine = require('@strata/policy-engine');
      const ctx = { now: Date.now(), random: Math.random, heartbeatTtlMs: 3000 };
      const node = { id: 'n1', address: 'a', role: 'compute', slotsTotal: 1, slotsUsed: 0, inFlight: 0, cpuBusy: 0, memoryUsed: 0, load1: 0, load5: 0, load15: 0, cores: 1, heartbeatAt: Date.now(), draining: false };
      console.log(JSON.stringify({
        invocation: Object.keys(engine.invocationStrategies),
        node: Object.keys(engine.nodePolicies),
        offload: Object.keys(engine.offloadPolicies),
        decision: engine.invocationStrategy('round-robin')([node], { functionName: 'f', hops: 0 }, ctx).candidates[0].id,
      }));`;
    const output = execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, NODE_PATH: nodeModules! }, cwd: tmpdir() });
    expect(JSON.parse(output.toString())).toEqual({
      invocation: Object.keys(invocationStrategies),
      node: Object.keys(nodePolicies),
      offload: Object.keys(offloadPolicies),
      decision: 'n1',
    });
  });
});

describe('bin/strata.ts', () => {
  test('a bad policy name stops the app with a message naming the key and the valid names', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'bin', 'strata.ts')], {
      env: { ...process.env, CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'strata-bad-')), CDK_CONTEXT_JSON: JSON.stringify({ strata: { nodePolicy: 'random' } }) },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid Strata config: strata.nodePolicy must be one of most-slots, least-load, power-of-two; got "random"');
  });
});
