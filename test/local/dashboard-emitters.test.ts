import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { definePolicy, registerPolicy } from '@strata/policy-engine';
import {
  ALARMS,
  everyMetricRead,
  fixedDimensions,
  type MetricQuery,
  STRATA_NAMESPACE,
} from '../../common/metrics/dashboard';
import { policyFaultEmf } from '../../common/policy-faults';
import { RedisStateStore } from '../../common/state';
import { guardedStrategy } from '../../lambdas/dispatcher/handler';
import { type OneHostCeph, startCeph } from '../../local/ceph';
import { type Datapoint, datapointsOf } from '../../local/dashboard/emf';
import { LOCAL_RESOURCES } from '../../local/dashboard/stand-ins';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { corpusFolder } from '../support/cluster';

// Every metric the dashboard, the alarms and the scaling policies read, against what the
// real emitters write: the dispatcher's Lambda handler (in a process of its own, its
// stdout read as Lambda's log processing reads it), a compute node's and a storage
// node's metrics agents (their --emf-file), and the Ceph health script against a real
// Ceph. Same namespace, name and dimension set, often enough for each alarm's periods.
const ROOT = join(__dirname, '..', '..');
const MINUTE = 60_000;

let redis: RedisServer;
let ceph: OneHostCeph;
const children: ChildProcess[] = [];
const emitted: { emitter: string; point: Datapoint }[] = [];

function spawnNode(entry: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      line.startsWith('ready ') ? resolve(child) : reject(new Error(line)),
    );
    child.once('exit', (code) => reject(new Error(`${entry} exited ${code}`)));
  });
}

function collect(emitter: string, lines: string): void {
  for (const line of lines.split('\n')) for (const point of datapointsOf(line)) emitted.push({ emitter, point });
}

/**
 * The dispatcher's handler in a fresh process with a clock the script moves: no node
 * (no capacity), a node that answers 500 and then a user function's error (424), a healthy node, then ElastiCache gone for four
 * minutes of invocations every 10 s. Each step waits for the test's "go" on stdin.
 */
const HANDLER_SCRIPT = `
  const realNow = Date.now;
  let offset = 0;
  Date.now = () => realNow() + offset;
  const { handler } = require(${JSON.stringify(join(ROOT, 'lambdas', 'dispatcher', 'handler.ts'))});
  const event = () => ({ httpMethod: 'POST', path: '/invoke/sha256', headers: { 'content-type': 'application/json' }, body: '{"data":"x","rounds":1}', isBase64Encoded: false, requestContext: { requestId: 'r' } });
  const go = () => new Promise((resolve) => process.stdin.once('data', resolve));
  const step = (name) => process.stdout.write('STEP ' + name + '\\n');
  (async () => {
    const statuses = [];
    statuses.push((await handler(event())).statusCode); step('no-node');
    // Real time passes between the steps (the node list is read again); the clock moves only in the outage.
    await go(); for (let i = 0; i < 2; i++) statuses.push((await handler(event())).statusCode); step('broken-node');
    await go(); for (let i = 0; i < 3; i++) statuses.push((await handler(event())).statusCode); step('healthy');
    // The outage: an invocation every 10 s or so; the clock runs 100 times fast during each,
    // so that a wait for a free slot (10 s) takes a tenth of a second.
    await go();
    for (let i = 0; i < 24; i++) {
      offset += 10000;
      const tick = setInterval(() => (offset += 1000), 10);
      statuses.push((await handler(event())).statusCode);
      clearInterval(tick);
    }
    step('degraded ' + JSON.stringify(statuses));
    process.exit(0);
  })();`;

beforeAll(async () => {
  [redis, ceph] = await Promise.all([startRedisServer(), startCeph({ osds: 1 })]);
}, 240_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await redis?.stop();
  await ceph?.stop();
});

/** What AWS publishes itself, by namespace: the names Strata reads and the one dimension set it reads them by. */
const AWS_PUBLISHED: Record<
  string,
  { readonly dimensions: string; readonly names: readonly string[]; readonly when: string }[]
> = {
  'AWS/ApiGateway': [
    {
      dimensions: 'ApiName',
      names: ['Latency', 'Count', '4XXError', '5XXError'],
      when: 'every REST API, each minute with traffic',
    },
  ],
  'AWS/Lambda': [
    {
      dimensions: 'FunctionName',
      names: ['Invocations', 'Errors', 'Throttles', 'ConcurrentExecutions', 'Duration'],
      when: 'every function, each minute with invocations',
    },
  ],
  'AWS/EC2': [
    {
      dimensions: 'AutoScalingGroupName',
      names: ['CPUUtilization'],
      when: 'instances of a group, every minute with detailed monitoring (the launch template turns it on)',
    },
  ],
  'AWS/AutoScaling': [
    {
      dimensions: 'AutoScalingGroupName',
      names: ['GroupInServiceInstances', 'GroupDesiredCapacity'],
      when: 'every minute once group metrics are enabled (stacks.test: MetricsCollection)',
    },
    {
      dimensions: 'AutoScalingGroupName,PairIndex,PolicyName',
      names: ['PredictiveScalingCapacityForecast', 'PredictiveScalingLoadForecast'],
      when: 'hourly, once a predictive policy has its first forecast (24 hours of metrics)',
    },
  ],
  'AWS/ElastiCache': [
    {
      dimensions: 'CacheClusterId',
      names: ['EngineCPUUtilization', 'DatabaseMemoryUsagePercentage', 'CurrConnections', 'ReplicationLag'],
      when: 'every node each minute; ReplicationLag from replicas only',
    },
  ],
};

