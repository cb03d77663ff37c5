import {
  applyIndexed,
  applySelection,
  type Candidate,
  type IndexedSelection,
  type CandidateSelection as Selection,
} from '@strata/policy-engine';
import fc from 'fast-check';

const candidates = (...ids: string[]): Candidate[] => ids.map((id) => ({ id, limit: 2 }));
const counts = (map: Record<string, number>) => (id: string) => map[id];

describe('applySelection', () => {
  test('in-order takes the first candidate with room, skipping full and gone ones', () => {
    const selection: Selection = { kind: 'select', rule: 'in-order', candidates: candidates('a', 'b', 'c') };
    expect(applySelection(selection, counts({ a: 2, c: 0 }))).toBe(2); // a full, b gone
  });

  test('rotate starts at cursor mod n and walks on past full nodes', () => {
    const selection: Selection = {
      kind: 'select',
      rule: 'rotate',
      cursor: 'rr',
      candidates: candidates('a', 'b', 'c'),
    };
    const all = counts({ a: 0, b: 0, c: 0 });
    expect([1, 2, 3, 4].map((cursor) => applySelection(selection, all, cursor))).toEqual([0, 1, 2, 0]);
    expect(applySelection(selection, counts({ a: 0, b: 2, c: 0 }), 2)).toBe(2);
  });

  test('fewest-in-flight compares only the sample, ties to the earlier candidate', () => {
    const selection: Selection = {
      kind: 'select',
      rule: 'fewest-in-flight',
      sample: 2,
      candidates: candidates('a', 'b', 'c'),
    };
    expect(applySelection(selection, counts({ a: 1, b: 0, c: 0 }))).toBe(1);
    expect(applySelection(selection, counts({ a: 1, b: 1, c: 0 }))).toBe(0); // c has fewer but is outside the sample
  });

  test('fewest-in-flight falls back to the first candidate with room after a full sample', () => {
    const selection: Selection = {
      kind: 'select',
      rule: 'fewest-in-flight',
      sample: 2,
      candidates: candidates('a', 'b', 'c', 'd'),
    };
    expect(applySelection(selection, counts({ a: 2, b: 2, c: 2, d: 1 }))).toBe(3);
  });

  test('answers -1 when no candidate has room', () => {
    for (const rule of ['in-order', 'rotate', 'fewest-in-flight'] as const) {
      const selection = {
        kind: 'select',
        rule,
        cursor: 'rr',
        sample: 3,
        candidates: candidates('a', 'b', 'c'),
      } as Selection;
      expect(applySelection(selection, counts({ a: 2, b: 2 }), 1)).toBe(-1);
    }
  });
});

describe('applyIndexed', () => {
  test('a caller that keeps the count of nodes with room gets the same answers as one that does not', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 300 })),
          { minLength: 1, maxLength: 30 },
        ),
        fc.array(
          fc.integer({ min: 0, max: 999 }).map((k) => k / 1000),
          { minLength: 1, maxLength: 8 },
        ),
        fc.constantFrom('power-of-two' as const, 'prequal' as const),
        (nodes, draws, rule) => {
          const fleet = {
            ids: nodes.map((_, i) => `n${String(i).padStart(2, '0')}`),
            inFlight: nodes.map(([count]) => count),
            slots: nodes.map(([, slots]) => slots),
            slotsUsed: nodes.map(() => 0),
            loadPerCore: nodes.map(() => 0),
            serviceMs: nodes.map(([, , ms]) => ms),
          };
          const selection = { kind: 'select', rule, draws, quantile: 0.5 } as IndexedSelection;
          const withRoom = nodes.filter(([count, slots]) => count < slots).length;
          expect(applyIndexed(selection, { ...fleet, withRoom })).toBe(applyIndexed(selection, fleet));
        },
      ),
    );
  });
});
