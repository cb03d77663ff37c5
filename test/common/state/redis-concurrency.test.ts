import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RedisStateStore } from '../../../common/state';
import { redisForFile } from '../../support/redis';
import { report } from './contract';

interface WorkerResult {
  chosen: Record<string, number>;
  maxInFlight: Record<string, number>;
  noCapacity: number;
}

const PROCESSES = 4;
const DECISIONS_EACH = 2_500;
const NODE_IDS = Array.from({ length: 10 }, (_, i) => `node-${i}`);

const redis = redisForFile();

/** Runs the decision workers as separate OS processes, released together once all are ready. */
async function runWorkers(
  keyPrefix: string,
  strategy: string,
  lanes: number,
  holdMs: number,
  beforeGo = async () => {},
): Promise<WorkerResult[]> {
  const workers = Array.from({ length: PROCESSES }, () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, '..', '..', 'support', 'decision-worker.ts'),
        redis.server.url,
        keyPrefix,
        strategy,
        String(DECISIONS_EACH),
        String(lanes),
        String(holdMs),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ready = new Promise<void>((resolve) => {
      const check = () => (output.startsWith('ready\n') ? resolve() : child.stdout.once('data', check));
      check();
    });
    const done = new Promise<WorkerResult>((resolve, reject) => {
      child.once('exit', (code) =>
        code === 0
          ? resolve(JSON.parse(output.slice('ready\n'.length)) as WorkerResult)
          : reject(new Error(`worker exited with ${code}`)),
      );
    });
    return { child, ready, done };
  });
  await Promise.all(workers.map((w) => w.ready));
  await beforeGo();
  for (const w of workers) w.child.stdin.write('go\n');
  return Promise.all(workers.map((w) => w.done));
}

function sum(results: WorkerResult[], field: 'chosen'): Record<string, number> {
  const total: Record<string, number> = {};
  for (const r of results) for (const [id, n] of Object.entries(r[field])) total[id] = (total[id] ?? 0) + n;
  return total;
}

describe('decisions from 4 OS processes against one real redis-server', () => {
  test('round robin: 4 x 2,500 decisions over 10 nodes choose every node exactly 1,000 times', async () => {
    const rr = await RedisStateStore.connect({ url: redis.server.url, keyPrefix: 'rr' });
    for (const id of NODE_IDS) await rr.heartbeat(report(id, { slotsTotal: 100, heartbeatAt: Date.now() }), 120_000);
    const results = await runWorkers('rr', 'round-robin', 8, 0);
    expect(sum(results, 'chosen')).toEqual(Object.fromEntries(NODE_IDS.map((id) => [id, 1_000])));
    expect((await rr.liveNodes()).map((n) => n.inFlight)).toEqual(Array(10).fill(0));
    await rr.close();
  });

  test('least outstanding: never more in flight on a node than its slots, every count back to 0, an expired node never chosen', async () => {
    const lo = await RedisStateStore.connect({ url: redis.server.url, keyPrefix: 'lo' });
    for (const id of NODE_IDS) await lo.heartbeat(report(id, { slotsTotal: 2, heartbeatAt: Date.now() }), 120_000);
    // In every worker's snapshot, but expired before the first decision.
    await lo.heartbeat(report('expiring', { slotsTotal: 2, heartbeatAt: Date.now() }), 300);

    let observedMax = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const n of await lo.liveNodes()) observedMax = Math.max(observedMax, n.inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const results = await runWorkers(
      'lo',
      'least-outstanding',
      16,
      3,
      () => new Promise((resolve) => setTimeout(resolve, 400)),
    );
    sampling = false;
    await sampler;

    const chosen = sum(results, 'chosen');
    expect(Object.values(chosen).reduce((a, b) => a + b, 0)).toBe(PROCESSES * DECISIONS_EACH);
    expect(chosen.expiring).toBeUndefined();
    for (const r of results) for (const max of Object.values(r.maxInFlight)) expect(max).toBeLessThanOrEqual(2);
    expect(observedMax).toBeLessThanOrEqual(2);
    // 64 lanes against 20 slots: the limit was really hit, and held.
    expect(results.reduce((a, r) => a + r.noCapacity, 0)).toBeGreaterThan(0);
    expect((await lo.liveNodes()).map((n) => [n.id, n.inFlight])).toEqual(NODE_IDS.map((id) => [id, 0]));
    await lo.close();
  });
});
