import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../local/cluster';
import { CORPUS } from '../../local/corpus';
import { type LocalDashboard, serveDashboard } from '../../local/dashboard/server';
import { compileWat } from '../../local/functions-build';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { corpusFolder } from '../support/cluster';
import { runScript } from '../support/processes';

/** An environment with no AWS credentials, config or metadata service. */
function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH!,
    HOME: mkdtempSync(join(tmpdir(), 'strata-home-')),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

/** Runs the operator CLI in its own process. */
function cli(args: string[], env = bareEnv(), options: { noNetwork?: boolean } = {}) {
  return runScript('bin/cli.ts', args, env, options);
}

describe('the operator CLI without a deployment', () => {
  test.each([[['--help']], [['invoke', '--help']], [['status', '--help']]])(
    '%p prints its usage and exits 0',
    async (args) => {
      const result = await cli(args);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^usage: npm run strata -- /);
    },
  );

  test.each([
    [['deploy'], 'unknown command "deploy"'],
    [['invoke'], 'give exactly one FUNCTION'],
    [['invoke', 'wordcount', '--data', '{key'], '--data must be JSON, got {key'],
    [['invoke', 'wordcount', '--via', 'ssh'], '--via must be lambda or api, got "ssh"'],
    [['invoke', 'wordcount', '--data', '{"key":"a"}', '--data', '{"key":"b"}'], '--data is given twice; give it once'],
    [
      ['functions', 'alias', 'f', 'live', '1e3', '--api', 'http://127.0.0.1:9'],
      'VERSION must be a whole number of at least 1, got "1e3"',
    ],
    [
      ['status', '--state', 'ftp://user:secret@host'],
      '--state (or STRATA_STATE_URL) must be a redis://, rediss:// or http:// URL, got one that starts "ftp:"',
    ],
  ])('%p exits 2 with the reason and the usage', async (args, message) => {
    const result = await cli(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('usage: npm run strata -- ');
  });

  test('with no credentials, invoke says so, even with no network at all', async () => {
    const result = await cli(['invoke', 'wordcount', '--region', 'eu-west-1'], bareEnv(), { noNetwork: true });
    expect(result.stderr.trim()).toBe(
      'no AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE / AWS_ACCESS_KEY_ID',
    );
    expect(result.status).toBe(1);
  });

  test('with no credentials, status says so and exits 1, even with no network at all', async () => {
    const result = await cli(['status', '--region', 'eu-west-1'], bareEnv(), { noNetwork: true });
    expect(result.stderr.trim()).toBe(
      'no AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE / AWS_ACCESS_KEY_ID',
    );
    expect(result.status).toBe(1);
  });

  test("status on AWS: the dashboard's figures per tier from GetMetricData, for every widget, and the dashboard's link", async () => {
    // AWS's answers from a loopback endpoint, in each service's own protocol, parsed by the real SDK clients.
    let denyMetrics = false;
    const asked: {
      Id: string;
      Expression?: string;
      MetricStat?: {
        Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] };
        Stat: string;
      };
    }[] = [];
    const server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const port = (server.address() as AddressInfo).port;
      const xml = (text: string) => void res.writeHead(200, { 'content-type': 'text/xml' }).end(text);
      if (String(req.headers['x-amz-target']).endsWith('.GetMetricData')) {
        if (denyMetrics) {
          return void res
            .writeHead(400, {
              'content-type': 'application/x-amz-json-1.0',
              'x-amzn-query-error': 'AccessDenied;Sender',
            })
            .end(
              JSON.stringify({
                __type: 'com.amazonaws.cloudwatch#AccessDeniedException',
                message: 'User: arn:aws:iam::1:user/ops is not authorized to perform: cloudwatch:GetMetricData',
              }),
            );
        }
        const request = JSON.parse(body) as { MetricDataQueries: typeof asked };
        asked.push(...request.MetricDataQueries);
        const results = request.MetricDataQueries.flatMap((query) =>
          query.Expression
            ? ['c1', 'c2'].map((node) => ({
                Id: query.Id,
                Label: node,
                StatusCode: 'Complete',
                Timestamps: [1_700_000_000],
                Values: [node === 'c1' ? 11 : 22],
              }))
            : [
                {
                  Id: query.Id,
                  Label: query.MetricStat!.Metric.MetricName,
                  StatusCode: 'Complete',
                  Timestamps: query.MetricStat!.Metric.MetricName.startsWith('PredictiveScaling')
                    ? []
                    : [1_700_000_000],
                  Values: query.MetricStat!.Metric.MetricName.startsWith('PredictiveScaling') ? [] : [7],
                },
              ],
        );
        return void res
          .writeHead(200, { 'content-type': 'application/x-amz-json-1.0' })
          .end(JSON.stringify({ MetricDataResults: results }));
      }
      const form = new URLSearchParams(body);
      if (form.get('Action') === 'DescribeStacks') {
        const outputs: Record<string, Record<string, string>> = {
          StrataDispatch: { ApiUrl: `http://127.0.0.1:${port}/v1/`, DispatcherFunctionName: 'strata-dispatcher-fn' },
          StrataCompute: { AutoScalingGroupName: 'strata-group', PredictiveScalingPolicies: 'cpu-policy,slot-policy' },
          StrataState: { ReplicationGroupId: 'strata-rg' },
          StrataObservability: { DashboardName: 'StrataDashboard' },
        };
        const members = Object.entries(outputs[form.get('StackName')!])
          .map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`)
          .join('');
        return xml(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${form.get('StackName')}</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2024-01-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
      }
      if (form.get('Action') === 'DescribeReplicationGroups') {
        const member = (id: string, role: string) =>
          `<NodeGroupMember><CacheClusterId>${id}</CacheClusterId><CurrentRole>${role}</CurrentRole><PreferredAvailabilityZone>eu-west-1a</PreferredAvailabilityZone></NodeGroupMember>`;
        return xml(
          `<DescribeReplicationGroupsResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/"><DescribeReplicationGroupsResult><ReplicationGroups><ReplicationGroup><ReplicationGroupId>strata-rg</ReplicationGroupId><Status>available</Status><NodeGroups><NodeGroup><NodeGroupMembers>${member('strata-rg-002', 'primary')}${member('strata-rg-001', 'replica')}</NodeGroupMembers></NodeGroup></NodeGroups></ReplicationGroup></ReplicationGroups></DescribeReplicationGroupsResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></DescribeReplicationGroupsResponse>`,
        );
      }
      if (req.url === '/v1/health')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok","computeNodes":2}');
      return void res.writeHead(400).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await cli(
        ['status', '--minutes', '5'],
        bareEnv({
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL: endpoint,
        }),
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const out = result.stdout;
      expect(out).toContain('latest one-minute figures of the last 5 minutes (CloudWatch):');
      for (const title of [
        'Tier 1: API Gateway and the dispatcher',
        'Tier 2: compute nodes',
        'Tier 3: storage nodes, offload, Ceph and the state store',
      ])
        expect(out).toContain(title);
      expect(out).toMatch(/^ {2}Decisions per node +c1 11, c2 22$/m);
      expect(out).toMatch(
        /^ {2}Nodes: in service, desired and forecast +in service 7, desired 7, forecast cpu-policy -, forecast slot-policy -$/m,
      );
      expect(out).toMatch(/^ {2}ElastiCache replication lag \(s\) +strata-rg-001 7, strata-rg-002 7$/m);
      expect(out).toContain(
        'the dashboard: https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/StrataDashboard',
      );
      expect(out).toContain('dispatcher: {"status":"ok","computeNodes":2}');
      // The queries named what the deployment calls each resource.
      const dimensionsOf = (name: string) =>
        asked.find((query) => query.MetricStat?.Metric.MetricName === name)?.MetricStat?.Metric.Dimensions;
      expect(dimensionsOf('Latency')).toEqual([{ Name: 'ApiName', Value: 'StrataDispatch' }]);
      expect(dimensionsOf('Invocations')).toEqual([{ Name: 'FunctionName', Value: 'strata-dispatcher-fn' }]);
      expect(dimensionsOf('GroupInServiceInstances')).toEqual([
        { Name: 'AutoScalingGroupName', Value: 'strata-group' },
      ]);
      expect(asked.find((query) => query.Expression?.includes('"Decisions"'))?.Expression).toBe(
        `SEARCH('{Strata,Node,service} MetricName="Decisions" service="dispatcher"', 'Sum', 60)`,
      );

      // Without cloudwatch:GetMetricData, it says what was denied and what the operator needs.
      denyMetrics = true;
      const denied = await cli(
        ['status'],
        bareEnv({
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL: endpoint,
        }),
      );
      expect(denied.stderr.trim()).toBe(
        'AWS denied the call: User: arn:aws:iam::1:user/ops is not authorized to perform: cloudwatch:GetMetricData (the operator needs read access: cloudformation:DescribeStacks, elasticache:DescribeReplicationGroups, cloudwatch:GetMetricData, execute-api:Invoke)',
      );
      expect(denied.status).toBe(1);
    } finally {
      server.close();
    }
  });

  test('with no region, status says so', async () => {
    const result = await cli(
      ['status'],
      bareEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }),
    );
    expect(result.stderr.trim()).toBe('no AWS region: pass --region or set AWS_REGION');
    expect(result.status).toBe(1);
  });

  test('when the stack is not deployed, invoke says which and what to run', async () => {
    // CloudFormation's own answer for a missing stack, from a local endpoint, parsed by the real SDK.
    const server = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(
        '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id StrataDispatch does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>',
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await cli(
        ['invoke', 'wordcount'],
        bareEnv({
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL_CLOUDFORMATION: endpoint,
        }),
      );
      expect(result.stderr.trim()).toBe(
        'stack StrataDispatch is not deployed in this account and region: run `npx cdk deploy --all` first (or pass --region)',
      );
      expect(result.status).toBe(1);
    } finally {
      server.close();
    }
  });

  test('--sign signs the request with SigV4 for execute-api in the given region', async () => {
    const seen: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      seen.push(req);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
      const result = await cli(
        ['invoke', 'sha256', '--url', url, '--sign', '--region', 'eu-west-1', '--data', '{"data":"x"}'],
        bareEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }),
      );
      expect(result.stdout.trim()).toBe('{"ok":true}');
      expect(seen[0].url).toBe('/v1/invoke/sha256');
      expect(seen[0].headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*x-amz-date/,
      );
      expect(seen[0].headers['x-amz-content-sha256'] ?? seen[0].headers['x-amz-date']).toBeDefined();
    } finally {
      server.close();
    }
  });
});

