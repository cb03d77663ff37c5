import { loadStrataConfig, StrataConfigError } from '../../lib/config';

const TOP_KEYS = 'invocationStrategy, nodePolicy, offloadPolicy, choices, offloadThresholds, network, state, compute, storage, dispatch, alarmEmail';

describe('loadStrataConfig', () => {
  test('fills every default when nothing is set', () => {
    expect(loadStrataConfig()).toEqual({
      invocationStrategy: 'least-outstanding',
      nodePolicy: 'most-slots',
      offloadPolicy: 'thresholds',
      choices: 2,
      offloadThresholds: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 },
      network: { maxAzs: 3, natGateways: 1 },
      state: { nodeType: 'cache.t4g.small', replicas: 1 },
      compute: { instanceType: 'c7g.large', minNodes: 2, maxNodes: 6, slotsPerNode: 2, targetCpuPercent: 70, targetSlotUsePercent: 70 },
      storage: { nodes: 3, instanceType: 'm7g.large', osdsPerNode: 1, osdVolumeGiB: 100, pgNum: 128, pgAutoscale: true, slotsPerNode: 2 },
      dispatch: { memoryMiB: 512, throttleRatePerSecond: 500, throttleBurst: 1000 },
    });
  });

  test('takes nested settings and keeps the defaults of the rest', () => {
    const config = loadStrataConfig({
      compute: { minNodes: 8, instanceType: 'm7i.large' },
      storage: { pgNum: 256, pgAutoscale: false, osdsPerNode: 2 },
      dispatch: { reservedConcurrency: 50 },
      alarmEmail: 'ops@example.com',
    });
    expect(config.compute).toMatchObject({ minNodes: 8, maxNodes: 8, instanceType: 'm7i.large', slotsPerNode: 2 });
    expect(config.storage).toMatchObject({ pgNum: 256, pgAutoscale: false, osdsPerNode: 2, osdVolumeGiB: 100 });
    expect(config.dispatch.reservedConcurrency).toBe(50);
    expect(config.alarmEmail).toBe('ops@example.com');
  });

  test('takes the settings it is given, and a JSON string as `cdk -c strata=...` passes it', () => {
    const config = loadStrataConfig('{"invocationStrategy":"power-of-two","choices":3,"offloadThresholds":{"cpu":0.7}}');
    expect(config).toMatchObject({ invocationStrategy: 'power-of-two', choices: 3, offloadThresholds: { cpu: 0.7, memory: 0.8, loadPerCore: 0.8 } });
  });

  test.each([
    [{ invocationStrategy: 'fastest' }, 'strata.invocationStrategy must be one of round-robin, least-outstanding, power-of-two, most-slots, least-load, hash-affinity, single-entry; got "fastest"'],
    [{ nodePolicy: 3 }, 'strata.nodePolicy must be one of most-slots, least-load, power-of-two, id-order; got 3'],
    [{ offloadPolicy: 'sometimes' }, 'strata.offloadPolicy must be one of thresholds, always, never; got "sometimes"'],
    [{ choices: 1.5 }, 'strata.choices must be a whole number of at least 1, got 1.5'],
    [{ offloadThresholds: { cpu: 1.2 } }, 'strata.offloadThresholds.cpu must be a number above 0 and at most 1, got 1.2'],
    [{ offloadThresholds: { disk: 0.5 } }, 'strata.offloadThresholds.disk is not a threshold; they are cpu, memory, loadPerCore'],
    [{ offloadThresholds: 0.5 }, 'strata.offloadThresholds must be an object with cpu, memory and loadPerCore'],
    [{ invocationStratgy: 'round-robin' }, `strata.invocationStratgy is not a setting; the settings are ${TOP_KEYS}`],
    [[], `strata must be an object with the keys ${TOP_KEYS}`],
    [{ network: { maxAzs: 1 } }, 'strata.network.maxAzs must be a whole number from 2 to 3; got 1'],
    [{ network: { maxAzs: 2, natGateways: 3 } }, 'strata.network.natGateways must be a whole number from 1 to 2; got 3'],
    [{ state: { nodeType: 't4g.small' } }, 'strata.state.nodeType must be an ElastiCache node type such as cache.t4g.small; got "t4g.small"'],
    [{ state: { replicas: 0 } }, 'strata.state.replicas must be a whole number from 1 to 5; got 0'],
    [{ compute: { instanceType: 'large' } }, 'strata.compute.instanceType must be an EC2 instance type such as c7g.large or m7i.large; got "large"'],
    [{ compute: { minNodes: 4, maxNodes: 3 } }, 'strata.compute.maxNodes must be a whole number from 4 to 1000; got 3'],
    [{ compute: { slots: 4 } }, 'strata.compute.slots is not a setting; the settings are instanceType, minNodes, maxNodes, slotsPerNode, targetCpuPercent, targetSlotUsePercent'],
    [{ storage: { pgNum: 100 } }, 'strata.storage.pgNum must be a power of two from 8 to 4096; got 100'],
    [{ storage: { pgAutoscale: 'on' } }, 'strata.storage.pgAutoscale must be true or false; got "on"'],
    [{ storage: { nodes: 2 } }, 'strata.storage.nodes must be a whole number from 3 to 12; got 2'],
    [{ storage: { osdVolumeGiB: '100' } }, 'strata.storage.osdVolumeGiB must be a whole number from 10 to 16384; got "100"'],
    [{ dispatch: { reservedConcurrency: 0 } }, 'strata.dispatch.reservedConcurrency must be a whole number from 1 to 10000; got 0'],
    [{ storage: 'big' }, 'strata.storage must be an object with the keys nodes, instanceType, osdsPerNode, osdVolumeGiB, pgNum, pgAutoscale, slotsPerNode'],
    [{ alarmEmail: 'ops' }, 'strata.alarmEmail must be an email address; got "ops"'],
    ['{not json', 'strata must be a JSON object; could not parse "{not json"'],
  ])('rejects %p naming the key and what it accepts', (raw, message) => {
    expect(() => loadStrataConfig(raw)).toThrow(new StrataConfigError(message));
  });
});
