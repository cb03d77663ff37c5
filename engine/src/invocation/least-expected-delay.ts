import { indexed } from './candidates';

/**
 * Shortest expected delay with learned speeds: the node with the least
 * (in flight + 1) x service time / slots, where the service time is what the node
 * measured of itself (an exponentially weighted average, published with its heartbeat)
 * and the in-flight count is live. The cost of peak-EWMA in Finagle and Linkerd, and
 * the ranking of C3 (Suresh et al., NSDI 2015), with the queue counted by the dispatchers.
 */
export const leastExpectedDelay = indexed(() => ({ kind: 'select', rule: 'least-expected-delay' }));
