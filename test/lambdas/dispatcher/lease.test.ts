import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { invocationStrategy } from '@strata/policy-engine';
import { RedisStateStore } from '../../../common/state';
import { Dispatcher } from '../../../lambdas/dispatcher/dispatcher';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';

const ROOT = join(__dirname, '..', '..', '..');
const BUDGET_MS = 3000; // what the Lambda runtime says is left
const GRACE_MS = 1000; // the dispatcher's default lease grace

let redis: RedisServer;
let node: ChildProcess;
let store: RedisStateStore;

beforeAll(async () => {
  redis = await startRedisServer();
  store = await RedisStateStore.connect({ url: redis.url });
  node = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'nodes/compute/main.ts'),
      '--id',
      'c1',
      '--slots',
      '1',
      '--state',
      redis.url,
      '--objects',
      mkdtempSync(join(tmpdir(), 'strata-objects-')),
      '--heartbeat-ms',
      '200',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    node.once('exit', (code) => reject(new Error(`the compute node exited with ${code}`)));
    createInterface({ input: node.stdout! }).on('line', (line) => line.startsWith('ready ') && resolve());
  });
}, 60_000);

afterAll(async () => {
  node?.kill('SIGKILL');
  await store?.close();
  await redis?.stop();
});

/** Polls until `check` answers a value, or fails after `ms`. */
async function until<T>(check: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const inFlight = async () => (await store.liveNodes()).find((n) => n.id === 'c1')?.inFlight;
const redisNow = async () => {
  const [seconds, micros] = (await store.command(['TIME'])) as [string, string];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
};

describe('a reservation is a lease that outlives no dispatcher', () => {
  test('SIGKILL of a dispatcher process mid-invocation: its slot stays held until the lease runs out, then is free again', async () => {
    await until(async () => ((await inFlight()) === 0 ? true : undefined), 10_000, 'the node registering');
    // The real Lambda handler in a process of its own, with the time a Lambda would have left.
    const script = `
      const { handler } = require(${JSON.stringify(join(ROOT, 'lambdas/dispatcher/handler.ts'))});
      const event = { httpMethod: 'POST', path: '/invoke/sleep', headers: {}, body: '{"ms": 3000}', isBase64Encoded: false, requestContext: { requestId: 'r1' } };
      const until = Date.now() + ${BUDGET_MS};
      handler(event, { getRemainingTimeInMillis: () => until - Date.now() }).then((reply) => console.log('answered', reply.statusCode));`;
    const dispatcher = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, STRATA_REDIS_URL: redis.url, STRATA_STRATEGY: 'least-outstanding' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    dispatcher.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    // The dispatcher has reserved the node's one slot and forwarded: kill it before it can answer or release.
    await until(async () => ((await inFlight()) === 1 ? true : undefined), 30_000, 'the reservation');
    const [lease, deadline] = (await store.command(['ZRANGE', '{strata}:leases', '0', '-1', 'WITHSCORES'])) as [
      string,
      string,
    ];
    const killedAt = await redisNow();
    dispatcher.kill('SIGKILL');
    await new Promise((resolve) => dispatcher.once('exit', resolve));
    expect(output).toBe(''); // it never answered

    // The lease is bounded by the invocation's budget, not by anything the process would have done.
    expect(lease).toMatch(/\|c1$/);
    expect(Number(deadline) - killedAt).toBeLessThanOrEqual(BUDGET_MS + GRACE_MS);
    expect(await inFlight()).toBe(1); // held: the reservation was not released
    expect((await store.reserve({ kind: 'select', rule: 'least-outstanding' })).kind).toBe('no-capacity');

    // Once the lease has run out, the store gives the count back on its own.
    await until(
      async () => ((await redisNow()) > Number(deadline) ? true : undefined),
      BUDGET_MS + GRACE_MS + 2000,
      'the lease deadline',
    );
    expect(await inFlight()).toBe(0);
    const again = await store.reserve({ kind: 'select', rule: 'least-outstanding' });
    expect(again).toMatchObject({ kind: 'chosen', nodeId: 'c1' });
    if (again.kind === 'chosen') await again.release();
  }, 60_000);

  test("the budget is the Lambda's time left: a node slower than that gets a 504 in time, and the reservation is released", async () => {
    // The node's own slot is free once the killed dispatcher's invocation has finished there.
    await until(
      async () =>
        (await store.liveNodes()).some((n) => n.id === 'c1' && n.inFlight === 0 && n.slotsUsed === 0)
          ? true
          : undefined,
      10_000,
      'the slot freeing',
    );
    const dispatcher = new Dispatcher({
      connect: () => RedisStateStore.connect({ url: redis.url }),
      strategyName: 'least-outstanding',
      strategy: invocationStrategy('least-outstanding'),
    });
    const event = {
      httpMethod: 'POST',
      path: '/invoke/sleep',
      headers: {},
      body: '{"ms": 8000}',
      isBase64Encoded: false,
      requestContext: { requestId: 'r2' },
    } as never;
    const started = Date.now();
    const reply = await dispatcher.handle(event, { remainingMs: 1500 });
    expect(reply.statusCode).toBe(504);
    expect(Date.now() - started).toBeLessThan(8000); // the forward gave up with the budget, not after the function's 8 s
    expect(await inFlight()).toBe(0);
    await dispatcher.close();
  }, 30_000);
});
