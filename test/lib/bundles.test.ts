import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { policyNames } from '@strata/policy-engine';
import { App } from 'aws-cdk-lib';
import { defineStrata } from '../../lib/app';
import { proxyEvent } from '../../local/api-adapter';
import { CORPUS } from '../../local/corpus';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { cdkJsonContext } from '../support/cdk';
import { corpusFolder } from '../support/cluster';
import { type OnLoopback, onLoopback } from '../support/loopback';

// One synth for the file with real esbuild bundling of every asset (the policy layer,
// the dispatcher, the node bundle), then each bundle is run as Lambda or EC2 would run it.
const outdir = mkdtempSync(join(tmpdir(), 'strata-bundles-'));
const app = new App({ context: cdkJsonContext(), outdir });
const stacks = defineStrata(app);
const assembly = app.synth();
const templateOf = (stackName: string) =>
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by the test as it comes
  assembly.getStackByName(stackName).template as { Resources: Record<string, { Type: string; Properties: any }> };
const assetDir = (s3Key: string) => join(assembly.directory, `asset.${s3Key.replace(/\.zip$/, '')}`);

const dispatchResources = Object.values(templateOf(stacks.dispatch.stackName).Resources);
const layerDir = assetDir(
  dispatchResources.find((r) => r.Type === 'AWS::Lambda::LayerVersion')!.Properties.Content.S3Key,
);
const layerNodeModules = join(layerDir, 'nodejs', 'node_modules');
const dispatcherDir = assetDir(
  dispatchResources.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler')!
    .Properties.Code.S3Key,
);
const functionsApiDir = assetDir(
  dispatchResources.find(
    (r) =>
      r.Type === 'AWS::Lambda::Function' &&
      r.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'strata-functions-api',
  )!.Properties.Code.S3Key,
);
const launchTemplate = Object.values(templateOf(stacks.compute.stackName).Resources).find(
  (r) => r.Type === 'AWS::EC2::LaunchTemplate',
)!;
const nodeBundleKey = /\/([0-9a-f]{64}\.zip)' \/tmp\/strata-node\.zip/.exec(
  JSON.stringify(launchTemplate.Properties.LaunchTemplateData.UserData),
)![1];
const nodeBundleDir = assetDir(nodeBundleKey);

/**
 * What the Lambda runtime itself provides (the AWS SDK, under /var/runtime/node_modules):
 * this project's modules, but not the policy engine, which must come from the layer.
 */
function lambdaRuntimeModules(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'strata-runtime-')), 'node_modules');
  mkdirSync(dir);
  const projectModules = join(__dirname, '..', '..', 'node_modules');
  for (const name of readdirSync(projectModules)) {
    if (name !== '@strata' && name !== '.bin') symlinkSync(join(projectModules, name), join(dir, name));
  }
  return dir;
}
const runtimeModules = lambdaRuntimeModules();

/** Runs `script` in a fresh Node.js process with only the given environment; answers its output. */
function runFresh(script: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, ...env },
    cwd: tmpdir(),
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('the policy layer', () => {
  test('loads in a fresh Node process from the Lambda layer path and exports every registered policy', () => {
    const script = `
      const engine = require('@strata/policy-engine');
      const ctx = { now: Date.now(), random: Math.random, heartbeatTtlMs: 3000 };
      const node = { id: 'n1', address: 'a', role: 'compute', slotsTotal: 1, slotsUsed: 0, inFlight: 0, cpuBusy: 0, memoryUsed: 0, load1: 0, load5: 0, load15: 0, cores: 1, heartbeatAt: Date.now(), draining: false };
      console.log(JSON.stringify({
        invocation: engine.policyNames('invocation'),
        node: engine.policyNames('node'),
        offload: engine.policyNames('offload'),
        decision: engine.invocationStrategy('round-robin')([node], { functionName: 'f', hops: 0 }, ctx).rule,
        plugin: engine.invocationStrategy('least-memory', { ceiling: 0.5 })([node], { functionName: 'f', hops: 0 }, ctx),
      }));`;
    const output = execFileSync(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH, NODE_PATH: layerNodeModules },
      cwd: tmpdir(),
    });
    expect(JSON.parse(output.toString())).toEqual({
      invocation: policyNames('invocation'),
      node: policyNames('node'),
      offload: policyNames('offload'),
      decision: 'round-robin',
      // The example plugin, named in cdk.json, is bundled into the layer and registered when it loads.
      plugin: { kind: 'select', rule: 'in-order', candidates: [{ id: 'n1', limit: 1 }] },
    });
    expect(policyNames('invocation')).toContain('least-memory');
  });
});

