import { indexed } from './candidates';

/** Round robin over the live compute nodes by one cursor that every dispatcher shares; full nodes are skipped. */
export const roundRobin = indexed(() => ({ kind: 'select', rule: 'round-robin', cursor: 'round-robin' }));
