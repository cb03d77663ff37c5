import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eligibleNodes, type InvocationStrategy, invocationStrategy } from '@strata/policy-engine';
import { REFUSED_HEADER } from '../../../common/http/headers';
import { MemoryStateStore, type Reserved, type StateStore } from '../../../common/state';
import { Dispatcher } from '../../../lambdas/dispatcher/dispatcher';
import { report } from '../../common/state/contract';
import { invokeEvent } from '../../support/events';

/** A compute node stand-in on loopback: answers 200 naming itself, or refuses (nothing ran). */
async function fakeNode(id: string, refuse = false): Promise<{ server: Server; address: string; calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    req.resume();
    if (refuse) res.writeHead(503, { [REFUSED_HEADER]: 'full', 'content-type': 'application/json' }).end('{}');
    else
      res.writeHead(200, { 'content-type': 'application/json', 'x-strata-node': id }).end(JSON.stringify({ ran: id }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls };
}

/** A store that counts what the dispatcher reads of it. */
function counting(store: StateStore) {
  const calls = { liveNodes: 0, membership: 0 };
  const proxy: StateStore = {
    heartbeat: (r, ttl) => store.heartbeat(r, ttl),
    deregister: (id) => store.deregister(id),
    liveNodes: () => {
      calls.liveNodes++;
      return store.liveNodes();
    },
    storageNodes: () => store.storageNodes(),
    membership: (v) => {
      calls.membership++;
      return store.membership(v);
    },
    reserve: (s, lease) => store.reserve(s, lease),
    close: () => store.close(),
  };
  return { proxy, calls };
}

const invoke = invokeEvent();

describe('the dispatcher with each kind of strategy', () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  test('a strategy over the index gets the membership only, read again only when it changes; the node comes from the store', async () => {
    const [a, b] = await Promise.all([fakeNode('a'), fakeNode('b')]);
    servers.push(a.server, b.server);
    const store = new MemoryStateStore();
    await store.heartbeat(report('a', { address: a.address, serviceMs: 500 }), 60_000);
    await store.heartbeat(report('b', { address: b.address, serviceMs: 5 }), 60_000);
    const { proxy, calls } = counting(store);
    let now = 1_000;
    const dispatcher = new Dispatcher({
      connect: async () => proxy,
      strategyName: 'least-expected-delay',
      strategy: invocationStrategy('least-expected-delay'),
      refreshMs: 1000,
      now: () => now,
    });
    for (let i = 0; i < 3; i++) expect((await dispatcher.handle(invoke)).headers?.['x-strata-node']).toBe('b');
    now += 1500;
    await dispatcher.handle(invoke);
    expect(calls).toEqual({ liveNodes: 0, membership: 2 });
  });

  /** A custom strategy that orders the nodes itself, by memory in use: it reads every node's figures. */
  const leastMemory: InvocationStrategy = (nodes, _invocation, ctx) => {
    const eligible = eligibleNodes(nodes, 'compute', ctx).sort((x, y) => x.memoryUsed - y.memoryUsed);
    return eligible.length === 0
      ? { kind: 'no-capacity', reason: 'no live compute node' }
      : { kind: 'select', rule: 'in-order', candidates: eligible.map((n) => ({ id: n.id, limit: n.slotsTotal })) };
  };

  /** Nodes a (memory 90 % used) and b (10 %) up, in a store that counts the dispatcher's reads. */
  async function aFullerThanB(): Promise<ReturnType<typeof counting>> {
    const [a, b] = await Promise.all([fakeNode('a'), fakeNode('b')]);
    servers.push(a.server, b.server);
    const store = new MemoryStateStore();
    await store.heartbeat(report('a', { address: a.address, memoryUsed: 0.9, heartbeatAt: Date.now() }), 60_000);
    await store.heartbeat(report('b', { address: b.address, memoryUsed: 0.1, heartbeatAt: Date.now() }), 60_000);
    return counting(store);
  }

  test('a custom strategy that orders the nodes itself gets every node with its figures (the general path) and is obeyed', async () => {
    const { proxy, calls } = await aFullerThanB();
    const dispatcher = new Dispatcher({
      connect: async () => proxy,
      strategyName: 'least-memory',
      strategy: leastMemory,
    });
    expect((await dispatcher.handle(invoke)).headers?.['x-strata-node']).toBe('b');
    expect(calls).toEqual({ liveNodes: 1, membership: 0 });
  });

  test('switched while it runs from a strategy over the index to one that orders the nodes itself: the figures are read at once', async () => {
    const { proxy, calls } = await aFullerThanB();
    // As TierPolicy holds it: one function that delegates to the strategy chosen now.
    let current: InvocationStrategy = invocationStrategy('single-entry');
    const live = Object.defineProperty((...args: Parameters<InvocationStrategy>) => current(...args), 'reads', {
      get: () => current.reads,
    }) as InvocationStrategy;
    const dispatcher = new Dispatcher({ connect: async () => proxy, strategyName: 'live', strategy: live });
    expect((await dispatcher.handle(invoke)).headers?.['x-strata-node']).toBe('a'); // single entry: the lowest id
    current = leastMemory; // within the refresh interval: the figures are read now, not after it
    expect((await dispatcher.handle(invoke)).headers?.['x-strata-node']).toBe('b');
    expect(calls).toEqual({ liveNodes: 1, membership: 1 });
  });

  test('a node that refuses is left out of the index for the next attempt, and its reservation released', async () => {
    const [a, b] = await Promise.all([fakeNode('a', true), fakeNode('b')]);
    servers.push(a.server, b.server);
    const store = new MemoryStateStore();
    await store.heartbeat(report('a', { address: a.address, slotsTotal: 4 }), 60_000);
    await store.heartbeat(report('b', { address: b.address, slotsTotal: 4 }), 60_000);
    const dispatcher = new Dispatcher({
      connect: async () => store,
      strategyName: 'least-outstanding',
      strategy: invocationStrategy('least-outstanding'),
    });
    const reply = await dispatcher.handle(invoke);
    expect([reply.statusCode, reply.headers?.['x-strata-node'], reply.headers?.['x-strata-attempts']]).toEqual([
      200,
      'b',
      '2',
    ]);
    expect(a.calls()).toBe(1);
    expect((await store.liveNodes()).map((n) => n.inFlight)).toEqual([0, 0]);
  });
});

