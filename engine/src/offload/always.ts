import type { OffloadPolicy } from '../types';
import { pickStorageNode } from './thresholds';

/**
 * Offer every data stage to a live storage node (a holder of the object first, then the
 * least loaded) and leave the decision to the storage node, which refuses when it is
 * over its own thresholds: AutoNDP checked its rule on the storage node, on fresh figures.
 */
export const alwaysOffload: OffloadPolicy = (nodes, invocation, ctx, objectHolders) =>
  pickStorageNode(nodes, invocation, ctx, objectHolders, () => true, 'no live storage node');
