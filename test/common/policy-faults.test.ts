import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { definePolicy, registerPolicy } from '@strata/policy-engine';
import { TierPolicy } from '../../common/live-policy';
import { PolicyFaultReporter } from '../../common/policy-faults';
import { MemoryStateStore } from '../../common/state';
import { Dispatcher } from '../../lambdas/dispatcher/dispatcher';
import { guardedStrategy } from '../../lambdas/dispatcher/handler';
import { invokeEvent } from '../support/events';
import { context, nodes, node as view } from '../support/nodes';
import { report } from './state/contract';

// A plugin that throws on every decision, and one that answers nonsense.
registerPolicy(
  'always-throws',
  definePolicy({
    tier: 'invocation',
    summary: 'throws',
    create: () => () => {
      throw new Error('plugin bug');
    },
  }),
);
registerPolicy(
  'answers-nonsense',
  definePolicy({ tier: 'node', summary: 'nonsense', create: () => () => ({ kind: 'maybe' }) as never }),
);

describe('PolicyFaultReporter', () => {
  test('counts every fault, and logs at most once a minute per tier with how many it did not log', () => {
    let now = 0;
    const counted: string[] = [];
    const logged: Record<string, unknown>[] = [];
    const reporter = new PolicyFaultReporter({
      count: (tier) => counted.push(tier),
      log: (_message, fields) => logged.push(fields),
      now: () => now,
    });
    for (let i = 0; i < 100; i++) {
      reporter.report('invocation', 'p', 'least-expected-delay', new Error('x'));
      now += 1000; // one a second
    }
    reporter.report('node', 'q', 'most-slots', new Error('y'));
    expect(counted).toHaveLength(101);
    // At 0 s, 60 s; the node tier's first fault is logged on its own.
    expect(logged.map((f) => [f.tier, f.faultsNotLoggedSinceLast])).toEqual([
      ['invocation', 0],
      ['invocation', 59],
      ['node', 0],
    ]);
  });
});

describe('TierPolicy', () => {
  test('a throwing strategy falls back to the default for that decision', () => {
    const faults: string[] = [];
    const tier = new TierPolicy('invocation', { name: 'always-throws', options: {} }, (_t, name, fallback, error) =>
      faults.push(`${name} -> ${fallback}: ${(error as Error).message}`),
    );
    const selection = tier.policy(nodes(3), { functionName: 'f', hops: 0 }, context());
    expect(selection).toEqual({ kind: 'select', rule: 'least-expected-delay' });
    expect(faults).toEqual(['always-throws -> least-expected-delay: plugin bug']);
  });

  test('an answer of the wrong shape is a fault too', () => {
    const faults: unknown[] = [];
    const tier = new TierPolicy('node', { name: 'answers-nonsense', options: {} }, (...fault) => faults.push(fault));
    const self = view('self', { slotsUsed: 4 });
    expect(tier.policy(self, [self, view('a')], { functionName: 'f', hops: 1 }, context())).toMatchObject({
      kind: 'forward',
      peers: [{ id: 'a' }],
    });
    expect(faults).toHaveLength(1);
  });

  test('choose switches the policy behind the same function; a bad choice throws and keeps the current one', () => {
    const tier = new TierPolicy('invocation', { name: 'round-robin', options: {} }, () => {});
    const strategy = tier.policy;
    tier.choose({ name: 'prequal', options: { probes: 4 } });
    expect(strategy(nodes(2), { functionName: 'f', hops: 0 }, context())).toMatchObject({ rule: 'prequal' });
    expect(() => tier.choose({ name: 'prequal', options: { probes: 0 } })).toThrow('options.probes');
    expect(() => tier.choose({ name: 'nope', options: {} })).toThrow('Unknown invocation strategy "nope"');
    expect(tier.choice).toEqual({ name: 'prequal', options: { probes: 4 } });
    expect(strategy.reads).toBe('membership');
  });
});

describe('the dispatcher with a plugin that throws', () => {
  let server: Server;
  afterAll(() => server?.close());

  test('answers 200 through the default strategy, and counts PolicyFaults in its metrics', async () => {
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'x-strata-node': 'a' }).end('{"ran":"a"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const store = new MemoryStateStore();
    await store.heartbeat(report('a', { address: `127.0.0.1:${(server.address() as AddressInfo).port}` }), 60_000);
    const metrics = new Metrics({ namespace: 'Strata', serviceName: 'dispatcher' });
    const errors: unknown[] = [];
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    logger.error = (...args: unknown[]) => void errors.push(args);
    const dispatcher = new Dispatcher({
      connect: async () => store,
      strategyName: 'always-throws',
      strategy: guardedStrategy('always-throws', {}, { metrics, logger }).policy,
      refreshMs: 1000,
    });
    for (let i = 0; i < 3; i++) expect((await dispatcher.handle(invokeEvent())).statusCode).toBe(200);
    const stored = metrics.serializeMetrics() as unknown as { PolicyFaults?: number | number[] };
    expect(stored.PolicyFaults).toEqual([1, 1, 1]);
    expect(errors).toHaveLength(1); // logged once in the minute
  });
});
