import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStrataConfig, StrataConfigError } from '../../lib/config';
import { instanceArchitecture } from '../../lib/instance-types';
import { cdkJsonContext } from '../support/cdk';

const FORM =
  'an EC2 instance type: family, generation and attributes, a dot and a size, such as c7g.large or m7i-flex.xlarge';
const FAMILY =
  'an EC2 instance type of a known family (a, c, d, dl, f, g, gr, h, hpc, i, im, inf, is, m, p, r, t, trn, u, vt, x, z), such as c7g.large';
const SIZE =
  'an EC2 instance type with a size that exists (nano, micro, small, medium, large, xlarge, 2xlarge ... 48xlarge, metal, metal-16xl ...), such as c7g.large';
const TOP_KEYS =
  'invocationStrategy, nodePolicy, offloadPolicy, choices, prequal, offloadThresholds, offloadByLocality, network, state, compute, storage, dispatch, alarmEmail, plugins';

describe('loadStrataConfig', () => {
  test('fills every default when nothing is set', () => {
    expect(loadStrataConfig()).toEqual({
      invocationStrategy: 'least-expected-delay',
      nodePolicy: 'most-slots',
      offloadPolicy: 'thresholds',
      choices: 2,
      prequal: { probes: 8, quantile: 0.9 },
      offloadThresholds: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 },
      offloadByLocality: true,
      network: { maxAzs: 3, natGateways: 1 },
      state: { nodeType: 'cache.t4g.small', replicas: 1, cells: 1, shards: 1 },
      compute: {
        instanceTypes: ['c7g.large', 'c7gd.large'],
        minNodes: 2,
        maxNodes: 6,
        slotsPerNode: 2,
        targetCpuPercent: 70,
        targetSlotUsePercent: 70,
        predictiveScaling: 'forecast-only',
      },
      storage: {
        nodes: 3,
        instanceTypes: ['m7g.large', 'm7gd.large'],
        osdsPerNode: 1,
        osdVolumeGiB: 100,
        pgNum: 128,
        pgAutoscale: true,
        slotsPerNode: 2,
      },
      dispatch: { memoryMiB: 512, throttleRatePerSecond: 500, throttleBurst: 1000 },
      plugins: [],
      policies: {
        invocation: { name: 'least-expected-delay', options: {} },
        node: { name: 'most-slots', options: {} },
        offload: { name: 'thresholds', options: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 } },
      },
    });
  });

  test('takes nested settings and keeps the defaults of the rest', () => {
    const config = loadStrataConfig({
      compute: { minNodes: 8, instanceTypes: ['m7i.large'] },
      storage: { pgNum: 256, pgAutoscale: false, osdsPerNode: 2 },
      dispatch: { reservedConcurrency: 50 },
      alarmEmail: 'ops@example.com',
    });
    expect(config.compute).toMatchObject({ minNodes: 8, maxNodes: 8, instanceTypes: ['m7i.large'], slotsPerNode: 2 });
    expect(config.storage).toMatchObject({ pgNum: 256, pgAutoscale: false, osdsPerNode: 2, osdVolumeGiB: 100 });
    expect(config.dispatch.reservedConcurrency).toBe(50);
    expect(config.alarmEmail).toBe('ops@example.com');
  });

  test('takes the settings it is given, and a JSON string as `cdk -c strata=...` passes it', () => {
    const config = loadStrataConfig(
      '{"invocationStrategy":"power-of-two","choices":3,"offloadThresholds":{"cpu":0.7}}',
    );
    expect(config).toMatchObject({
      invocationStrategy: 'power-of-two',
      choices: 3,
      offloadThresholds: { cpu: 0.7, memory: 0.8, loadPerCore: 0.8 },
    });
  });

  test.each([
    [
      { invocationStrategy: 'fastest' },
      'strata.invocationStrategy must be one of round-robin, least-outstanding, power-of-two, least-expected-delay, prequal, most-slots, least-load, hash-affinity, single-entry, adaptive; got "fastest"',
    ],
    [
      { nodePolicy: 3 },
      'strata.nodePolicy must be one of most-slots, least-load, power-of-two, least-expected-delay, single-entry; got 3',
    ],
    [
      { nodePolicy: 'id-order' },
      'strata.nodePolicy "id-order" is now called "single-entry" (one name per algorithm); the names are most-slots, least-load, power-of-two, least-expected-delay, single-entry',
    ],
    [
      { nodePolicy: 'expected-delay' },
      'strata.nodePolicy "expected-delay" is now called "least-expected-delay" (one name per algorithm); the names are most-slots, least-load, power-of-two, least-expected-delay, single-entry',
    ],
    [{ offloadPolicy: 'sometimes' }, 'strata.offloadPolicy must be one of thresholds, always, never; got "sometimes"'],
    [{ choices: 1.5 }, 'strata.choices must be a whole number from 1 to 64, got 1.5'],
    [{ prequal: { probes: 0 } }, 'strata.prequal.probes must be a whole number from 1 to 64, got 0'],
    [{ prequal: { quantile: 2 } }, 'strata.prequal.quantile must be a number from 0 to 1, got 2'],
    [{ prequal: { hot: 0.5 } }, 'strata.prequal.hot is not a setting; the settings are probes, quantile'],
    [
      { offloadThresholds: { cpu: 1.2 } },
      'strata.offloadThresholds.cpu must be a number above 0 and at most 1, got 1.2',
    ],
    [
      { offloadThresholds: { disk: 0.5 } },
      'strata.offloadThresholds.disk is not an option; valid options: cpu, memory, loadPerCore',
    ],
    [{ offloadThresholds: 0.5 }, 'strata.offloadThresholds must be an object with cpu, memory and loadPerCore'],
    [{ offloadByLocality: 'yes' }, 'strata.offloadByLocality must be true or false; got "yes"'],
    [{ invocationStratgy: 'round-robin' }, `strata.invocationStratgy is not a setting; the settings are ${TOP_KEYS}`],
    [[], `strata must be an object with the keys ${TOP_KEYS}`],
    [{ network: { maxAzs: 1 } }, 'strata.network.maxAzs must be a whole number from 2 to 3; got 1'],
    [
      { network: { maxAzs: 2, natGateways: 3 } },
      'strata.network.natGateways must be a whole number from 1 to 2; got 3',
    ],
    [
      { state: { nodeType: 't4g.small' } },
      'strata.state.nodeType must be an ElastiCache node type such as cache.t4g.small; got "t4g.small"',
    ],
    [{ state: { replicas: 0 } }, 'strata.state.replicas must be a whole number from 1 to 5; got 0'],
    [{ state: { cells: 0 } }, 'strata.state.cells must be a whole number from 1 to 64; got 0'],
    [{ state: { cells: 65 } }, 'strata.state.cells must be a whole number from 1 to 64; got 65'],
    [{ state: { cells: 4, shards: 1.5 } }, 'strata.state.shards must be a whole number from 1 to 64; got 1.5'],
    [
      { state: { cells: 4, shards: 3 } },
      'strata.state.cells must be a multiple of strata.state.shards (3), so that each shard holds as many cells; got 4',
    ],
    [
      { state: { shards: 2 } },
      'strata.state.cells must be a multiple of strata.state.shards (2), so that each shard holds as many cells; got 1',
    ],
    [{ compute: { instanceTypes: ['large'] } }, `strata.compute.instanceTypes[0] must be ${FORM}; got "large"`],
    [
      { compute: { instanceTypes: ['banana.large'] } },
      `strata.compute.instanceTypes[0] must be ${FORM}; got "banana.large"`,
    ],
    [
      { compute: { instanceTypes: ['zz7.large'] } },
      `strata.compute.instanceTypes[0] must be ${FAMILY}; got "zz7.large"`,
    ],
    [{ compute: { instanceTypes: ['t2.banana'] } }, `strata.compute.instanceTypes[0] must be ${SIZE}; got "t2.banana"`],
    [{ compute: { instanceTypes: ['c7g.huge'] } }, `strata.compute.instanceTypes[0] must be ${SIZE}; got "c7g.huge"`],
    [{ storage: { instanceTypes: ['C7G.LARGE'] } }, `strata.storage.instanceTypes[0] must be ${FORM}; got "C7G.LARGE"`],
    [
      { storage: { instanceTypes: ['m7g.0xlarge'] } },
      `strata.storage.instanceTypes[0] must be ${SIZE}; got "m7g.0xlarge"`,
    ],
    [
      { storage: { instanceTypes: [7] } },
      'strata.storage.instanceTypes[0] must be an EC2 instance type such as c7g.large or m7i.large; got 7',
    ],
    [
      { compute: { instanceTypes: 'c7g.large' } },
      'strata.compute.instanceTypes must be a list of 1 to 4 EC2 instance types, the first preferred, such as ["c7g.large", "c7gd.large"]; got "c7g.large"',
    ],
    [
      { compute: { instanceTypes: [] } },
      'strata.compute.instanceTypes must be a list of 1 to 4 EC2 instance types, the first preferred, such as ["c7g.large", "c7gd.large"]; got []',
    ],
    [
      { compute: { instanceTypes: ['c7g.large', 'c7i.large'] } },
      'strata.compute.instanceTypes must be all Graviton (arm64) or all x86, as the AMI follows them; got ["c7g.large","c7i.large"]',
    ],
    [
      { compute: { instanceTypes: ['c7g.large', 'c7g.xlarge'] } },
      'strata.compute.instanceTypes must be all one size, such as large (every node the same for the slots and the scaling targets); got ["c7g.large","c7g.xlarge"]',
    ],
    [
      { storage: { instanceTypes: ['m7g.large', 'm7g.large'] } },
      'strata.storage.instanceTypes must be instance types each named once; got ["m7g.large","m7g.large"]',
    ],
    [
      { compute: { instanceType: 'c7g.large' } },
      'strata.compute.instanceType is not a setting; the settings are instanceTypes, minNodes, maxNodes, slotsPerNode, targetCpuPercent, targetSlotUsePercent, predictiveScaling',
    ],
    [{ compute: { minNodes: 4, maxNodes: 3 } }, 'strata.compute.maxNodes must be a whole number from 4 to 1000; got 3'],
    [
      { compute: { slots: 4 } },
      'strata.compute.slots is not a setting; the settings are instanceTypes, minNodes, maxNodes, slotsPerNode, targetCpuPercent, targetSlotUsePercent, predictiveScaling',
    ],
    [
      { compute: { predictiveScaling: true } },
      'strata.compute.predictiveScaling must be one of forecast-only, forecast-and-scale, off; got true',
    ],
    [{ storage: { pgNum: 100 } }, 'strata.storage.pgNum must be a power of two from 8 to 4096; got 100'],
    [{ storage: { pgAutoscale: 'on' } }, 'strata.storage.pgAutoscale must be true or false; got "on"'],
    [{ storage: { nodes: 2 } }, 'strata.storage.nodes must be a whole number from 3 to 12; got 2'],
    [
      { storage: { osdVolumeGiB: '100' } },
      'strata.storage.osdVolumeGiB must be a whole number from 10 to 16384; got "100"',
    ],
    [
      { dispatch: { reservedConcurrency: 0 } },
      'strata.dispatch.reservedConcurrency must be a whole number from 1 to 10000; got 0',
    ],
    [
      { storage: 'big' },
      'strata.storage must be an object with the keys nodes, instanceTypes, osdsPerNode, osdVolumeGiB, pgNum, pgAutoscale, slotsPerNode',
    ],
    [{ alarmEmail: 'ops' }, 'strata.alarmEmail must be an email address; got "ops"'],
    ['{not json', 'strata must be a JSON object; could not parse "{not json"'],
  ])('rejects %p naming the key and what it accepts', (raw, message) => {
    expect(() => loadStrataConfig(raw)).toThrow(new StrataConfigError(message));
  });
});

