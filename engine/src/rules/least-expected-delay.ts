import { lowest } from './scan';
import type { RuleApply } from './unit';

/** The node of F with the least (in flight + 1) x service time / slots. */
export const leastExpectedDelay: RuleApply<'least-expected-delay'> = (_selection, fleet) =>
  lowest(fleet, (i) => ((fleet.inFlight[i] + 1) * fleet.serviceMs[i]) / fleet.slots[i]);
