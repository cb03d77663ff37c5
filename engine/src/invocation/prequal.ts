import { checkChoices, checkQuantile } from '../options';
import { indexed } from './candidates';

/**
 * Prequal (Wydrowski, Kleinberg, Rumble, Yang: "Load is not what you should balance",
 * NSDI 2024): probe `probes` nodes with room; a probe is hot when its requests in flight
 * are above the fleet's `quantile`; take the cold probe with the lowest latency (the
 * service time the node publishes), or, if all are hot, the one with the fewest in
 * flight. Probes are read live in the state store, so none is ever stale or reused.
 */
export function prequal(probes = 8, quantile = 0.9) {
  checkChoices(probes, 'prequalProbes');
  checkQuantile(quantile);
  return indexed((_invocation, ctx) => ({
    kind: 'select',
    rule: 'prequal',
    quantile,
    draws: Array.from({ length: probes }, () => ctx.random()),
  }));
}
