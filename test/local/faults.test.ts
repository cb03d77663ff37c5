import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisStateStore } from '../../common/state';
import { LocalCluster } from '../../local/cluster';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { call, heldAfterHeartbeat } from '../support/cluster';

let redis: RedisServer;
let cluster: LocalCluster;
const metricsDir = mkdtempSync(join(tmpdir(), 'strata-faults-'));

beforeAll(async () => {
  redis = await startRedisServer();
  cluster = await LocalCluster.start({
    redisUrl: redis.url,
    objects: { folder: mkdtempSync(join(tmpdir(), 'strata-none-')) },
    computeNodes: 3,
    slots: 2,
    metricsDir,
    queueTimeoutMs: 60_000,
  });
  await cluster.waitForNodes();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
});

/** Every invocation the nodes ran to the end, by API request id, from their invocation logs. */
function completedRuns(): Map<string, number> {
  const runs = new Map<string, number>();
  for (const file of readdirSync(metricsDir).filter((f) => f.endsWith('.invocations.jsonl'))) {
    for (const line of readFileSync(join(metricsDir, file), 'utf8').split('\n').filter(Boolean)) {
      const { requestId } = JSON.parse(line) as { requestId: string };
      runs.set(requestId, (runs.get(requestId) ?? 0) + 1);
    }
  }
  return runs;
}

describe('faults, on real processes with a real redis-server', () => {
  test('SIGKILL of one of 3 compute nodes with 500 requests in flight: all answered, >= 99% succeed, none run twice', async () => {
    const requests = Array.from({ length: 500 }, () => call(cluster.url, 'POST', '/invoke/sleep', { ms: 20 }));
    await new Promise((resolve) => setTimeout(resolve, 400));
    cluster.processes.get('c2')!.kill('SIGKILL');
    const replies = await Promise.all(requests);

    const ok = replies.filter((r) => r.status === 200).length;
    const figures = { answered: replies.length, succeeded: ok, failed: replies.length - ok };
    console.log(
      `kill test: ${JSON.stringify(figures)}, statuses ${JSON.stringify(tally(replies.map((r) => r.status)))}`,
    );
    expect(figures.answered).toBe(500);
    expect(ok / replies.length).toBeGreaterThanOrEqual(0.99);
    const runs = completedRuns();
    const twice = [...runs.values()].filter((n) => n > 1).length;
    console.log(`kill test: ${runs.size} completed runs logged, ${twice} run twice`);
    expect(twice).toBe(0);
    // c2 kept running a few of them before it died; the survivors ran the rest.
    const after = replies.filter((r) => r.status === 200).map((r) => String(r.headers['x-strata-node']));
    expect(new Set(after.slice(-100))).toEqual(new Set(['c1', 'c3']));
    // Nothing leaked: once c2's heartbeat has expired, the survivors hold no reservation and no slot.
    const held = await heldAfterHeartbeat(cluster.state, 3_500);
    console.log(
      `kill test: leaked reservations ${held.reduce((a, [, r]) => a + r, 0)}, slots ${held.reduce((a, [, , s]) => a + s, 0)}`,
    );
    expect(held).toEqual([
      ['c1', 0, 0],
      ['c3', 0, 0],
      ['s1', 0, 0],
    ]);
  });

  test('a redis-server restart under load causes no 5xx, and decisions go back to Redis once it is up', async () => {
    const statuses: number[] = [];
    const degradedDecisions: boolean[] = [];
    let running = true;
    const lanes = Array.from({ length: 8 }, async () => {
      while (running) {
        const reply = await call(cluster.url, 'POST', '/invoke/sleep', { ms: 5 });
        statuses.push(reply.status);
        degradedDecisions.push(String(reply.headers['x-strata-tier1']).endsWith('(degraded)'));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redis.restart(); // empty, as a restart without persistence
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const admin = await RedisStateStore.connect({ url: redis.url });
    await admin.command(['CONFIG', 'RESETSTAT']);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    running = false;
    await Promise.all(lanes);

    const stats = String(await admin.command(['INFO', 'commandstats']));
    await admin.close();
    console.log(
      `restart test: ${statuses.length} requests, statuses ${JSON.stringify(tally(statuses))}, ${degradedDecisions.filter(Boolean).length} decided while degraded`,
    );
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(degradedDecisions.some(Boolean)).toBe(true); // the outage was seen...
    expect(degradedDecisions.slice(-20).some(Boolean)).toBe(false); // ...and is over
    expect(Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0)).toBeGreaterThan(0); // decisions are made in Redis again
  });

  test('a frozen redis-server (open connections, no answers) under load: invocations go on, decided over the last known nodes, and back in Redis after it thaws', async () => {
    const replies: { at: number; status: number; degraded: boolean }[] = [];
    let running = true;
    const lanes = Array.from({ length: 8 }, async () => {
      while (running) {
        const reply = await call(cluster.url, 'POST', '/invoke/sleep', { ms: 5 });
        replies.push({
          at: Date.now(),
          status: reply.status,
          degraded: String(reply.headers['x-strata-tier1']).endsWith('(degraded)'),
        });
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const frozenAt = Date.now();
    redis.freeze();
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    const thawedAt = Date.now();
    redis.thaw();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    running = false;
    await Promise.all(lanes);

    const whileFrozen = replies.filter((r) => r.at > frozenAt + 3_000 && r.at < thawedAt); // past the reply timeout (2 s)
    console.log(
      `freeze test: ${replies.length} requests, statuses ${JSON.stringify(tally(replies.map((r) => r.status)))}, ${whileFrozen.length} answered while frozen, ${replies.filter((r) => r.degraded).length} decided while degraded`,
    );
    expect(replies.filter((r) => r.status >= 500)).toEqual([]);
    expect(whileFrozen.length).toBeGreaterThan(0); // nothing waited for the frozen server...
    expect(whileFrozen.every((r) => r.degraded)).toBe(true); // ...they were decided over what the dispatcher last knew
    expect(replies.slice(-20).some((r) => r.degraded)).toBe(false); // and decisions are in Redis again
  });
});

describe('draining', () => {
  test('SIGTERM: the node finishes what it runs, takes no new work, leaves the shared state and exits 0', async () => {
    const c3 = cluster.processes.get('c3')!;
    const exited = new Promise<number | null>((resolve) => c3.once('exit', (code) => resolve(code)));
    const replies = Promise.all(
      Array.from({ length: 4 }, () => call(cluster.url, 'POST', '/invoke/sleep', { ms: 800 })),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    c3.kill('SIGTERM');
    expect((await replies).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await replies).some((r) => r.headers['x-strata-node'] === 'c3')).toBe(true); // it finished its own
    expect(await exited).toBe(0);
    expect((await cluster.state.liveNodes()).map((n) => n.id)).toEqual(['c1', 's1']);
    const after = await call(cluster.url, 'POST', '/invoke/sleep', { ms: 1 });
    expect([after.status, after.headers['x-strata-node']]).toEqual([200, 'c1']);
  });
});

function tally(values: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
