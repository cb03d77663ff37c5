import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { call, corpusFolder } from '../support/cluster';

// A node's /health is what its boot script waits for before it signals CloudFormation
// that the node counts: 200 only while its heartbeat reaches the state store.
let redis: RedisServer;
let node: ChildProcess;
let url: string;

beforeAll(async () => {
  redis = await startRedisServer();
  node = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, '..', '..', 'nodes', 'compute', 'main.ts'),
      '--id',
      'h1',
      '--state',
      redis.url,
      '--objects',
      await corpusFolder(),
      '--heartbeat-ms',
      '200',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: node.stdout! }).on(
      'line',
      (line) => line.startsWith('ready ') && resolve(`http://${line.slice('ready '.length)}`),
    );
    node.once('exit', (code) => reject(new Error(`the compute node exited with ${code}`)));
  });
}, 60_000);

afterAll(async () => {
  node?.kill('SIGKILL');
  await redis?.stop();
});

const healthOf = async () => {
  const reply = await call(url, 'GET', '/health');
  return {
    status: reply.status,
    registered: (JSON.parse(reply.body.toString()) as { registered: boolean }).registered,
  };
};

test("a node's /health is 200 while its heartbeat reaches the state store, 503 when it does not, 200 again after", async () => {
  expect(await healthOf()).toEqual({ status: 200, registered: true });
  await redis.stop();
  await new Promise((resolve) => setTimeout(resolve, 2500)); // a heartbeat fails (the client gives up after its 2 s connect timeout)
  expect(await healthOf()).toEqual({ status: 503, registered: false });
  await redis.restart();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(await healthOf()).toEqual({ status: 200, registered: true });
}, 30_000);
