import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../local/cluster';
import { CORPUS } from '../../local/corpus';
import { startRedisServer, type RedisServer } from '../../local/redis-server';
import { corpusFolder } from '../support/cluster';
import { runScript } from '../support/processes';

/** An environment with no AWS credentials, config or metadata service. */
function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH!, HOME: mkdtempSync(join(tmpdir(), 'strata-home-')), AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

/** Runs the operator CLI in its own process. */
function cli(args: string[], env = bareEnv(), options: { noNetwork?: boolean } = {}) {
  return runScript('bin/cli.ts', args, env, options);
}

describe('the operator CLI without a deployment', () => {
  test.each([[['--help']], [['invoke', '--help']], [['status', '--help']]])('%p prints its usage and exits 0', async (args) => {
    const result = await cli(args);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^usage: npm run strata -- /);
  });

  test.each([
    [['deploy'], 'unknown command "deploy"'],
    [['invoke'], 'give exactly one FUNCTION'],
    [['invoke', 'wordcount', '--data', '{key'], '--data must be JSON, got {key'],
    [['invoke', 'wordcount', '--via', 'ssh'], '--via must be lambda or api, got "ssh"'],
    [['status', '--state', 'ftp://host'], '--state must be a redis://, rediss:// or http:// URL, got "ftp://host"'],
  ])('%p exits 2 with the reason and the usage', async (args, message) => {
    const result = await cli(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('usage: npm run strata -- ');
  });

  test('with no credentials, invoke says so, even with no network at all', async () => {
    const result = await cli(['invoke', 'wordcount', '--region', 'eu-west-1'], bareEnv(), { noNetwork: true });
    expect(result.stderr.trim()).toBe('no AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE / AWS_ACCESS_KEY_ID');
    expect(result.status).toBe(1);
  });

  test('with no region, status says so', async () => {
    const result = await cli(['status'], bareEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }));
    expect(result.stderr.trim()).toBe('no AWS region: pass --region or set AWS_REGION');
    expect(result.status).toBe(1);
  });

  test('when the stack is not deployed, invoke says which and what to run', async () => {
    // CloudFormation's own answer for a missing stack, from a local endpoint, parsed by the real SDK.
    const server = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end('<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id StrataDispatch does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await cli(['invoke', 'wordcount'], bareEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_CLOUDFORMATION: endpoint }));
      expect(result.stderr.trim()).toBe('stack StrataDispatch is not deployed in this account and region: run `npx cdk deploy --all` first (or pass --region)');
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
      const result = await cli(['invoke', 'sha256', '--url', url, '--sign', '--region', 'eu-west-1', '--data', '{"data":"x"}'], bareEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }));
      expect(result.stdout.trim()).toBe('{"ok":true}');
      expect(seen[0].url).toBe('/v1/invoke/sha256');
      expect(seen[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*x-amz-date/);
      expect(seen[0].headers['x-amz-content-sha256'] ?? seen[0].headers['x-amz-date']).toBeDefined();
    } finally {
      server.close();
    }
  });
});

describe('the operator CLI against the local cluster (real processes, real redis-server)', () => {
  let redis: RedisServer;
  let cluster: LocalCluster;

  beforeAll(async () => {
    redis = await startRedisServer();
    cluster = await LocalCluster.start({ redisUrl: redis.url, objects: { folder: await corpusFolder() }, computeNodes: 2, slots: 1 });
    await cluster.waitForNodes();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await redis?.stop();
  });

  test('invoke --url runs a function through the local API and prints its answer', async () => {
    const result = await cli(['invoke', 'wordcount', '--url', cluster.url, '--data', JSON.stringify({ key: CORPUS.small.key })]);
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
    expect(lines[0]).toMatch(/^node\s+role\s+address\s+slots\s+in flight\s+cpu\s+memory\s+load\/core\s+state\s+heartbeat$/);
    expect(lines.slice(1, -1).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([['c1', 'compute'], ['c2', 'compute'], ['s1', 'storage']]);
    expect(lines.at(-1)).toBe('3 live node(s)');
  });
});
