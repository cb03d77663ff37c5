import { indexed } from './candidates';

/** The node with room and the lowest one-minute load per core, as of its last heartbeat. */
export const leastLoad = indexed(() => ({ kind: 'select', rule: 'least-load' }));