describe('the operator CLI against the local cluster (real processes, real redis-server)', () => {
  let redis: RedisServer;
  let cluster: LocalCluster;
  let dashboard: LocalDashboard;

  beforeAll(async () => {
    redis = await startRedisServer();
    const metricsDir = mkdtempSync(join(tmpdir(), 'strata-metrics-'));
    dashboard = await serveDashboard({ sources: [{ folder: metricsDir }] });
    cluster = await LocalCluster.start({
      redisUrl: redis.url,
      objects: { folder: await corpusFolder() },
      computeNodes: 2,
      slots: 1,
      metricsDir,
      functionsFolder: mkdtempSync(join(tmpdir(), 'strata-functions-')), // the functions API, for functions deploy
    });
    await cluster.waitForNodes();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await dashboard?.close();
    await redis?.stop();
  });

  test("status --dashboard prints the page's figures per tier, the same the page shows", async () => {
    for (let i = 0; i < 4; i++)
      expect((await cli(['invoke', 'sha256', '--url', cluster.url, '--data', '{"data":"x","rounds":1}'])).status).toBe(
        0,
      );
    await new Promise((resolve) => setTimeout(resolve, 500)); // the page reads the files it follows
    const page = dashboard.data();
    const result = await cli(['status', '--dashboard', dashboard.url, '--state', redis.url]);
    expect(result.status).toBe(0);
    const decisions = page.widgets
      .find((widget) => widget.title === 'Decisions per node')!
      .series.map((line) => `${line.label} ${line.latest}`)
      .join(', ');
    expect(decisions).toMatch(/^c1 \d+, c2 \d+$/);
    expect(result.stdout).toMatch(new RegExp(`^ {2}Decisions per node +${decisions}$`, 'm'));
    expect(result.stdout).toMatch(/^ {2}Nodes: in service, desired and forecast +in service 2, desired 2$/m);
    expect(result.stdout).toMatch(/^ {2}ElastiCache engine CPU % +127\.0\.0\.1:\d+ [\d.]+$/m);
    expect(result.stdout).toContain(`the dashboard: ${dashboard.url}`);
    expect(result.stdout).toMatch(/^3 live node\(s\)$/m);
  });

  test('invoke --url runs a function through the local API and prints its answer', async () => {
    const result = await cli([
      'invoke',
      'wordcount',
      '--url',
      cluster.url,
      '--data',
      JSON.stringify({ key: CORPUS.small.key }),
    ]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ words: expect.any(Number) });
    expect(result.stderr).toMatch(/^status 200; .*node=c\d/m);
  });

  test('invoke of an unknown function prints the 404 and exits 1', async () => {
    const result = await cli(['invoke', 'nope', '--url', cluster.url]);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: 'no function "nope"' });
  });

  test('status --state lists every live node with its slots and metrics', async () => {
    const result = await cli(['status', '--state', redis.url]);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(result.stdout).not.toContain('Tier 1'); // the page's figures only with --dashboard
    expect(lines[0]).toMatch(
      /^node\s+role\s+address\s+slots\s+in flight\s+cpu\s+memory\s+load\/core\s+state\s+heartbeat$/,
    );
    expect(lines.slice(1, -1).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([
      ['c1', 'compute'],
      ['c2', 'compute'],
      ['s1', 'storage'],
    ]);
    expect(lines.at(-1)).toBe('3 live node(s)');
  });

  test('functions deploy: an empty --alias is sent and refused by the API (exit 1, naming it), not dropped; a good one moves', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'strata-package-'));
    const manifest = { name: 'nop', abi: 1, entryPoints: ['run'], limits: { memoryPages: 1, timeMs: 1000 } };
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(
      join(folder, 'module.wasm'),
      await compileWat(`(module (import "env" "memory" (memory 1))
        (func (export "alloc") (param i32) (result i32) (i32.const 0)) (func (export "run") (param i32 i32)))`),
    );
    const deploy = (alias: string) =>
      cli(['functions', 'deploy', folder, '--name', 'nop', '--alias', alias, '--api', cluster.url]);
    const empty = await deploy('');
    expect([empty.status, empty.stdout + empty.stderr]).toEqual([
      1,
      expect.stringMatching(/alias must be 1 to 32 characters/),
    ]);
    const live = await deploy('live');
    expect([live.status, JSON.parse(live.stdout)]).toEqual([0, expect.objectContaining({ version: 1, alias: 'live' })]);
  });

  test('status reads the state store URL from STRATA_STATE_URL too, so that its password is not on the command line', async () => {
    const result = await cli(['status'], { ...bareEnv(), STRATA_STATE_URL: redis.url });
    expect([result.status, result.stdout.trim().split('\n').at(-1)]).toEqual([0, '3 live node(s)']);
  });
});
