import { coprimeStep, fewestInFlight } from './scan';
import type { RuleApply } from './unit';

/** How many nodes of its walk hash-affinity tries, one index lookup each, before it takes the least busy node. */
export const AFFINITY_WALK = 8;

/** Home E[hash mod |E|], then a walk by a step co-prime to |E|: the first of AFFINITY_WALK steps in F; else as least-outstanding. */
export const hashAffinity: RuleApply<'hash-affinity'> = (selection, fleet) => {
  const { inFlight, slots } = fleet;
  const n = fleet.ids.length;
  if (n === 0) return -1;
  const home = selection.hash % n;
  const step = coprimeStep(selection.stepSeed, n);
  for (let i = 0; i < Math.min(n, AFFINITY_WALK); i++) {
    const j = (home + i * step) % n;
    if (inFlight[j] < slots[j]) return j;
  }
  return fewestInFlight(fleet);
};
