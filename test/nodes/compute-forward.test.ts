import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { call, json } from '../support/cluster';
import { type ComputeNodeWithPeers, computeNodeWithPeers } from '../support/compute-node';

// A compute node process whose one slot is busy forwards to its peer: here a test server
// that plays the peer (registered in the same state store), so that the test decides how
// the hop goes.
let node: ComputeNodeWithPeers;
let behave: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;

beforeAll(async () => {
  node = await computeNodeWithPeers([{ id: 'peer', free: 8, serve: (req, res) => behave(req, res) }], ['--id', 'a']);
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

const invoke = (headers: Record<string, string> = {}) =>
  call(`http://${node.address}`, 'POST', '/invoke/sleep', { ms: 1 }, headers);

test("the node passes the caller's budget (x-strata-budget-ms), less what it has spent, to the peer it forwards to", async () => {
  let seen: IncomingHttpHeaders | undefined;
  behave = (req, res) => {
    seen = req.headers;
    req
      .resume()
      .on('end', () =>
        res.writeHead(200, { 'content-type': 'application/json', 'x-strata-node': 'peer' }).end('{"sleptMs":1}'),
      );
  };
  const busy = await node.busyFor(1000);
  const reply = await invoke({ 'x-strata-budget-ms': '5000' });
  expect([reply.status, reply.headers['x-strata-node'], reply.headers['x-strata-route']]).toEqual([200, 'peer', 'a>?']);
  const budget = Number(seen?.['x-strata-budget-ms']);
  expect(budget).toBeGreaterThan(0);
  expect(budget).toBeLessThanOrEqual(5000);
  expect(seen?.['x-strata-hops']).toBe('1');
  await busy.done;
});

test('a peer that takes the invocation and does not answer within the budget: 504 from the node, not 500', async () => {
  behave = (req) => req.resume(); // reads it, never answers
  const busy = await node.busyFor(1000);
  const reply = await invoke({ 'x-strata-budget-ms': '300' });
  expect([reply.status, reply.headers['x-strata-node']]).toEqual([504, 'a']);
  expect(json(reply).error).toMatch(/^timeout forwarding to 127\.0\.0\.1:\d+/);
  await busy.done;
});

test('a peer whose connection breaks after it took the invocation: 502 from the node, not 500', async () => {
  behave = (req) => req.resume().on('end', () => req.socket.destroy());
  const busy = await node.busyFor(1000);
  const reply = await invoke({ 'x-strata-budget-ms': '5000' });
  expect([reply.status, reply.headers['x-strata-node']]).toEqual([502, 'a']);
  expect(json(reply).error).toMatch(/^broken forwarding to 127\.0\.0\.1:\d+/);
  await busy.done;
});
