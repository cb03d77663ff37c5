import { functions } from '../../functions';
import { runStageOver } from '../../functions/text';
import { LocalCluster } from '../../local/cluster';
import { CORPUS, corpusText } from '../../local/corpus';
import { call, corpusFolder, heldAfterHeartbeat, json } from '../support/cluster';

// AutoNDP's baseline (every invocation to one entry node, which forwards when full),
// with a storage node that refuses every data stage: the compute nodes must fetch the
// objects and run the stages themselves, with the same answers and no leaked slot.
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start({
    objects: { folder: await corpusFolder() },
    computeNodes: 3,
    slots: 2,
    strategy: 'single-entry',
    offloadPolicy: 'always', // the compute nodes offer every data stage...
    storageThresholds: { cpu: 1e-9, memory: 1e-9, loadPerCore: 1e-9 }, // ...and the storage node is always over
  });
  await cluster.waitForNodes();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('refused offloads, and forwarding from a single entry node (embedded state)', () => {
  test('a refused offload runs the stage on the compute node, with the same answer', async () => {
    const text = corpusText(CORPUS.large.bytes);
    for (const [name, args] of [
      ['wordcount', { key: CORPUS.large.key }],
      ['substring', { key: CORPUS.large.key, pattern: 'summer' }],
    ] as const) {
      const fn = functions[name];
      const reply = await call(cluster.url, 'POST', `/invoke/${name}`, args);
      expect(reply.status).toBe(200);
      expect(reply.headers['x-strata-tier3']).toBe('local:s1 refused (over-thresholds)');
      expect(json(reply)).toEqual(fn.finish(args, runStageOver(fn, args, text)));
    }
  });

  test('the entry node forwards to its peers when its slots are full, and the route says so', async () => {
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => call(cluster.url, 'POST', '/invoke/wordcount', { key: CORPUS.small.key })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(replies.every((r) => r.headers['x-strata-tier1'] === 'single-entry:c1')).toBe(true);
    const routes = replies.map((r) => String(r.headers['x-strata-tier2']));
    expect(routes.filter((route) => /^c1>c[23]$/.test(route)).length).toBeGreaterThan(0);
    expect(routes.every((route) => route === 'c1' || /^c1>c[23](>c[123])?$/.test(route))).toBe(true);
  });

  test('no slot or reservation is left held anywhere', async () => {
    expect(await heldAfterHeartbeat(cluster.state)).toEqual([
      ['c1', 0, 0],
      ['c2', 0, 0],
      ['c3', 0, 0],
      ['s1', 0, 0],
    ]);
  });
});
