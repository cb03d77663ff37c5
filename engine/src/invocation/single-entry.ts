import { indexed } from './candidates';

/**
 * Every invocation to one entry node (the live compute node with the lowest id), which
 * forwards to peers when it is full: AutoNDP's baseline, kept for benchmarks. The
 * dispatcher puts no limit on it, as AutoNDP's entry node queued everything it was sent.
 */
export const singleEntry = indexed(() => ({ kind: 'select', rule: 'single-entry' }));