describe('instance types', () => {
  test.each([
    ['c7g.large', 'arm64'],
    ['m7i-flex.xlarge', 'x86_64'],
    ['c6gn.16xlarge', 'arm64'],
    ['u-6tb1.metal', 'x86_64'],
    ['u7i-12tb.224xlarge', 'x86_64'],
    ['r7iz.metal-16xl', 'x86_64'],
    ['a1.medium', 'arm64'],
    ['t4g.nano', 'arm64'],
    ['is4gen.large', 'arm64'],
    ['x2iedn.metal', 'x86_64'],
    ['g5g.xlarge', 'arm64'],
    ['inf2.48xlarge', 'x86_64'],
  ])('%s is taken, and is %s', (instanceType, architecture) => {
    const instanceTypes = [instanceType];
    expect(loadStrataConfig({ compute: { instanceTypes }, storage: { instanceTypes } })).toMatchObject({
      compute: { instanceTypes },
      storage: { instanceTypes },
    });
    expect(instanceArchitecture(instanceType)).toBe(architecture);
  });

  const synth = (instanceType: string) => {
    const outdir = mkdtempSync(join(tmpdir(), 'strata-instance-'));
    // cdk.json's context (its feature flags) with the instance type in place, as `cdk synth` would pass it.
    const base = cdkJsonContext() as { strata: Record<string, Record<string, unknown>> };
    const strata = { ...base.strata, compute: { ...base.strata.compute, instanceTypes: [instanceType] } };
    const context = { ...base, strata, 'aws:cdk:bundling-stacks': [] };
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'bin', 'strata.ts')], {
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      encoding: 'utf8',
    });
    return { ...result, outdir };
  };

  test('banana.large stops synth with one line naming the key, not an aws-cdk-lib stack trace', () => {
    const result = synth('banana.large');
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `Invalid Strata config: strata.compute.instanceTypes[0] must be ${FORM}; got "banana.large"`,
    );
  });

  test('u-6tb1.metal, a form aws-cdk-lib cannot tell the architecture of, synthesizes on x86 Amazon Linux', () => {
    const result = synth('u-6tb1.metal');
    expect([result.status, result.stderr]).toEqual([0, expect.not.stringContaining('Error')]);
    const template = readFileSync(join(result.outdir, 'StrataCompute.template.json'), 'utf8');
    expect(template).toContain('"InstanceType": "u-6tb1.metal"');
    expect(template).toContain('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64');
  }, 120_000);
});
