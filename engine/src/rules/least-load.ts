import { lowest } from './scan';
import type { RuleApply } from './unit';

/** The node of F with the lowest one-minute load per core. */
export const leastLoad: RuleApply<'least-load'> = (_selection, fleet) => lowest(fleet, (i) => fleet.loadPerCore[i]);
