/**
 * Strata's dashboard, alarms and scaling metrics, defined once. CloudWatch gets them from
 * lib/constructs/observability.ts and compute-fleet.ts, the local page from
 * local/dashboard/, `strata status` from bin/cli.ts; test/local/dashboard-emitters.test.ts
 * runs the real emitters and checks that each metric here is written with this
 * namespace, name and dimension set, often enough for its alarm.
 *
 * Why in common/: it is the one layer below both the CDK app (lib/) and the one-machine
 * harness (local/), and it is plain data, so importing it costs a deployed bundle
 * nothing.
 */
import type { AlarmDefinition, MetricQuery, Statistic, Widget } from './definition';

export * from './definition';

/** Strata's own namespace: the nodes' metrics agent, the dispatcher (Powertools) and the Ceph health script. */
export const STRATA_NAMESPACE = 'Strata';

const DISPATCHER = { service: 'dispatcher' } as const;
const node = { each: 'node' } as const;
const member = { each: 'cacheMember' } as const;

function strata(
  name: string,
  dimensions: MetricQuery['dimensions'],
  stat: Statistic,
  label: string,
  axis?: 'right',
): MetricQuery {
  return { namespace: STRATA_NAMESPACE, name, dimensions, stat, label, ...(axis ? { axis } : {}) };
}

/** A figure per node of one role, from the metrics agent's per-node records. */
function perNode(name: string, role: 'compute' | 'storage', stat: Statistic, label = '', axis?: 'right'): MetricQuery {
  return strata(name, { Role: role, NodeId: node }, stat, label, axis);
}

function apiGateway(name: string, stat: Statistic, label: string): MetricQuery {
  return { namespace: 'AWS/ApiGateway', name, dimensions: { ApiName: { ref: 'apiName' } }, stat, label };
}

function lambda(name: string, stat: Statistic, label: string, axis?: 'right'): MetricQuery {
  return {
    namespace: 'AWS/Lambda',
    name,
    dimensions: { FunctionName: { ref: 'dispatcherFunctionName' } },
    stat,
    label,
    ...(axis ? { axis } : {}),
  };
}

function cache(name: string, stat: Statistic, label: string, axis?: 'right'): MetricQuery {
  return {
    namespace: 'AWS/ElastiCache',
    name,
    dimensions: { CacheClusterId: member },
    stat,
    label,
    ...(axis ? { axis } : {}),
  };
}

function group(name: string, label: string): MetricQuery {
  return {
    namespace: 'AWS/AutoScaling',
    name,
    dimensions: { AutoScalingGroupName: { ref: 'computeGroupName' } },
    stat: 'Average',
    label,
  };
}

/** What the compute fleet scales on: average slot use, in percent (target tracking, and the predictive policy's scaling metric). */
export const SLOT_USE = strata('SlotUse', { Role: 'compute' }, 'Average', 'slot use % (average)');
/** The compute fleet's load for the predictive policy: busy slot-seconds, whatever the fleet's size. */
export const SLOT_LOAD = strata('SlotsUsed', { Role: 'compute' }, 'Sum', 'busy slot-seconds');
/** What the CPU target-tracking and predictive policies read (EC2's ASGAverageCPUUtilization). */
export const GROUP_CPU: MetricQuery = {
  namespace: 'AWS/EC2',
  name: 'CPUUtilization',
  dimensions: { AutoScalingGroupName: { ref: 'computeGroupName' } },
  stat: 'Average',
  label: 'group CPU %',
};
/** The capacity the predictive policies forecast (published once their first forecast exists). */
export const CAPACITY_FORECAST: MetricQuery = {
  namespace: 'AWS/AutoScaling',
  name: 'PredictiveScalingCapacityForecast',
  dimensions: {
    AutoScalingGroupName: { ref: 'computeGroupName' },
    PolicyName: { each: 'predictivePolicy' },
    PairIndex: '0',
  },
  stat: 'Average',
  label: 'forecast',
};

export const TIER_TITLES = {
  1: 'Tier 1: API Gateway and the dispatcher',
  2: 'Tier 2: compute nodes',
  3: 'Tier 3: storage nodes, offload, Ceph and the state store',
} as const;