test('every AWS metric read is one AWS publishes, by the dimension set it publishes it with', () => {
  for (const { query } of everyMetricRead().filter(({ query }) => query.namespace !== STRATA_NAMESPACE)) {
    const dimensions = Object.keys(query.dimensions).sort().join(',');
    const published = (AWS_PUBLISHED[query.namespace] ?? []).some(
      (entry) => entry.dimensions === dimensions && entry.names.includes(query.name),
    );
    expect({ metric: `${query.namespace} ${query.name} {${dimensions}}`, published }).toEqual({
      metric: `${query.namespace} ${query.name} {${dimensions}}`,
      published: true,
    });
  }
});

describe('every metric read is emitted, as read', () => {
  let handlerStatuses: number[] = [];

  beforeAll(async () => {
    const folder = mkdtempSync(join(tmpdir(), 'strata-emitters-'));
    const objects = await corpusFolder();
    const state = await RedisStateStore.connect({ url: redis.url });
    // First a node's own failure (500), then a user function's (424 with its header): NodeErrors, then FunctionErrors.
    let answered = 0;
    const broken = createServer((_req, res) =>
      answered++ === 0
        ? res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"broken"}')
        : res
            .writeHead(424, { 'content-type': 'application/json', 'x-strata-function-error': 'trap' })
            .end('{"error":"function f (version 1) failed: unreachable","kind":"trap"}'),
    );
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));

    const handler = spawn(process.execPath, ['--import', 'tsx', '-e', HANDLER_SCRIPT], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        STRATA_REDIS_URL: redis.url,
        AWS_LAMBDA_FUNCTION_NAME: 'strata-dispatcher',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(handler);
    let stdout = '';
    const steps = createInterface({ input: handler.stdout! });
    const nextStep = () =>
      new Promise<string>((resolve) => {
        const onLine = (line: string) => {
          stdout += `${line}\n`;
          if (line.startsWith('STEP ')) {
            steps.off('line', onLine);
            resolve(line.slice(5));
          }
        };
        steps.on('line', onLine);
      });
    const go = () => handler.stdin!.write('go\n');

    expect(await nextStep()).toBe('no-node');
    const brokenReport = {
      id: 'broken',
      address: `127.0.0.1:${(broken.address() as AddressInfo).port}`,
      role: 'compute' as const,
      slotsTotal: 1,
      slotsUsed: 0,
      cpuBusy: 0,
      memoryUsed: 0,
      load1: 0,
      load5: 0,
      load15: 0,
      cores: 1,
      heartbeatAt: Date.now(),
      draining: false,
    };
    await state.heartbeat(brokenReport, 60_000);
    go();
    expect(await nextStep()).toBe('broken-node');
    await state.deregister('broken');
    broken.close();
    await Promise.all([
      spawnNode('nodes/compute/main.ts', [
        '--id',
        'c1',
        '--state',
        redis.url,
        '--objects',
        objects,
        '--emf-file',
        join(folder, 'c1.emf'),
      ]),
      spawnNode('nodes/storage/main.ts', [
        '--id',
        's1',
        '--state',
        redis.url,
        '--objects',
        objects,
        '--emf-file',
        join(folder, 's1.emf'),
      ]),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // a few samples of each agent
    go();
    expect(await nextStep()).toBe('healthy');
    await state.close();
    await redis.stop();
    go();
    const last = await nextStep();
    handlerStatuses = JSON.parse(last.slice('degraded '.length)) as number[];
    collect('dispatcher handler (Powertools EMF on stdout)', stdout);
    // Policy faults, from the guards the dispatcher and a compute node wrap their policies in.
    registerPolicy(
      'emitters-throws',
      definePolicy({
        tier: 'invocation',
        summary: 'throws',
        create: () => () => {
          throw new Error('plugin bug');
        },
      }),
    );
    const faultMetrics = new Metrics({ namespace: STRATA_NAMESPACE, serviceName: 'dispatcher' });
    const guarded = guardedStrategy(
      'emitters-throws',
      {},
      {
        metrics: faultMetrics,
        logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      },
    );
    guarded.policy([], { functionName: 'f', hops: 0 }, { now: Date.now(), random: Math.random, heartbeatTtlMs: 3000 });
    collect('dispatcher policy guard (Powertools EMF)', JSON.stringify(faultMetrics.serializeMetrics()));
    collect(
      'compute node policy guard',
      `${policyFaultEmf('compute', 'node', Date.now())}\n${policyFaultEmf('compute', 'offload', Date.now())}`,
    );
    collect('compute node metrics agent', readFileSync(join(folder, 'c1.emf'), 'utf8'));
    collect('storage node metrics agent', readFileSync(join(folder, 's1.emf'), 'utf8'));
    await new Promise<void>((resolve) => {
      const script = spawn('bash', [join(ROOT, 'nodes/ceph/health-metric.sh'), '--conf', ceph.conf], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      script.stdout.on('data', (chunk) => (output += chunk));
      script.on('exit', () => {
        collect('nodes/ceph/health-metric.sh', output);
        resolve();
      });
    });
  }, 240_000);

  test('the handler saw each case: no capacity, a node 5xx, a function error, healthy answers, then 24 invocations in the outage', () => {
    expect(handlerStatuses.slice(0, 6)).toEqual([503, 500, 424, 200, 200, 200]);
    expect(handlerStatuses).toHaveLength(6 + 24);
  });

  const matching = (query: MetricQuery) => {
    const fixed = fixedDimensions(query, LOCAL_RESOURCES);
    const keys = Object.keys(query.dimensions).sort().join(',');
    return emitted.filter(
      ({ point }) =>
        point.namespace === query.namespace &&
        point.name === query.name &&
        Object.keys(point.dimensions).sort().join(',') === keys &&
        Object.entries(fixed).every(([k, v]) => point.dimensions[k] === v),
    );
  };

  test('every Strata metric a widget, an alarm or a scaling policy reads is written with that namespace, name and dimension set', () => {
    const rows: string[] = [];
    for (const { query, readers } of everyMetricRead().filter(({ query }) => query.namespace === STRATA_NAMESPACE)) {
      const found = matching(query);
      const dims = Object.entries(query.dimensions)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : 'each' in v ? `<${v.each}>` : `<${v.ref}>`}`)
        .join(',');
      rows.push(
        `${query.name} {${dims}}: ${found.length} datapoints from ${[...new Set(found.map((f) => f.emitter))].join(', ') || 'NOTHING'} — read by ${readers.join('; ')}`,
      );
      expect({ metric: `${query.name} {${dims}}`, emitters: found.length > 0 }).toEqual({
        metric: `${query.name} {${dims}}`,
        emitters: true,
      });
    }
    console.log(`what reads each Strata metric, and what wrote it in this run:\n${rows.join('\n')}`);
  });

  test('the metrics agents write every second: each one-minute period of the breaching-on-missing alarms has data', () => {
    for (const alarm of ALARMS.filter(
      (a) =>
        a.metric.namespace === STRATA_NAMESPACE && a.missingData === 'breaching' && !a.metric.name.startsWith('Ceph'),
    )) {
      const times = matching(alarm.metric)
        .map(({ point }) => point.timestamp)
        .sort((a, b) => a - b);
      expect(times.length).toBeGreaterThan(2);
      const widestGap = Math.max(...times.slice(1).map((t, i) => t - times[i]));
      expect({ alarm: alarm.name, gapUnderAMinute: widestGap < MINUTE / 2 }).toEqual({
        alarm: alarm.name,
        gapUnderAMinute: true,
      });
    }
  });

  test('the Ceph health timer fires every 30 s, so each minute of CephUnhealthy (missing breaches) gets a value', () => {
    const setup = readFileSync(join(ROOT, 'nodes/node-setup/storage-node.sh'), 'utf8');
    const timer = setup.slice(setup.indexOf('strata-ceph-health.timer'));
    expect(timer).toMatch(/OnUnitActiveSec=30s/);
    expect(timer).toMatch(/AccuracySec=1s/);
    expect(
      matching(ALARMS.find((a) => a.name === 'CephUnhealthy')!.metric).map(({ point }) => point.values[0]),
    ).toEqual([0]); // the real cluster is HEALTH_OK
  });

  test('DegradedMode: once a minute per degraded container, so the alarm (2 minutes, missing = OK) stays in ALARM through the outage', () => {
    const degraded = matching(ALARMS.find((a) => a.name === 'DegradedState')!.metric).map(({ point }) => point);
    const perMinute = new Map<number, number>();
    for (const point of degraded)
      perMinute.set(
        Math.floor(point.timestamp / MINUTE),
        (perMinute.get(Math.floor(point.timestamp / MINUTE)) ?? 0) + point.values[0],
      );
    const minutes = [...perMinute.keys()].sort((a, b) => a - b);
    // 24 invocations 10 to 20 s apart: four minutes of outage or more, each minute (first to last) with exactly one.
    expect(minutes.length).toBeGreaterThanOrEqual(4);
    expect(minutes[minutes.length - 1] - minutes[0] + 1).toBe(minutes.length);
    expect([...perMinute.values()].every((sum) => sum === 1)).toBe(true);
    const states = minutes
      .slice(1)
      .map((minute) => (perMinute.get(minute)! > 0 && perMinute.get(minute - 1)! > 0 ? 'ALARM' : 'OK'));
    expect(states.every((state) => state === 'ALARM')).toBe(true);
  });
});
