import { invocationStrategy, type NodeView, ZERO_FIGURES } from '@strata/policy-engine';
import type { FleetMember } from '../../../common/state';
import { LastKnownFleet } from '../../../lambdas/dispatcher/last-known-fleet';

const member = (id: string, slotsTotal = 1, extra: Partial<FleetMember> = {}): FleetMember => ({
  id,
  address: `${id}:1`,
  role: 'compute',
  slotsTotal,
  draining: false,
  ...extra,
});

/** The dispatcher's fallback while the shared state is away: the last fleet read, with its own counts. */
describe('LastKnownFleet', () => {
  const ctx = { now: 0, random: () => 0, heartbeatTtlMs: 3000 };
  const invocation = { functionName: 'sleep', hops: 0 };

  it('GIVEN members without figures WHEN an index rule reserves THEN it ranks by its own counts and refuses full nodes', () => {
    const fleet = new LastKnownFleet();
    fleet.remember([member('a'), member('b'), member('s', 4, { role: 'storage' }), member('d', 4, { draining: true })]);
    const selection = invocationStrategy('least-outstanding')([], invocation, ctx);
    if (selection.kind !== 'select') throw new Error('the strategy always selects');
    const first = fleet.reserve(selection);
    const second = fleet.reserve(selection);
    const third = fleet.reserve(selection);
    expect([first.kind === 'chosen' && first.nodeId, second.kind === 'chosen' && second.nodeId, third.kind]).toEqual([
      'a',
      'b',
      'no-capacity',
    ]);
  });

  it('GIVEN a reservation WHEN it is released (twice) THEN the node has room again, once', async () => {
    const fleet = new LastKnownFleet();
    fleet.remember([member('a', 2)]);
    const selection = { kind: 'select', rule: 'in-order', candidates: [{ id: 'a', limit: 2 }] } as const;
    const held = fleet.reserve(selection);
    const other = fleet.reserve(selection);
    expect(fleet.reserve(selection).kind).toBe('no-capacity');
    if (held.kind !== 'chosen' || other.kind !== 'chosen') throw new Error('both fit');
    await held.release();
    await held.release();
    expect(fleet.reserve(selection)).toMatchObject({ kind: 'chosen', nodeId: 'a', inFlight: 2 });
  });

  it('GIVEN nodes read with figures WHEN least-expected-delay reserves THEN the faster node (as last read) is chosen', () => {
    const view = (id: string, serviceMs: number): NodeView => ({
      ...member(id, 4),
      ...ZERO_FIGURES,
      heartbeatAt: 0,
      serviceMs,
    });
    const fleet = new LastKnownFleet();
    fleet.remember([view('a', 500), view('b', 5)]);
    const chosen = fleet.reserve({ kind: 'select', rule: 'least-expected-delay' });
    expect(chosen.kind === 'chosen' && chosen.nodeId).toBe('b');
  });

  it('GIVEN membership changes WHEN applied THEN a node that left goes with its counts, one that joined can be chosen', () => {
    const fleet = new LastKnownFleet();
    fleet.remember([member('a'), member('b')]);
    const selection = { kind: 'select', rule: 'least-outstanding' } as const;
    expect(fleet.reserve(selection)).toMatchObject({ kind: 'chosen', nodeId: 'a' });
    fleet.change([{ id: 'a' }, { id: 'c', member: member('c') }]);
    const next = [fleet.reserve(selection), fleet.reserve(selection), fleet.reserve(selection)];
    expect(next.map((r) => (r.kind === 'chosen' ? r.nodeId : r.kind))).toEqual(['b', 'c', 'no-capacity']);
    fleet.change([{ id: 'a', member: member('a') }]); // back, with no count left over from before
    expect(fleet.reserve(selection)).toMatchObject({ kind: 'chosen', nodeId: 'a' });
  });

  it('GIVEN a node that left WHEN a candidate list names it THEN it is not chosen', () => {
    const fleet = new LastKnownFleet();
    fleet.remember([member('a'), member('b')]);
    fleet.remember([member('b')]);
    const chosen = fleet.reserve({
      kind: 'select',
      rule: 'in-order',
      candidates: [
        { id: 'a', limit: 1 },
        { id: 'b', limit: 1 },
      ],
    });
    expect(chosen.kind === 'chosen' && chosen.nodeId).toBe('b');
  });
});
