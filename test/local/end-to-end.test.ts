import { functions } from '../../functions';
import { runStageOver } from '../../functions/text';
import { LocalCluster } from '../../local/cluster';
import { CORPUS, corpusText } from '../../local/corpus';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { call, corpusFolder, heldAfterHeartbeat, json } from '../support/cluster';

// The whole system as separate processes on loopback: the dispatcher behind the API
// Gateway adapter, 3 compute nodes and 1 storage node, state in a real redis-server.
let redis: RedisServer;
let cluster: LocalCluster;

beforeAll(async () => {
  redis = await startRedisServer();
  cluster = await LocalCluster.start({
    redisUrl: redis.url,
    objects: { folder: await corpusFolder() },
    computeNodes: 3,
    slots: 2,
    offloadPolicy: 'always', // offer every data stage to the storage node...
    storageThresholds: { cpu: 1, memory: 1, loadPerCore: 1000 }, // ...which takes it unless it is saturated
  });
  await cluster.waitForNodes();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
});

const expectedWordcount = (key: string, text: string) =>
  functions.wordcount.finish({ key }, runStageOver(functions.wordcount, { key }, text));

describe('the local cluster end to end, with a real redis-server', () => {
  test('GET /health reports the strategy and the live compute nodes', async () => {
    const reply = await call(cluster.url, 'GET', '/health');
    expect(reply.status).toBe(200);
    expect(json(reply)).toMatchObject({ status: 'ok', strategy: 'round-robin', computeNodes: 3 });
  });

  test('with the storage node under its thresholds, data stages run there (offload) and answer the same', async () => {
    const expected = expectedWordcount(CORPUS.small.key, corpusText(CORPUS.small.bytes));
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // a quiet sample after start-up's compiling
    const paths = new Set<string>();
    for (let i = 0; i < 10 && !paths.has('offloaded:s1'); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 300));
      const reply = await call(cluster.url, 'POST', '/invoke/wordcount', { key: CORPUS.small.key });
      expect(json(reply)).toEqual(expected);
      paths.add(String(reply.headers['x-strata-tier3']));
    }
    expect(paths).toContain('offloaded:s1');
  });

  test('wordcount answers the right counts and names the node and the decision of every tier', async () => {
    const reply = await call(cluster.url, 'POST', '/invoke/wordcount', { key: CORPUS.small.key });
    expect(reply.status).toBe(200);
    expect(json(reply)).toEqual(expectedWordcount(CORPUS.small.key, corpusText(CORPUS.small.bytes)));
    expect(reply.headers['x-strata-node']).toMatch(/^c[123]$/);
    expect(reply.headers['x-strata-tier1']).toMatch(/^round-robin:c[123]$/);
    expect(reply.headers['x-strata-tier2']).toMatch(/^c[123]/);
    expect(reply.headers['x-strata-tier3']).toMatch(/^(offloaded:s1|local:.+)$/);
  });

  test('substring, sha256 and sleep answer as the functions compute them', async () => {
    const text = corpusText(CORPUS.large.bytes);
    const args = { key: CORPUS.large.key, pattern: 'love' };
    const substring = await call(cluster.url, 'POST', '/invoke/substring', args);
    expect(json(substring)).toEqual(functions.substring.finish(args, runStageOver(functions.substring, args, text)));
    const sha = await call(cluster.url, 'POST', '/invoke/sha256', { data: 'strata', rounds: 3 });
    expect(json(sha)).toEqual(functions.sha256.finish({ data: 'strata', rounds: 3 }, undefined));
    expect(sha.headers['x-strata-tier3']).toBe('none');
    const sleep = await call(cluster.url, 'POST', '/invoke/sleep', { ms: 20 });
    expect([sleep.status, json(sleep)]).toEqual([200, { sleptMs: 20 }]);
  });

  test('a raw (non-JSON) body reaches the function as {"data": body}', async () => {
    const reply = await call(cluster.url, 'POST', '/invoke/sha256', 'hello', { 'content-type': 'text/plain' });
    expect(json(reply)).toEqual(functions.sha256.finish({ data: 'hello', rounds: 1 }, undefined));
  });

  test('round robin spreads consecutive invocations over all three nodes', async () => {
    const nodes = new Set<string>();
    for (let i = 0; i < 6; i++)
      nodes.add(String((await call(cluster.url, 'POST', '/invoke/sleep', { ms: 1 })).headers['x-strata-tier1']));
    expect(nodes).toEqual(new Set(['round-robin:c1', 'round-robin:c2', 'round-robin:c3']));
  });

  test.each([
    [
      'an unknown function: 404 listing the known ones',
      'POST',
      '/invoke/fly',
      {},
      {},
      404,
      { error: 'no function "fly"', functions: ['sha256', 'sleep', 'substring', 'wordcount'] },
    ],
    [
      'malformed JSON: 400',
      'POST',
      '/invoke/sha256',
      '{"data": ',
      {},
      400,
      { error: expect.stringMatching(/^the body is not valid JSON/) },
    ],
    [
      'a bad argument: 400 naming the field',
      'POST',
      '/invoke/sleep',
      { ms: -1 },
      {},
      400,
      { error: 'args.ms must be at least 0', function: 'sleep' },
    ],
    [
      'a wrong method: 405',
      'GET',
      '/invoke/sha256',
      undefined,
      {},
      405,
      { error: 'GET is not allowed on /invoke; use POST' },
    ],
    [
      'an unknown path: 404',
      'GET',
      '/nowhere',
      undefined,
      {},
      404,
      { error: 'no route /nowhere; the routes are POST /invoke/{function} and GET /health' },
    ],
    [
      'a missing object: 404 from the node',
      'POST',
      '/invoke/wordcount',
      { key: 'corpus/missing.txt' },
      {},
      404,
      { error: 'no object "corpus/missing.txt"' },
    ],
  ])('%s', async (_name, method, path, body, headers, status, expected) => {
    const reply = await call(cluster.url, method, path, body, headers);
    expect(reply.status).toBe(status);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(json(reply)).toEqual(expected);
  });

  test('a body over the limit: 413', async () => {
    const reply = await call(
      cluster.url,
      'POST',
      '/invoke/sha256',
      JSON.stringify({ data: 'x'.repeat(7 * 1024 * 1024) }),
    );
    expect(reply.status).toBe(413);
    expect(json(reply).error).toMatch(/over the limit of 6291456/);
  });

  test('a burst larger than all slots queues at the dispatcher and every invocation succeeds', async () => {
    const replies = await Promise.all(
      Array.from({ length: 30 }, () => call(cluster.url, 'POST', '/invoke/sleep', { ms: 100 })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200));
  });

  test("a compute node starts no work once the caller's budget (x-strata-budget-ms) has run out, and rejects a bad budget", async () => {
    const c1 = (await cluster.state.liveNodes()).find((node) => node.id === 'c1')!;
    const direct = (body: unknown, headers: Record<string, string>) =>
      call(`http://${c1.address}`, 'POST', '/invoke/sleep', body, { 'x-strata-hops': '9', ...headers }); // 9: no forwarding to peers
    for (const bad of ['0', 'soon', '1e20']) {
      const reply = await direct({ ms: 1 }, { 'x-strata-budget-ms': bad });
      expect([reply.status, json(reply).error]).toEqual([
        400,
        'x-strata-budget-ms must be a whole number of milliseconds from 1 to 900000',
      ]);
    }
    const busy = [direct({ ms: 450 }, {}), direct({ ms: 450 }, {})]; // both of c1's slots
    while (json(await call(`http://${c1.address}`, 'GET', '/health')).slotsUsed !== 2)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const late = await direct({ ms: 1 }, { 'x-strata-budget-ms': '50' }); // a slot frees within the node's slot wait (500 ms), after the budget
    expect([late.status, late.headers['x-strata-node'], json(late).error]).toEqual([
      504,
      'c1',
      'the caller stopped waiting (x-strata-budget-ms) before the invocation could run',
    ]);
    expect((await Promise.all(busy)).map((reply) => reply.status)).toEqual([200, 200]);
    expect((await direct({ ms: 1 }, { 'x-strata-budget-ms': '5000' })).status).toBe(200);
  });

  test('after the work is done no node holds a reservation or a slot', async () => {
    expect(await heldAfterHeartbeat(cluster.state)).toEqual([
      ['c1', 0, 0],
      ['c2', 0, 0],
      ['c3', 0, 0],
      ['s1', 0, 0],
    ]);
  });
});
