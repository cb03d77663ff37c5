import type { PlacementSpec } from './simulate';

/** The placements compared, by the name the tables use. */
export const PLACEMENTS: Record<string, PlacementSpec> = {
  oracle: { kind: 'oracle' },
  random: { kind: 'random' },
  // AutoNDP before: one entry node that forwards, in id order, when full. After: round robin.
  'autondp-before': { kind: 'strata', strategy: 'single-entry', nodePolicy: 'single-entry' },
  'autondp-after': { kind: 'strata', strategy: 'round-robin', nodePolicy: 'single-entry' },
  'round-robin': { kind: 'strata', strategy: 'round-robin', nodePolicy: 'most-slots' },
  'least-outstanding': { kind: 'strata', strategy: 'least-outstanding', nodePolicy: 'most-slots' },
  'power-of-two': { kind: 'strata', strategy: 'power-of-two', nodePolicy: 'most-slots' },
  'most-slots': { kind: 'strata', strategy: 'most-slots', nodePolicy: 'most-slots' },
  'least-load': { kind: 'strata', strategy: 'least-load', nodePolicy: 'least-load' },
  'hash-affinity': { kind: 'strata', strategy: 'hash-affinity', nodePolicy: 'most-slots' },
  // Adaptive: ranked by the service time each node measures of itself.
  'least-expected-delay': { kind: 'strata', strategy: 'least-expected-delay', nodePolicy: 'least-expected-delay' },
  prequal: { kind: 'strata', strategy: 'prequal', nodePolicy: 'least-expected-delay' },
  // Learns which of the strategies above fits the workload now: a bandit over whole strategies.
  adaptive: { kind: 'strata', strategy: 'adaptive', nodePolicy: 'least-expected-delay' },
};