describe('the dispatcher while every node is full: a retry that arrived first', () => {
  test('an invocation whose forward was refused queues ahead of those that came after it, and both are served once a slot frees, long before the queue timeout', async () => {
    const store = new MemoryStateStore();
    const ran: number[] = [];
    // Node a: one slot, each run 50 ms. Node r: refuses after 100 ms, leaving the fleet first.
    const a = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        ran.push(JSON.parse(body).ms);
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 50);
      });
    });
    const r = createServer((req, res) => {
      req.resume();
      setTimeout(async () => {
        await store.deregister('r');
        res.writeHead(503, { [REFUSED_HEADER]: 'full', 'content-type': 'application/json' }).end('{}');
      }, 100);
    });
    for (const server of [a, r]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server: Server) => `127.0.0.1:${(server.address() as AddressInfo).port}`;
      await store.heartbeat(report('a', { address: port(a), slotsTotal: 1 }), 60_000);
      const elsewhere = (await store.reserve({ kind: 'select', rule: 'least-outstanding' })) as Reserved;
      await store.heartbeat(report('r', { address: port(r), slotsTotal: 1 }), 60_000);
      const dispatcher = new Dispatcher({
        connect: async () => store,
        strategyName: 'least-outstanding',
        strategy: invocationStrategy('least-outstanding'),
        queueTimeoutMs: 2000,
      });
      const handle = (ms: number) => dispatcher.handle(invokeEvent(JSON.stringify({ ms })));
      // 0 reaches r, which refuses it 100 ms later; 1 arrives meanwhile and waits at the head, asking.
      const first = handle(0);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = handle(1);
      await new Promise((resolve) => setTimeout(resolve, 200)); // 0 is back, ahead of 1
      await elsewhere.release();
      // Before the fix, 0 went to the head asleep until its queue timeout and 1, passed, slept
      // too: nobody asked, 0 was served at its timeout and 1's last ask found the slot taken (503).
      expect([(await first).statusCode, (await second).statusCode]).toEqual([200, 200]);
      expect(ran).toEqual([0, 1]);
    } finally {
      for (const server of [a, r]) server.close();
    }
  });
});

describe('the dispatcher through a long state-store outage', () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  /** A store that answers until `down` is set, then fails every call, as ElastiCache out of reach does. */
  function failing(store: StateStore) {
    const state = { down: false };
    const guard = <T>(call: () => Promise<T>) =>
      state.down ? Promise.reject(new Error('connect ECONNREFUSED')) : call();
    const proxy: StateStore = {
      heartbeat: (r, ttl) => guard(() => store.heartbeat(r, ttl)),
      deregister: (id) => guard(() => store.deregister(id)),
      liveNodes: () => guard(() => store.liveNodes()),
      storageNodes: () => guard(() => store.storageNodes()),
      membership: (v) => guard(() => store.membership(v)),
      reserve: (s, lease) => guard(() => store.reserve(s, lease)),
      close: () => store.close(),
    };
    return { proxy, state };
  }

  /** A custom strategy: it orders the nodes it read itself, judging their heartbeats by the context's clock. */
  const leastMemory: InvocationStrategy = (nodes, _invocation, ctx) => ({
    kind: 'select',
    rule: 'in-order',
    candidates: eligibleNodes(nodes, 'compute', ctx)
      .sort((x, y) => x.memoryUsed - y.memoryUsed)
      .map((n) => ({ id: n.id, limit: n.slotsTotal })),
  });

  test.each([
    ['least-expected-delay', invocationStrategy('least-expected-delay')],
    ['most-slots', invocationStrategy('most-slots')],
    ['least-memory', leastMemory],
  ] as const)(
    '%s keeps dispatching, marked degraded, over the nodes it last read, minutes into the outage',
    async (strategyName, strategy) => {
      const node = await fakeNode('a');
      servers.push(node.server);
      let now = Date.now();
      const store = new MemoryStateStore(() => now);
      await store.heartbeat(report('a', { address: node.address, slotsTotal: 4, heartbeatAt: now }), 60_000);
      const { proxy, state } = failing(store);
      const dispatcher = new Dispatcher({
        connect: async () => proxy,
        strategyName,
        strategy,
        refreshMs: 1000,
        queueTimeoutMs: 0,
        now: () => now,
      });
      expect((await dispatcher.handle(invoke)).statusCode).toBe(200);

      state.down = true;
      for (let minute = 0; minute < 5; minute++) {
        now += 60_000; // far past the 3 s heartbeat limit: only the last read can vouch for the node
        const reply = await dispatcher.handle(invoke);
        expect([reply.statusCode, reply.headers?.['x-strata-node'], reply.headers?.['x-strata-tier1']]).toEqual([
          200,
          'a',
          `${strategyName}:a (degraded)`,
        ]);
      }
      state.down = false;
      now += 1_500;
      await store.heartbeat(report('a', { address: node.address, slotsTotal: 4, heartbeatAt: now }), 60_000);
      expect((await dispatcher.handle(invoke)).headers?.['x-strata-tier1']).toBe(`${strategyName}:a`);
    },
  );
});