describe('the dispatcher and node bundles, run as Lambda and EC2 run them', () => {
  let redis: RedisServer;
  let node: ChildProcess;

  beforeAll(async () => {
    redis = await startRedisServer();
    const objects = await corpusFolder();
    node = spawn(
      process.execPath,
      [
        join(nodeBundleDir, 'compute-node.js'),
        '--id',
        'bundled-1',
        '--state',
        redis.url,
        '--objects',
        objects,
        '--heartbeat-ms',
        '200',
      ],
      {
        cwd: tmpdir(),
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      node.once('exit', (code) => reject(new Error(`the bundled compute node exited with ${code}`)));
      createInterface({ input: node.stdout! }).on('line', (line) => line.startsWith('ready ') && resolve());
    });
  }, 60_000);

  afterAll(async () => {
    node?.kill('SIGTERM');
    await redis?.stop();
  });

  const invokeScript = `
    const { handler } = require(${JSON.stringify(join(dispatcherDir, 'index.js'))});
    handler(JSON.parse(process.env.EVENT)).then((reply) => {
      const sdkModules = Object.keys(require.cache).filter((path) => path.includes('@aws-sdk')).length;
      console.log(JSON.stringify({ ...reply, sdkModules })); process.exit(0); },
      (error) => { console.error(error); process.exit(1); });`;
  const event = () =>
    JSON.stringify(
      proxyEvent({
        method: 'POST',
        url: '/invoke/wordcount',
        rawHeaders: ['content-type', 'application/json'],
        body: Buffer.from(JSON.stringify({ key: CORPUS.small.key })),
      }),
    );

  test('the dispatcher bundle leaves the policy engine out and takes it from the layer', () => {
    const source = readFileSync(join(dispatcherDir, 'index.js'), 'utf8');
    expect(source).toContain('require("@strata/policy-engine")');
    expect(source).not.toContain('single-entry'); // a policy name only the engine's registry spells
    // The state store user's secret is read with one signed request, not the SDK; the S3 client (the functions
    // registry, read only when its cache in Redis is empty) is required lazily, never at load.
    expect(source).not.toMatch(/^var import_client_[a-z0-9_]+ ?= ?require\("@aws-sdk/m);
    expect(source).not.toContain('@aws-sdk/client-secrets-manager');
    const withoutLayer = runFresh(invokeScript, {
      EVENT: event(),
      STRATA_REDIS_URL: redis.url,
      NODE_PATH: runtimeModules,
    });
    expect(withoutLayer.status).not.toBe(0);
    expect(withoutLayer.stderr).toContain("Cannot find module '@strata/policy-engine'");
  });

  test('with the layer on the path, the bundled handler dispatches a word count to the bundled compute node', () => {
    const result = runFresh(invokeScript, {
      EVENT: event(),
      STRATA_REDIS_URL: redis.url,
      NODE_PATH: `${layerNodeModules}:${runtimeModules}`,
    });
    expect(result.stderr).not.toContain('Error');
    const reply = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
      sdkModules: number;
    };
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['x-strata-node']).toBe('bundled-1');
    expect(reply.sdkModules).toBe(0); // an invocation loads no AWS SDK module
    expect(JSON.parse(reply.body)).toMatchObject({ words: expect.any(Number) });
  });

  test('the node bundle carries both node programs and the setup scripts', () => {
    for (const program of ['compute-node.js', 'storage-agent.js']) {
      const help = spawnSync(process.execPath, [join(nodeBundleDir, program), '--help'], {
        env: { PATH: process.env.PATH },
        cwd: tmpdir(),
        encoding: 'utf8',
      });
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/^usage: /);
    }
    for (const script of [
      'node-setup/compute-node.sh',
      'node-setup/storage-node.sh',
      'node-setup/drain-on-termination.sh',
      'ceph/aws-cluster.sh',
      'ceph/pool.sh',
    ]) {
      expect(readFileSync(join(nodeBundleDir, script), 'utf8')).toMatch(/^#!\/bin\/bash\n/);
    }
  });
});

describe('the functions API bundle, run as Lambda runs it', () => {
  let redis: RedisServer;
  let s3: OnLoopback;
  const s3Requests: string[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    // S3 as the bucket answers an empty registry's listing (ListObjectsV2, no keys).
    s3 = await onLoopback(
      createServer((request, response) => {
        s3Requests.push(`${request.method} ${request.url}`);
        response
          .writeHead(200, { 'content-type': 'application/xml' })
          .end(
            '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>',
          );
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await s3?.close();
    await redis?.stop();
  });

  test('takes the engine from the layer and the SDK from the runtime, connects to the state store, lists the bucket', async () => {
    const source = readFileSync(join(functionsApiDir, 'index.js'), 'utf8');
    expect(source).toContain('require("@strata/policy-engine")');
    expect(source).toContain('require("@aws-sdk/client-s3")'); // the runtime's, not bundled
    // Not runFresh: the S3 stand-in answers from this process, which spawnSync would block.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const { handler } = require(${JSON.stringify(join(functionsApiDir, 'index.js'))});
        handler({ httpMethod: 'GET', path: '/functions', requestContext: {} }).then(
          (reply) => { console.log(JSON.stringify(reply)); process.exit(0); },
          (error) => { console.error(error); process.exit(1); });`,
      ],
      {
        cwd: tmpdir(),
        env: {
          PATH: process.env.PATH,
          NODE_PATH: `${layerNodeModules}:${runtimeModules}`,
          STRATA_FUNCTIONS_BUCKET: 'function-code',
          STRATA_REDIS_URL: redis.url,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_ENDPOINT_URL_S3: `http://${s3.address}`,
        },
      },
    );
    const result = { stdout: '', stderr: '' };
    child.stdout!.on('data', (chunk: Buffer) => {
      result.stdout += chunk;
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      result.stderr += chunk;
    });
    await new Promise((resolve) => child.once('exit', resolve));
    expect(result.stderr).not.toContain('Error');
    const reply = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { statusCode: number; body: string };
    expect(reply.statusCode).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ functions: [], builtins: expect.arrayContaining(['wordcount']) });
    expect(s3Requests).toEqual([expect.stringMatching(/^GET \/function-code\/?\?list-type=2&prefix=functions%2F/)]);
  });
});
