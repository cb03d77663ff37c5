import fc from 'fast-check';
import { applyMembership, type FleetMember, type MemberChange } from '../../../common/state';

const member = (id: string, slotsTotal = 2): FleetMember => ({
  id,
  address: `10.0.0.1:${8000 + slotsTotal}`,
  role: 'compute',
  slotsTotal,
  draining: false,
});

describe('applyMembership', () => {
  test('a full list replaces what was known; an update with neither list means nothing changed', () => {
    expect(applyMembership([member('a')], { version: 2, members: [member('b')] })).toEqual([member('b')]);
    expect(applyMembership([member('a')], { version: 2 })).toBeUndefined();
  });

  test('a few changes or many, the result is the members by id after each change in turn, sorted by id', () => {
    const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j');
    const change = fc.oneof(
      ids.map((id): MemberChange => ({ id })),
      fc
        .tuple(ids, fc.integer({ min: 1, max: 9 }))
        .map(([id, slots]): MemberChange => ({ id, member: member(id, slots) })),
    );
    fc.assert(
      fc.property(fc.uniqueArray(ids), fc.array(change, { maxLength: 40 }), (start, changes) => {
        const known = [...start].sort().map((id) => member(id));
        const expected = new Map(known.map((m) => [m.id, m]));
        for (const { id, member: m } of changes) {
          if (m) expected.set(id, m);
          else expected.delete(id);
        }
        const sorted = [...expected.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
        expect(applyMembership(known, { version: 1, changes })).toEqual(sorted);
      }),
    );
  });
});
