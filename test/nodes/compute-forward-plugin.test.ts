import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { call } from '../support/cluster';
import { type ComputeNodeWithPeers, computeNodeWithPeers } from '../support/compute-node';

// A tier-2 plugin with no index rule (no `peer`): the full compute node reads the fleet's
// figures and offers the invocation to the peers in the plugin's order. fewest-hops puts
// them in reverse id order; peer-a has the most free slots, so the built-in default
// (most-slots) would pick it, and the plugin picks peer-z.
const PLUGIN = join(__dirname, '..', 'support/plugins/fewest-hops.ts');
let node: ComputeNodeWithPeers;

/** A peer that answers every invocation as itself. */
const answersAs =
  (id: string): RequestListener =>
  (req, res) =>
    req
      .resume()
      .on('end', () =>
        res.writeHead(200, { 'content-type': 'application/json', 'x-strata-node': id }).end('{"sleptMs":1}'),
      );

beforeAll(async () => {
  node = await computeNodeWithPeers(
    [
      { id: 'peer-a', free: 8, serve: answersAs('peer-a') },
      { id: 'peer-z', free: 2, serve: answersAs('peer-z') },
    ],
    [
      ...['--id', 'c', '--node-policy', 'fewest-hops'],
      ...['--plugins', JSON.stringify([{ tier: 'node', name: 'fewest-hops', module: PLUGIN }])],
    ],
  );
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

test("a full node forwards in a plugin's own order when the plugin has no index rule", async () => {
  const busy = await node.busyFor(1000);
  const reply = await call(`http://${node.address}`, 'POST', '/invoke/sleep', { ms: 1 });
  expect([reply.status, reply.headers['x-strata-node']]).toEqual([200, 'peer-z']);
  await busy.done;
});
