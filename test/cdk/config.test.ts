import { loadStrataConfig, StrataConfigError } from '../../lib/config';

describe('loadStrataConfig', () => {
  test('fills every default when nothing is set', () => {
    expect(loadStrataConfig()).toEqual({
      invocationStrategy: 'round-robin',
      nodePolicy: 'most-slots',
      offloadPolicy: 'thresholds',
      choices: 2,
      offloadThresholds: { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 },
    });
  });

  test('takes the settings it is given, and a JSON string as `cdk -c strata=...` passes it', () => {
    const config = loadStrataConfig('{"invocationStrategy":"power-of-two","choices":3,"offloadThresholds":{"cpu":0.7}}');
    expect(config).toMatchObject({ invocationStrategy: 'power-of-two', choices: 3, offloadThresholds: { cpu: 0.7, memory: 0.8, loadPerCore: 0.8 } });
  });

  test.each([
    [{ invocationStrategy: 'fastest' }, 'strata.invocationStrategy must be one of round-robin, least-outstanding, power-of-two, most-slots, least-load, hash-affinity, single-entry; got "fastest"'],
    [{ nodePolicy: 3 }, 'strata.nodePolicy must be one of most-slots, least-load, power-of-two; got 3'],
    [{ offloadPolicy: 'sometimes' }, 'strata.offloadPolicy must be one of thresholds, always, never; got "sometimes"'],
    [{ choices: 1.5 }, 'strata.choices must be a whole number of at least 1, got 1.5'],
    [{ offloadThresholds: { cpu: 1.2 } }, 'strata.offloadThresholds.cpu must be a number above 0 and at most 1, got 1.2'],
    [{ offloadThresholds: { disk: 0.5 } }, 'strata.offloadThresholds.disk is not a threshold; they are cpu, memory, loadPerCore'],
    [{ offloadThresholds: 0.5 }, 'strata.offloadThresholds must be an object with cpu, memory and loadPerCore'],
    [{ invocationStratgy: 'round-robin' }, 'strata.invocationStratgy is not a setting; the settings are invocationStrategy, nodePolicy, offloadPolicy, choices, offloadThresholds'],
    [[], 'strata must be an object with the keys invocationStrategy, nodePolicy, offloadPolicy, choices, offloadThresholds'],
    ['{not json', 'strata must be a JSON object; could not parse "{not json"'],
  ])('rejects %p naming the key and what it accepts', (raw, message) => {
    expect(() => loadStrataConfig(raw)).toThrow(new StrataConfigError(message));
  });
});
