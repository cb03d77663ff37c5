import { type Invocation, type NodeView, offloadPolicy } from '@strata/policy-engine';
import fc from 'fast-check';
import { context, NOW, node, TTL_MS } from '../support/nodes';

const read: Invocation = { functionName: 'wordcount', objectKey: 'corpus/shakespeare.txt', hops: 0 };
const storage = (id: string, overrides: Partial<NodeView> = {}) =>
  node(id, { role: 'storage', cpuBusy: 0.5, memoryUsed: 0.5, load1: 1, cores: 2, ...overrides });
const thresholds = offloadPolicy('thresholds'); // AutoNDP's 0.8 / 0.8 / 0.8
const where = (decision: ReturnType<typeof thresholds>) =>
  decision.kind === 'offload' ? decision.node.id : decision.reason;

describe('offload policy "thresholds"', () => {
  test('offloads to a storage node under every threshold', () => {
    expect(where(thresholds([storage('s1')], read, context()))).toBe('s1');
  });

  // The rule is strict: a node exactly at a threshold refuses, as in AutoNDP (value < threshold).
  test.each([
    ['CPU', { cpuBusy: 0.8 }],
    ['memory', { memoryUsed: 0.8 }],
    ['load per core', { load1: 1.6, cores: 2 }],
  ])('refuses at exactly the %s threshold and accepts just under it', (_what, atThreshold) => {
    expect(where(thresholds([storage('s1', atThreshold)], read, context()))).toBe(
      'every storage node is over its thresholds',
    );
    const justUnder = Object.fromEntries(
      Object.entries(atThreshold).map(([k, v]) => [k, k === 'cores' ? v : v - 1e-9]),
    );
    expect(where(thresholds([storage('s1', justUnder)], read, context()))).toBe('s1');
  });

  test('offloads only if all three are under: any one over keeps the stage on the compute node', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 4, noNaN: true }),
        (cpuBusy, memoryUsed, load1) => {
          const decision = thresholds([storage('s1', { cpuBusy, memoryUsed, load1, cores: 1 })], read, context());
          expect(decision.kind === 'offload').toBe(cpuBusy < 0.8 && memoryUsed < 0.8 && load1 < 0.8);
        },
      ),
    );
  });

  test('honours configured thresholds', () => {
    const strict = offloadPolicy('thresholds', { cpu: 0.4 });
    expect(strict([storage('s1', { cpuBusy: 0.5 })], read, context()).kind).toBe('local');
    expect(strict([storage('s1', { cpuBusy: 0.3 })], read, context()).kind).toBe('offload');
  });

  test('prefers a node that holds the object, else the least loaded, ties to the lowest id', () => {
    const nodes = [storage('s1', { load1: 1.2 }), storage('s2', { load1: 0.2 }), storage('s3', { load1: 0.2 })];
    expect(where(thresholds(nodes, read, context()))).toBe('s2');
    expect(where(thresholds(nodes, read, context(), new Set(['s1'])))).toBe('s1');
    // A holder over its thresholds is passed over for a node that can take the stage.
    expect(where(thresholds([...nodes, storage('s4', { cpuBusy: 0.9 })], read, context(), new Set(['s4'])))).toBe('s2');
  });

  test('never offloads to a dead, draining or compute node', () => {
    const nodes = [
      storage('dead', { heartbeatAt: NOW - TTL_MS }),
      storage('draining', { draining: true }),
      node('compute'),
    ];
    expect(where(thresholds(nodes, read, context()))).toBe('no live storage node');
  });

  test('runs a function without a data stage on the compute node', () => {
    expect(where(thresholds([storage('s1')], { functionName: 'sha256', hops: 0 }, context()))).toBe(
      'the function has no data stage',
    );
  });

  test.each([
    [{ cpu: 0 }, 'options.cpu must be a number above 0 and at most 1, got 0'],
    [{ memory: 1.5 }, 'options.memory must be a number above 0 and at most 1, got 1.5'],
    [{ loadPerCore: Number.NaN }, 'options.loadPerCore must be a number above 0, got NaN'],
  ])('rejects thresholds out of range: %p', (bad, message) => {
    expect(() => offloadPolicy('thresholds', bad)).toThrow(new RangeError(message));
  });
});

describe('offload policy "never"', () => {
  test('keeps every data stage on the compute node', () => {
    expect(where(offloadPolicy('never')([storage('s1')], read, context()))).toBe('offload is off');
  });
});

describe('offload policy "always"', () => {
  test('offers the stage to the least loaded live storage node whatever its figures, leaving the refusal to it', () => {
    const always = offloadPolicy('always');
    const nodes = [
      storage('s1', { cpuBusy: 0.99, load1: 1.0 }),
      storage('s2', { cpuBusy: 1, load1: 0.5 }),
      storage('dead', { heartbeatAt: NOW - TTL_MS }),
    ];
    expect(where(always(nodes, read, context()))).toBe('s2');
    expect(where(always(nodes, read, context(), new Set(['s1'])))).toBe('s1');
    expect(where(always([node('compute')], read, context()))).toBe('no live storage node');
  });
});
