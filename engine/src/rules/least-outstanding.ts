import { fewestInFlight } from './scan';
import type { RuleApply } from './unit';

/** The node of F with the fewest in flight. */
export const leastOutstanding: RuleApply<'least-outstanding'> = (_selection, fleet) => fewestInFlight(fleet);
