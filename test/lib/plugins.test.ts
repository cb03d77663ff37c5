import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invocationStrategy, policyNames } from '@strata/policy-engine';
import { loadStrataConfig, StrataConfigError } from '../../lib/config';
import { bundleNodes } from '../../lib/constructs/node-bundle';
import { context, nodes } from '../support/nodes';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = {
  tier: 'invocation',
  name: 'least-memory',
  module: 'policies/least-memory.ts',
  options: { ceiling: 0.9 },
};
const fixture = (name: string) => `test/support/plugins/${name}.ts`;
const load = (plugins: unknown[], rest: Record<string, unknown> = {}) => loadStrataConfig({ plugins, ...rest }, ROOT);

describe('plugins named in the config', () => {
  test('the example plugin registers under its name and can be the tier-1 strategy, with its options', () => {
    const config = load([EXAMPLE], { invocationStrategy: 'least-memory' });
    expect(policyNames('invocation')).toContain('least-memory');
    expect(config.policies.invocation).toEqual({ name: 'least-memory', options: { ceiling: 0.9 } });
    expect(config.plugins).toEqual([{ ...EXAMPLE, module: join(ROOT, EXAMPLE.module) }]);
    // It orders by memory in use: n1 has the least.
    const view = nodes(3).map((n, i) => ({ ...n, memoryUsed: [0.5, 0.1, 0.3][i] }));
    const selection = invocationStrategy('least-memory', { ceiling: 0.9 })(
      view,
      { functionName: 'f', hops: 0 },
      context(),
    );
    expect(selection).toMatchObject({ rule: 'in-order', candidates: [{ id: 'n1' }, { id: 'n2' }, { id: 'n0' }] });
  });

  test('its options default from its schema', () => {
    const config = load([{ ...EXAMPLE, options: undefined }], { invocationStrategy: 'least-memory' });
    expect(config.policies.invocation.options).toEqual({ ceiling: 0.9 });
  });

  test.each([
    [{ ...EXAMPLE, options: { ceiling: 2 } }, 'strata.plugins[0].options.ceiling must be a number from 0 to 1, got 2'],
    [
      { ...EXAMPLE, options: { floor: 0.1 } },
      'strata.plugins[0].options.floor is not an option; valid options: ceiling',
    ],
    [
      { ...EXAMPLE, tier: 'node' },
      'strata.plugins[0].tier is node, but policies/least-memory.ts defines a invocation policy',
    ],
    [{ ...EXAMPLE, tier: 'edge' }, 'strata.plugins[0].tier must be one of invocation, node, offload; got "edge"'],
    [{ ...EXAMPLE, name: 'Least Memory' }, 'strata.plugins[0].name must be lower-case letters'],
    [
      { ...EXAMPLE, name: 'round-robin' },
      'strata.plugins[0].name: a invocation policy named "round-robin" is registered already',
    ],
    [{ ...EXAMPLE, module: 'policies/nowhere.ts' }, 'strata.plugins[0].module: no file policies/nowhere.ts'],
    [{ ...EXAMPLE, module: 'lib/config.ts' }, 'strata.plugins[0].module: '],
    [{ ...EXAMPLE, modul: 'x' }, 'strata.plugins[0].modul is not a plugin setting'],
  ])('a bad entry is a config error naming the key: %j', (entry, message) => {
    expect(() => load([entry])).toThrow(StrataConfigError);
    expect(() => load([entry])).toThrow(message);
  });

  test('a plugin that is not the tier policy still may not be named for another tier', () => {
    load([EXAMPLE]);
    expect(() => load([EXAMPLE], { nodePolicy: 'least-memory' })).toThrow(
      'strata.nodePolicy must be one of most-slots, least-load, power-of-two, least-expected-delay, single-entry',
    );
  });

  test.each([
    ['picks-the-dead', 'invocation', 'never picks an ineligible node'],
    ['sorts-in-place', 'node', 'never changes its input'],
    ['coin-flip', 'offload', 'same answer for the same random source'],
  ])('synth fails for a plugin that fails conformance: %s (%s) breaks "%s"', (name, tier, property) => {
    expect(() => load([{ tier, name, module: fixture(name) }])).toThrow(
      new RegExp(`strata.plugins\\[0\\] \\(${name}\\) fails the engine's conformance checks: .*${property}`),
    );
  });
});

describe('the node bundle', () => {
  test('registers a tier-2 plugin before the compute node looks its policy up', () => {
    const config = load([{ tier: 'node', name: 'fewest-hops', module: fixture('fewest-hops') }]);
    const withPlugin = mkdtempSync(join(tmpdir(), 'strata-node-bundle-'));
    const without = mkdtempSync(join(tmpdir(), 'strata-node-bundle-'));
    bundleNodes(withPlugin, config.plugins);
    bundleNodes(without, []);
    // Port 1 refuses: a node that got past its policies fails on the state store instead.
    const run = (dir: string) =>
      spawnSync(
        process.execPath,
        [
          join(dir, 'compute-node.js'),
          '--id',
          'c1',
          '--state',
          'redis://127.0.0.1:1',
          '--objects',
          tmpdir(),
          '--node-policy',
          'fewest-hops',
          '--node-options',
          '{"limit":3}',
        ],
        { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } },
      );
    const known = run(withPlugin);
    expect(known.stderr).not.toContain('Unknown node policy');
    const unknown = run(without);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('Unknown node policy "fewest-hops"');
  });
});
