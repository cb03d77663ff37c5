import { lowest } from './scan';
import type { RuleApply } from './unit';

/** The node of F with the most free slots, counting the larger of its slots in use and its in-flight count. */
export const mostSlots: RuleApply<'most-slots'> = (_selection, fleet) =>
  lowest(fleet, (i) => Math.max(fleet.slotsUsed[i], fleet.inFlight[i]) - fleet.slots[i]);
