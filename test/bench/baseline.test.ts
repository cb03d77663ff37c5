import { faasmBaseline } from '../../bench/baseline';
import { LocalCluster } from '../../local/cluster';
import { call, corpusFolder, heldAfterHeartbeat, json } from '../support/cluster';

// The benchmarks' AutoNDP baseline, as Faasm behaves: every call to the entry node c1,
// which runs it while it has a free slot, forwards to a peer with a free slot when it is
// full, and otherwise queues it (a queue of 2 here), refusing only when the queue is full.
// Both ways of finding the peer: the store's index, and asking each peer (as faabric did).
describe.each([
  ['the peer picked from the store', false],
  ['the peer found by asking each', true],
])('%s', (_title, askPeers) => {
  let cluster: LocalCluster;
  let entry: string;
  let peer: string;

  beforeAll(async () => {
    cluster = await LocalCluster.start({
      objects: { folder: await corpusFolder() },
      computeNodes: 2,
      slots: 1,
      ...faasmBaseline(2, askPeers),
      offloadPolicy: 'never',
    });
    await cluster.waitForNodes();
    const nodes = await cluster.state.liveNodes();
    entry = nodes.find((n) => n.id === 'c1')!.address;
    peer = nodes.find((n) => n.id === 'c2')!.address;
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  const sleep = (ms: number) => call(cluster.url, 'POST', '/invoke/sleep', { ms });
  const route = (reply: { headers: Record<string, unknown> }) => String(reply.headers['x-strata-tier2']);

  /** Waits until the node at `address` says its one slot is taken. */
  async function busy(address: string): Promise<void> {
    while (json(await call(`http://${address}`, 'GET', '/health')).slotsUsed !== 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
  }

  test('the entry node runs a call itself while it has a free slot', async () => {
    const reply = await sleep(1);
    expect([reply.status, reply.headers['x-strata-tier1'], route(reply)]).toEqual([200, 'single-entry:c1', 'c1']);
  });

  test('full, it forwards to the peer with a free slot; with no peer free it queues, and never refuses while the queue has room', async () => {
    const first = sleep(3_000); // c1's slot
    await busy(entry);
    const second = sleep(3_000); // c1 is full: forwarded to c2
    await busy(peer);
    // Both slots taken: the next two wait in c1's queue (2 places) and are answered, by c1, when its slot frees.
    const queued = [sleep(1), sleep(1)];
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The queue is full now: one more, sent to c1 itself, is refused at once (a 503 that says why).
    const over = await call(`http://${entry}`, 'POST', '/invoke/sleep', { ms: 1 }, { 'x-strata-hops': '0' });
    expect([over.status, over.headers['x-strata-refused']]).toEqual([503, 'full']);

    const replies = await Promise.all([first, second, ...queued]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(replies.map(route)).toEqual(['c1', 'c1>c2', 'c1', 'c1']);
  }, 30_000);

  test('no slot or reservation is left held', async () => {
    expect(await heldAfterHeartbeat(cluster.state)).toEqual([
      ['c1', 0, 0],
      ['c2', 0, 0],
      ['s1', 0, 0],
    ]);
  });
});
