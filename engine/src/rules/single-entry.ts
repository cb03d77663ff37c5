import type { RuleApply } from './unit';

/** E's first node, whatever it carries. */
export const singleEntry: RuleApply<'single-entry'> = (_selection, fleet) => (fleet.ids.length > 0 ? 0 : -1);