export const ALARMS: readonly AlarmDefinition[] = [
  {
    name: 'ApiServerErrors',
    description: 'API Gateway answers 5xx',
    metric: apiGateway('5XXError', 'Sum', '5xx'),
    threshold: 10,
    evaluationPeriods: 3,
    missingData: 'notBreaching',
  },
  {
    name: 'DispatcherErrors',
    description: 'The dispatcher Lambda fails',
    metric: lambda('Errors', 'Sum', 'errors'),
    threshold: 0,
    evaluationPeriods: 3,
    missingData: 'notBreaching',
  },
  {
    name: 'DispatcherThrottles',
    description: 'The dispatcher Lambda is throttled: raise its reserved concurrency',
    metric: lambda('Throttles', 'Sum', 'throttles'),
    threshold: 0,
    evaluationPeriods: 3,
    missingData: 'notBreaching',
  },
  {
    name: 'NoCapacity',
    description: 'Invocations found no free compute node within the queue timeout',
    metric: strata('NoCapacity', DISPATCHER, 'Sum', 'no capacity'),
    threshold: 0,
    evaluationPeriods: 3,
    missingData: 'notBreaching',
  },
  {
    name: 'DegradedState',
    // A Lambda runs only when invoked: each container that is degraded says so once a minute
    // while it takes invocations; two minutes without any invocation clear it.
    description: 'The dispatcher cannot reach ElastiCache and decides over its last known nodes',
    metric: strata('DegradedMode', DISPATCHER, 'Sum', 'degraded containers'),
    threshold: 0,
    evaluationPeriods: 2,
    missingData: 'notBreaching',
  },
  {
    name: 'ComputeSaturated',
    description:
      'Compute slot use stays above 90% (the fleet is at its maximum or cannot scale), or the nodes stopped reporting it (then the slot-use scaling has nothing to act on)',
    metric: SLOT_USE,
    threshold: 90,
    evaluationPeriods: 10,
    missingData: 'breaching',
  },
  {
    name: 'ComputeCpuHigh',
    description: 'Compute CPU (what the CPU scaling policy reads) stays above 90%, or EC2 stopped reporting it',
    metric: GROUP_CPU,
    threshold: 90,
    evaluationPeriods: 10,
    missingData: 'breaching',
  },
  {
    name: 'StorageOverThresholds',
    // The average over every storage node and second of each minute: single busy seconds do not page.
    description:
      'The storage nodes average above 80% CPU for 10 minutes (data stages then run on compute nodes), or their agents stopped reporting',
    metric: strata('CpuBusy', { Role: 'storage' }, 'Average', 'storage CPU %'),
    threshold: 80,
    evaluationPeriods: 10,
    missingData: 'breaching',
  },
  {
    name: 'CephUnhealthy',
    description: 'Ceph is not HEALTH_OK (or its health metric stopped)',
    metric: strata('CephHealth', { Role: 'storage' }, 'Maximum', 'Ceph health'),
    threshold: 0,
    evaluationPeriods: 5,
    missingData: 'breaching',
  },
  {
    name: 'CacheCpu',
    description: 'ElastiCache engine CPU above 80%',
    metric: cache('EngineCPUUtilization', 'Average', 'engine CPU %'),
    threshold: 80,
    evaluationPeriods: 5,
    missingData: 'notBreaching',
  },
  {
    name: 'CacheMemory',
    description: 'ElastiCache memory above 80%',
    metric: cache('DatabaseMemoryUsagePercentage', 'Average', 'memory %'),
    threshold: 80,
    evaluationPeriods: 5,
    missingData: 'notBreaching',
  },
];

