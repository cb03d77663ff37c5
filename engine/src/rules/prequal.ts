import { drawFree, freeQuantile, prequalPick } from './scan';
import type { RuleApply } from './unit';

/** The same draws; Prequal's hot-cold rule over them, hot above the quantile of F's counts. */
export const prequal: RuleApply<'prequal'> = (selection, fleet) =>
  prequalPick(fleet, drawFree(fleet, selection.draws), freeQuantile(fleet, selection.quantile));
