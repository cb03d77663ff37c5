import type { RuleApply } from './unit';

/** E[cursor - 1 mod |E|], or the next node of F after it in id order, wrapping. */
export const roundRobin: RuleApply<'round-robin'> = (_selection, { ids, inFlight, slots }, cursor) => {
  const n = ids.length;
  if (n === 0) return -1;
  const start = (cursor - 1) % n;
  for (let step = 0; step < n; step++) {
    const i = (start + step) % n;
    if (inFlight[i] < slots[i]) return i;
  }
  return -1;
};
