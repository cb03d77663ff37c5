import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COMPUTE_NODE_VARIABLES,
  DISPATCHER_DEFAULTS,
  DISPATCHER_VARIABLES,
  dispatcherEnvironment,
  NODE_DEFAULTS,
  readDispatcherSettings,
  STORAGE_NODE_VARIABLES,
  STRATA_DEFAULTS,
} from '../../../common/settings';
import { loadStrataConfig } from '../../../lib/config';

const ROOT = join(__dirname, '..', '..', '..');
/** cdk.json as the CDK CLI reads it, not through the module under test. */
const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
  context: {
    strata: Record<string, unknown> & {
      prequal: object;
      offloadThresholds: object;
      compute: Record<string, number>;
      storage: Record<string, number>;
    };
  };
};

describe('one default per setting, cdk.json’s', () => {
  it('GIVEN cdk.json WHEN the dispatcher, the nodes and the CDK config take their defaults THEN they are cdk.json’s', () => {
    const strata = cdkJson.context.strata;
    expect(DISPATCHER_DEFAULTS.strategy).toBe(strata.invocationStrategy);
    expect(DISPATCHER_DEFAULTS.choices).toBe(strata.choices);
    expect(DISPATCHER_DEFAULTS.prequal).toEqual(strata.prequal);
    expect(NODE_DEFAULTS.slots).toBe(strata.compute.slotsPerNode);
    // A -c strata that says nothing gets cdk.json's values, so the CDK app and the runtime agree.
    expect(loadStrataConfig({})).toMatchObject({
      invocationStrategy: strata.invocationStrategy,
      nodePolicy: strata.nodePolicy,
      offloadPolicy: strata.offloadPolicy,
      offloadThresholds: strata.offloadThresholds,
      compute: { minNodes: strata.compute.minNodes, slotsPerNode: strata.compute.slotsPerNode },
      storage: { nodes: strata.storage.nodes },
    });
  });

  it('GIVEN only the state store WHEN the dispatcher reads its environment THEN it runs cdk.json’s strategy', () => {
    expect(readDispatcherSettings({ STRATA_REDIS_URL: 'redis://x' }).strategy).toBe(STRATA_DEFAULTS.invocationStrategy);
  });
});

describe('the dispatcher’s settings, written by the construct and read by the handler', () => {
  it('GIVEN settings WHEN written to an environment and read back THEN they are the same', () => {
    const settings = {
      redisUrl: 'rediss://cache:6380',
      redisAuthSecretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:x',
      functionsBucket: 'strata-functions-1',
      strategy: 'prequal' as const,
      strategyOptions: { probes: 4, quantile: 0.75 },
      policyParameter: '/strata/policy',
      choices: 3,
      prequal: { probes: 4, quantile: 0.75 },
      maxAttempts: 5,
      forwardTimeoutMs: 20_000,
      refreshMs: 500,
      heartbeatTtlMs: 2000,
    };
    expect(readDispatcherSettings(dispatcherEnvironment(settings))).toEqual(settings);
    expect(Object.keys(dispatcherEnvironment(settings)).sort()).toEqual(Object.values(DISPATCHER_VARIABLES).sort());
  });

  it.each([
    ['STRATA_PREQUAL_QUANTILE', '1.5', 'STRATA_PREQUAL_QUANTILE must be a number from 0 to 1, got 1.5'],
    ['STRATA_PREQUAL_QUANTILE', 'high', 'STRATA_PREQUAL_QUANTILE must be a number from 0 to 1, got NaN'],
    ['STRATA_PREQUAL_PROBES', '0', 'STRATA_PREQUAL_PROBES must be a whole number from 1 to 64, got 0'],
    ['STRATA_CHOICES', '', 'STRATA_CHOICES must be a whole number from 1 to 64, got NaN'],
    ['STRATA_REFRESH_MS', '-1', 'STRATA_REFRESH_MS must be a number above 0, got -1'],
    ['STRATA_STRATEGY', 'fastest', 'STRATA_STRATEGY must be one of round-robin,'],
  ])('GIVEN %s=%p WHEN read THEN the error names the variable', (name, value, message) => {
    expect(() => readDispatcherSettings({ STRATA_REDIS_URL: 'redis://x', [name]: value })).toThrow(message);
  });
});

describe('the nodes’ strata.env, written by the constructs and read by the setup scripts', () => {
  const scripts = ['nodes/node-setup', 'nodes/ceph'].flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .filter((file) => file.endsWith('.sh'))
      .map((file) => readFileSync(join(ROOT, dir, file), 'utf8')),
  );
  it.each([...new Set([...COMPUTE_NODE_VARIABLES, ...STORAGE_NODE_VARIABLES])])(
    'GIVEN the variable %s THEN a setup script reads it',
    (name) => {
      // On a line that is not a comment: as ${NAME}, $NAME, or bare in $(( )).
      const used = new RegExp(`^(?!\\s*#).*\\b${name}\\b`, 'm');
      expect(scripts.some((script) => used.test(script))).toBe(true);
    },
  );
});
