import { indexed } from './candidates';

/** The node with the most free slots (the larger of its reported slots in use and its live in-flight count). */
export const mostSlots = indexed(() => ({ kind: 'select', rule: 'most-slots' }));
