// The text loader first: the .lua imports below need it when running from source.
import './lua-text';
import type { IndexedSelection } from '../types';
import { hashAffinity } from './hash-affinity';
import hashAffinityLua from './hash-affinity.lua';
import { leastExpectedDelay } from './least-expected-delay';
import leastExpectedDelayLua from './least-expected-delay.lua';
import { leastLoad } from './least-load';
import leastLoadLua from './least-load.lua';
import { leastOutstanding } from './least-outstanding';
import leastOutstandingLua from './least-outstanding.lua';
import { mostSlots } from './most-slots';
import mostSlotsLua from './most-slots.lua';
import { powerOfTwo } from './power-of-two';
import powerOfTwoLua from './power-of-two.lua';
import { prequal } from './prequal';
import prequalLua from './prequal.lua';
import { roundRobin } from './round-robin';
import roundRobinLua from './round-robin.lua';
import { singleEntry } from './single-entry';
import singleEntryLua from './single-entry.lua';
import type { RuleUnit } from './unit';

/**
 * Every indexed rule, by name: its TypeScript (the reference, O(n) scans) and its Lua (what
 * the Redis store runs over its sorted sets), side by side in this folder. A new rule is a
 * pair of files and a line here (and its parameters in IndexedSelection); the store's
 * agreement test (test/common/state/redis-store.test.ts) runs every rule of this table
 * against both.
 */
export const INDEXED_RULES: { readonly [R in IndexedSelection['rule']]: RuleUnit<R> } = {
  'least-outstanding': { apply: leastOutstanding, lua: leastOutstandingLua },
  'least-expected-delay': { apply: leastExpectedDelay, lua: leastExpectedDelayLua },
  'least-load': { apply: leastLoad, lua: leastLoadLua },
  'most-slots': { apply: mostSlots, lua: mostSlotsLua },
  'single-entry': { apply: singleEntry, lua: singleEntryLua },
  'round-robin': { apply: roundRobin, lua: roundRobinLua },
  'power-of-two': { apply: powerOfTwo, lua: powerOfTwoLua },
  prequal: { apply: prequal, lua: prequalLua },
  'hash-affinity': { apply: hashAffinity, lua: hashAffinityLua },
};

export { AFFINITY_WALK } from './hash-affinity';
export { coprimeStep } from './scan';
