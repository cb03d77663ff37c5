import { checkChoices } from '../options';
import { indexed } from './candidates';

/**
 * Power of d choices (Mitzenmacher, "The Power of Two Choices in Randomized Load
 * Balancing", 2001; Envoy's least-request, Knative's random-choice-2): draw `choices`
 * nodes with room at random and take the one with fewer in flight; a tie goes to the
 * first drawn (sorting the draw by id would starve the highest ids when nodes are idle).
 * The store draws by rank in its index of nodes with room: d lookups, whatever the fleet.
 */
export function powerOfTwo(choices = 2) {
  checkChoices(choices);
  return indexed((_invocation, ctx) => ({
    kind: 'select',
    rule: 'power-of-two',
    draws: Array.from({ length: choices }, () => ctx.random()),
  }));
}
