import type { CandidateSelection, IndexedSelection, Selection } from './types';

/** Whether the store decides over its own index (no candidate list). */
export function isIndexed(selection: Selection): selection is IndexedSelection {
  return !('candidates' in selection);
}

/**
 * Applies a selection's rule to live in-flight counts and returns the index of the
 * chosen candidate, or -1 when none has room. The in-memory state store calls this;
 * the Redis store runs the same rule in Lua (a contract test keeps the two equal).
 *
 * @param inFlight the candidate's live in-flight count, or undefined when it is gone
 * @param cursor for `rotate`: the shared counter after this decision advanced it (1, 2, ...)
 */
export function applySelection(
  selection: CandidateSelection,
  inFlight: (id: string) => number | undefined,
  cursor = 0,
): number {
  const { candidates } = selection;
  // The candidate's in-flight count while it is live and under its limit, else undefined.
  const room = (i: number): number | undefined => {
    const count = inFlight(candidates[i].id);
    return count !== undefined && count < candidates[i].limit ? count : undefined;
  };
  const firstWithRoom = (from: number): number => {
    for (let i = from; i < candidates.length; i++) if (room(i) !== undefined) return i;
    return -1;
  };

  switch (selection.rule) {
    case 'in-order':
      return firstWithRoom(0);
    case 'rotate': {
      const n = candidates.length;
      const start = n === 0 ? 0 : (cursor - 1) % n;
      for (let step = 0; step < n; step++) {
        const i = (start + step) % n;
        if (room(i) !== undefined) return i;
      }
      return -1;
    }
    case 'fewest-in-flight': {
      // The hot loop of join-the-shortest-queue over a whole fleet: kept plain, and it
      // stops at the first idle candidate, which no other can beat (ties go to the earlier).
      const sampled = Math.min(selection.sample, candidates.length);
      let best = -1;
      let fewest = Infinity;
      for (let i = 0; i < sampled && fewest > 0; i++) {
        const count = inFlight(candidates[i].id);
        if (count !== undefined && count < candidates[i].limit && count < fewest) {
          best = i;
          fewest = count;
        }
      }
      return best !== -1 ? best : firstWithRoom(sampled);
    }
  }
}
