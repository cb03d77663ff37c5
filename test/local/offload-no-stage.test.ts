import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REFUSED_HEADER } from '../../common/http/headers';
import { LocalCluster } from '../../local/cluster';
import { CORPUS } from '../../local/corpus';
import { report } from '../common/state/contract';
import { call, corpusFolder, json } from '../support/cluster';

// A storage node that does not know a data stage (an older build, mid-deploy) answers 404
// with a refusal. The compute node must take it for what it is, not for a missing object:
// it runs the stage itself. Here the only storage node is a stand-in that answers just so.
let cluster: LocalCluster;
let storage: Server;
let beating: NodeJS.Timeout;
let asked = 0;

beforeAll(async () => {
  storage = createServer((req, res) => {
    asked++;
    req.resume();
    res
      .writeHead(404, { 'content-type': 'application/json', [REFUSED_HEADER]: 'no-stage' })
      .end(JSON.stringify({ error: `no data stage at ${req.url}` }));
  });
  await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
  cluster = await LocalCluster.start({
    objects: { folder: await corpusFolder() },
    computeNodes: 1,
    storageNodes: 0,
    offloadPolicy: 'always',
  });
  const address = `127.0.0.1:${(storage.address() as AddressInfo).port}`;
  const beat = () =>
    cluster.state.heartbeat(report('s9', { role: 'storage', address, heartbeatAt: Date.now() }), 60_000);
  await beat();
  beating = setInterval(() => void beat(), 200);
  await cluster.waitForNodes();
}, 60_000);

afterAll(async () => {
  clearInterval(beating);
  await cluster?.stop();
  storage?.close();
});

test('a storage node without the data stage: the compute node runs it, and says the storage node refused', async () => {
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the compute node's next storage view has s9
  const reply = await call(cluster.url, 'POST', '/invoke/wordcount', { key: CORPUS.small.key });
  expect([reply.status, reply.headers['x-strata-tier3']]).toEqual([200, 'local:s9 refused (no-stage)']);
  expect(json(reply).lines).toBeGreaterThan(0);
  expect(asked).toBeGreaterThan(0);
});