/** The dashboard, a row per tier, in order. */
export const WIDGETS: readonly Widget[] = [
  {
    tier: 1,
    title: 'API latency (ms)',
    unit: 'ms',
    metrics: [apiGateway('Latency', 'p50', 'p50'), apiGateway('Latency', 'p99', 'p99')],
  },
  {
    tier: 1,
    title: 'Dispatch latency (ms)',
    unit: 'ms',
    metrics: [strata('DispatchLatency', DISPATCHER, 'p50', 'p50'), strata('DispatchLatency', DISPATCHER, 'p99', 'p99')],
  },
  {
    tier: 1,
    title: 'Errors',
    unit: 'count',
    metrics: [
      apiGateway('4XXError', 'Sum', 'API 4xx'),
      apiGateway('5XXError', 'Sum', 'API 5xx'),
      lambda('Errors', 'Sum', 'dispatcher errors'),
      lambda('Throttles', 'Sum', 'dispatcher throttles'),
      strata('NoCapacity', DISPATCHER, 'Sum', 'no capacity'),
      strata('NodeErrors', DISPATCHER, 'Sum', 'node 5xx'),
      strata('FunctionErrors', DISPATCHER, 'Sum', "users' functions failed (424, 504)"),
    ],
    alarms: ['ApiServerErrors', 'NoCapacity'],
  },
  {
    tier: 1,
    title: 'Decisions per node',
    unit: 'count',
    metrics: [strata('Decisions', { ...DISPATCHER, Node: node }, 'Sum', '')],
  },
  {
    tier: 1,
    title: 'Retries and degraded mode',
    unit: 'count',
    metrics: [
      strata('Retries', DISPATCHER, 'Sum', 'retries'),
      strata('DegradedDecisions', DISPATCHER, 'Sum', 'degraded decisions'),
      strata('DegradedMode', DISPATCHER, 'Sum', 'degraded containers'),
    ],
    alarms: ['DegradedState'],
  },
  {
    tier: 1,
    title: 'Policy faults (decisions a policy failed, made by the default)',
    unit: 'count',
    metrics: [
      strata('PolicyFaults', DISPATCHER, 'Sum', 'tier 1 (dispatcher)'),
      strata('PolicyFaults', { Role: 'compute', Tier: 'node' }, 'Sum', 'tier 2 (compute nodes)'),
      strata('PolicyFaults', { Role: 'compute', Tier: 'offload' }, 'Sum', 'tier 3 (compute nodes)'),
    ],
  },
  {
    tier: 1,
    title: 'Invocations and concurrency',
    unit: 'count',
    metrics: [
      lambda('Invocations', 'Sum', 'invocations'),
      lambda('ConcurrentExecutions', 'Maximum', 'concurrency (max)', 'right'),
    ],
  },

  {
    tier: 2,
    title: 'CPU busy % per node',
    unit: '%',
    metrics: [perNode('CpuBusy', 'compute', 'Average')],
    alarms: ['ComputeCpuHigh'],
  },
  { tier: 2, title: 'Memory used % per node', unit: '%', metrics: [perNode('MemoryUsed', 'compute', 'Average')] },
  {
    tier: 2,
    title: 'Load per core per node',
    unit: 'load / core',
    metrics: [perNode('LoadPerCore', 'compute', 'Average')],
  },
  {
    tier: 2,
    title: 'Slot use % (fleet)',
    unit: '%',
    metrics: [SLOT_USE, { ...SLOT_USE, stat: 'Maximum', label: 'slot use % (max)' }],
    alarms: ['ComputeSaturated'],
  },
  { tier: 2, title: 'Slots used per node', unit: 'slots', metrics: [perNode('SlotsUsed', 'compute', 'Maximum')] },
  {
    tier: 2,
    title: 'Nodes: in service, desired and forecast',
    unit: 'nodes',
    metrics: [
      group('GroupInServiceInstances', 'in service'),
      group('GroupDesiredCapacity', 'desired'),
      CAPACITY_FORECAST,
    ],
  },

  {
    tier: 3,
    title: 'Storage CPU % / memory % / load per core',
    unit: '%',
    metrics: [
      perNode('CpuBusy', 'storage', 'Average', 'CPU'),
      perNode('MemoryUsed', 'storage', 'Average', 'memory'),
      perNode('LoadPerCore', 'storage', 'Average', 'load/core', 'right'),
    ],
    alarms: ['StorageOverThresholds'],
  },
  {
    tier: 3,
    title: 'Near-data stages running (storage slots used)',
    unit: 'slots',
    metrics: [perNode('SlotsUsed', 'storage', 'Maximum')],
  },
  {
    tier: 3,
    title: 'Ceph health (0 ok, 1 warn, 2 error) and PGs not clean',
    unit: 'health',
    metrics: [
      strata('CephHealth', { Role: 'storage' }, 'Maximum', 'health'),
      strata('CephPgsNotClean', { Role: 'storage' }, 'Maximum', 'PGs not clean', 'right'),
    ],
    alarms: ['CephUnhealthy'],
  },
  {
    tier: 3,
    title: 'ElastiCache engine CPU %',
    unit: '%',
    metrics: [cache('EngineCPUUtilization', 'Average', '')],
    alarms: ['CacheCpu'],
  },
  {
    tier: 3,
    title: 'ElastiCache memory % and connections',
    unit: '%',
    metrics: [
      cache('DatabaseMemoryUsagePercentage', 'Average', 'memory %'),
      cache('CurrConnections', 'Average', 'connections', 'right'),
    ],
    alarms: ['CacheMemory'],
  },
  // Every member: only a replica reports the lag, and which member is the replica changes at a failover.
  { tier: 3, title: 'ElastiCache replication lag (s)', unit: 's', metrics: [cache('ReplicationLag', 'Maximum', '')] },
];

/** Every metric the dashboard, the alarms and the scaling policies read. */
export function everyMetricRead(): { readonly query: MetricQuery; readonly readers: readonly string[] }[] {
  const byKey = new Map<string, { query: MetricQuery; readers: string[] }>();
  const add = (query: MetricQuery, reader: string) => {
    const dims = Object.entries(query.dimensions)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : '*'}`)
      .sort();
    const key = `${query.namespace} ${query.name} ${dims.join(',')}`;
    const entry = byKey.get(key) ?? { query, readers: [] };
    if (!entry.readers.includes(reader)) entry.readers.push(reader);
    byKey.set(key, entry);
  };
  for (const widget of WIDGETS) for (const query of widget.metrics) add(query, `widget "${widget.title}"`);
  for (const alarm of ALARMS) add(alarm.metric, `alarm ${alarm.name}`);
  add(SLOT_USE, 'scaling: slot-use target tracking and predictive scaling metric');
  add(SLOT_LOAD, 'scaling: predictive load metric');
  add(GROUP_CPU, 'scaling: CPU target tracking and predictive scaling (ASGCPUUtilization)');
  return [...byKey.values()];
}
