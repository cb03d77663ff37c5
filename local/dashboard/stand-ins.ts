/**
 * The metrics AWS itself would publish about the pieces a local run stands in for: API
 * Gateway and Lambda (the API adapter and the dispatcher in the launcher), the Auto
 * Scaling group (the compute node processes), ElastiCache (a real redis-server, from its
 * INFO) and the Ceph health timer (the real script, every 30 s). Each is written as an
 * EMF record with AWS's namespace, names and dimensions, beside the nodes' own records.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { DashboardResources, MetricQuery } from '../../common/metrics/dashboard';
import { RespClient } from '../../common/state/resp-client';
import { emfRecord } from './emf';

/** What the definition's resource references are called in a local run. */
export const LOCAL_RESOURCES: DashboardResources = {
  apiName: 'strata-local',
  dispatcherFunctionName: 'strata-dispatcher-local',
  computeGroupName: 'strata-compute-local',
  cacheMembers: [],
  predictivePolicies: [],
};

/** Why a query has no line in a local run: where its data comes from here. */
export function localSourceOf(query: MetricQuery): string {
  if (query.name.startsWith('PredictiveScaling'))
    return 'on AWS only: Auto Scaling publishes its forecast once it has 24 hours of metrics';
  if (query.namespace === 'AWS/ElastiCache')
    return 'from the redis-server of --redis (its INFO); the embedded state store has none';
  if (query.name.startsWith('Ceph')) return 'from nodes/ceph/health-metric.sh every 30 s, with --ceph';
  if (query.namespace === 'AWS/ApiGateway' || query.namespace === 'AWS/Lambda')
    return 'from the local API adapter, per request';
  if (query.namespace === 'AWS/AutoScaling') return 'from the local cluster: its live compute nodes';
  if (
    query.name === 'DegradedMode' ||
    query.name === 'NoCapacity' ||
    query.name === 'NodeErrors' ||
    query.name === 'FunctionErrors' ||
    query.name === 'PolicyFaults'
  )
    return 'written only when it happens';
  return 'from the nodes and the dispatcher, as they run';
}

/** API Gateway's and Lambda's per-request metrics, for one request through the adapter. */
export function requestRecords(
  names: DashboardResources,
  request: {
    readonly latencyMs: number;
    readonly status: number;
    readonly failed: boolean;
    readonly concurrency: number;
  },
  at = Date.now(),
): string[] {
  return [
    emfRecord(
      'AWS/ApiGateway',
      [['ApiName']],
      { ApiName: names.apiName },
      {
        Count: [1, 'Count'],
        Latency: [request.latencyMs, 'Milliseconds'],
        '4XXError': [request.status >= 400 && request.status < 500 ? 1 : 0, 'Count'],
        '5XXError': [request.status >= 500 ? 1 : 0, 'Count'],
      },
      at,
    ),
    emfRecord(
      'AWS/Lambda',
      [['FunctionName']],
      { FunctionName: names.dispatcherFunctionName },
      {
        Invocations: [1, 'Count'],
        Errors: [request.failed ? 1 : 0, 'Count'],
        Throttles: [0, 'Count'], // nothing limits the adapter's concurrency
        Duration: [request.latencyMs, 'Milliseconds'],
        ConcurrentExecutions: [request.concurrency, 'Count'],
      },
      at,
    ),
  ];
}

/** The Auto Scaling group's metrics: its live compute nodes in service, and how many it should have. */
export function groupRecord(names: DashboardResources, inService: number, desired: number, at = Date.now()): string {
  return emfRecord(
    'AWS/AutoScaling',
    [['AutoScalingGroupName']],
    { AutoScalingGroupName: names.computeGroupName },
    {
      GroupInServiceInstances: [inService, 'None'],
      GroupDesiredCapacity: [desired, 'None'],
    },
    at,
  );
}

/**
 * ElastiCache's member metrics from a real Redis and its replicas: engine CPU (the main
 * thread's CPU time over the interval), memory used of maxmemory (or of the host's memory
 * when there is no maxmemory), connections, and each replica's lag as its primary sees it.
 * A member's id is its host:port.
 */
export function sampleElastiCache(
  primaryUrl: string,
  write: (line: string) => void,
  intervalMs = 2000,
): { stop(): Promise<void> } {
  const clients = new Map<string, RespClient>();
  const lastCpu = new Map<string, { cpu: number; at: number }>();
  /** INFO from one member; a client that once connected reconnects by itself, and a call fails at once while it is down. */
  const info = async (url: string, section?: string) => {
    let client = clients.get(url);
    if (!client) {
      client = await RespClient.connect({ url, onError: () => undefined });
      clients.set(url, client);
    }
    return parseInfo(String(await client.send(section ? ['INFO', section] : ['INFO'])));
  };
  const sampleMember = async (url: string, id: string, lagSeconds: number | undefined) => {
    const fields = await info(url);
    const at = Date.now();
    const cpu =
      Number(fields.used_cpu_sys_main_thread ?? fields.used_cpu_sys) +
      Number(fields.used_cpu_user_main_thread ?? fields.used_cpu_user);
    const before = lastCpu.get(id);
    lastCpu.set(id, { cpu, at });
    const capacity = Number(fields.maxmemory) > 0 ? Number(fields.maxmemory) : Number(fields.total_system_memory);
    const metrics: Record<string, readonly [number, string]> = {
      DatabaseMemoryUsagePercentage: [(100 * Number(fields.used_memory)) / capacity, 'Percent'],
      CurrConnections: [Number(fields.connected_clients), 'Count'],
    };
    if (before && at > before.at)
      metrics.EngineCPUUtilization = [Math.min(100, (100 * (cpu - before.cpu) * 1000) / (at - before.at)), 'Percent'];
    if (lagSeconds !== undefined) metrics.ReplicationLag = [lagSeconds, 'Seconds'];
    write(emfRecord('AWS/ElastiCache', [['CacheClusterId']], { CacheClusterId: id }, metrics, at));
  };
  const sample = async () => {
    const primary = new URL(primaryUrl);
    const replication = await info(primaryUrl, 'replication');
    await sampleMember(primaryUrl, `${primary.hostname}:${primary.port}`, undefined);
    for (const [key, value] of Object.entries(replication)) {
      if (!/^slave\d+$/.test(key)) continue;
      const replica = Object.fromEntries(value.split(',').map((pair) => pair.split('=')));
      const url = new URL(primaryUrl);
      url.hostname = replica.ip;
      url.port = replica.port;
      await sampleMember(url.toString(), `${replica.ip}:${replica.port}`, Number(replica.lag));
    }
  };
  let running = sample().catch(() => undefined);
  const timer = setInterval(() => {
    running = running.then(() => sample()).catch(() => undefined); // a Redis that went away: try again next time
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await Promise.all([...clients.values()].map((client) => client.close().catch(() => undefined)));
    },
  };
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

const HEALTH_SCRIPT = join(__dirname, '..', '..', 'nodes', 'ceph', 'health-metric.sh');

/** Runs the storage nodes' Ceph health script against a Ceph (its ceph.conf) now and every 30 s, as their timer does. */
export function runCephHealth(
  cephConf: string,
  write: (line: string) => void,
  intervalMs = 30_000,
): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const once = () =>
    new Promise<void>((resolve) => {
      const child = spawn('bash', [HEALTH_SCRIPT, '--conf', cephConf], { stdio: ['ignore', 'pipe', 'ignore'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.on('exit', () => {
        for (const line of output.split('\n')) if (line.trim()) write(line);
        resolve();
      });
    });
  running = once();
  const timer = setInterval(() => (running = running.then(once)), intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
