import { drawFree } from './scan';
import type { RuleApply } from './unit';

/** One node of F per draw; the one with the fewest in flight, ties to the earlier draw. */
export const powerOfTwo: RuleApply<'power-of-two'> = (selection, fleet) => {
  let best = -1;
  for (const i of drawFree(fleet, selection.draws))
    if (best === -1 || fleet.inFlight[i] < fleet.inFlight[best]) best = i;
  return best;
};
