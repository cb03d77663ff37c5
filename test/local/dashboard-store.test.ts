import type { MetricQuery } from '../../common/metrics/dashboard';
import { datapointsOf, EmfError } from '../../local/dashboard/emf';
import { LOCAL_RESOURCES } from '../../local/dashboard/stand-ins';
import { MetricStore, statistic } from '../../local/dashboard/store';

const record = (fields: Record<string, unknown>, dimensions: string[][], metrics: string[], at = 60_000) =>
  JSON.stringify({
    _aws: {
      Timestamp: at,
      CloudWatchMetrics: [
        { Namespace: 'Strata', Dimensions: dimensions, Metrics: metrics.map((Name) => ({ Name, Unit: 'Count' })) },
      ],
    },
    ...fields,
  });

describe('reading EMF as CloudWatch Logs does', () => {
  test('one datapoint per metric and per dimension set, values from the record, arrays as many values', () => {
    const points = datapointsOf(
      record(
        { Role: 'compute', NodeId: 'c1', SlotsUsed: 2, Latency: [1, 2, 3] },
        [['Role'], ['Role', 'NodeId']],
        ['SlotsUsed', 'Latency'],
      ),
    );
    expect(points.map((p) => [p.name, p.dimensions, p.values])).toEqual([
      ['SlotsUsed', { Role: 'compute' }, [2]],
      ['Latency', { Role: 'compute' }, [1, 2, 3]],
      ['SlotsUsed', { Role: 'compute', NodeId: 'c1' }, [2]],
      ['Latency', { Role: 'compute', NodeId: 'c1' }, [1, 2, 3]],
    ]);
  });

  test('plain log lines are not metrics', () => {
    expect(datapointsOf('{"level":"ERROR","message":"state store unreachable"}')).toEqual([]);
    expect(datapointsOf('ready 127.0.0.1:1234')).toEqual([]);
  });

  test.each([
    [
      'a dimension without its value',
      record({ SlotsUsed: 2 }, [['Role']], ['SlotsUsed']),
      'dimension Role has no string value',
    ],
    [
      'a value that is not a number',
      record({ Role: 'compute', SlotsUsed: 'two' }, [['Role']], ['SlotsUsed']),
      'must be a number or an array of numbers',
    ],
    ['no timestamp', '{"_aws":{"CloudWatchMetrics":[]}}', '_aws.Timestamp must be a number'],
    ['broken JSON', '{"_aws": nope', 'not JSON'],
  ])('a record CloudWatch would reject is an EmfError naming why: %s', (_what, line, message) => {
    expect(() => datapointsOf(line)).toThrow(EmfError);
    expect(() => datapointsOf(line)).toThrow(message);
  });
});

describe('statistics as CloudWatch computes them from recorded values', () => {
  const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  test.each([
    ['Sum', 55],
    ['Average', 5.5],
    ['Maximum', 10],
    ['Minimum', 1],
    ['SampleCount', 10],
    ['p50', 5],
    ['p90', 9],
    ['p99', 10],
    ['p10', 1],
  ] as const)('%s', (stat, expected) => {
    expect(statistic(stat, values)).toBe(expected);
  });
});

describe('the store', () => {
  const store = new MetricStore();
  for (const [node, at, used] of [
    ['c1', 1_000, 1],
    ['c1', 2_000, 2],
    ['c2', 1_500, 0],
    ['c1', 6_000, 2],
  ] as const) {
    for (const point of datapointsOf(
      record({ Role: 'compute', NodeId: node, SlotsUsed: used }, [['Role'], ['Role', 'NodeId']], ['SlotsUsed'], at),
    ))
      store.add(point);
  }
  const window = { from: 0, to: 10_000, periodMs: 5_000 };

  test('a line per node for an `each` dimension, each value in its period', () => {
    const query: MetricQuery = {
      namespace: 'Strata',
      name: 'SlotsUsed',
      dimensions: { Role: 'compute', NodeId: { each: 'node' } },
      stat: 'Sum',
      label: 'used',
    };
    const lines = store.query(query, LOCAL_RESOURCES, window);
    expect(lines.map(({ label, points, overWindow, samples }) => ({ label, points, overWindow, samples }))).toEqual([
      {
        label: 'used c1',
        points: [
          [0, 3],
          [5_000, 2],
        ],
        overWindow: 5,
        samples: 3,
      },
      { label: 'used c2', points: [[0, 0]], overWindow: 0, samples: 1 },
    ]);
  });

  test('matches the whole dimension set only: {Role} is not {Role, NodeId}', () => {
    const fleet: MetricQuery = {
      namespace: 'Strata',
      name: 'SlotsUsed',
      dimensions: { Role: 'compute' },
      stat: 'SampleCount',
      label: 'fleet',
    };
    expect(store.query(fleet, LOCAL_RESOURCES, window).map((line) => line.overWindow)).toEqual([4]);
    expect(store.query({ ...fleet, dimensions: { Role: 'storage' } }, LOCAL_RESOURCES, window)).toEqual([]);
    expect(store.query({ ...fleet, dimensions: { NodeId: { each: 'node' } } }, LOCAL_RESOURCES, window)).toEqual([]);
  });
});
