import { indexed } from './candidates';

/**
 * Join the shortest queue: the node with the fewest invocations in flight across all
 * dispatchers, counted live in the state store (AWS ALB's "least outstanding requests").
 */
export const leastOutstanding = indexed(() => ({ kind: 'select', rule: 'least-outstanding' }));
