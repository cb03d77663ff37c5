import { byLeastLoad, eligibleNodes, loadPerCore } from '../nodes';
import { checkOffloadThresholds, type OffloadThresholds } from '../options';
import type { Invocation, NodeView, OffloadDecision, OffloadPolicy, PolicyContext } from '../types';

/**
 * AutoNDP's rule: run the data stage on a storage node only while its CPU, memory and
 * load per core are all strictly under the thresholds (a node exactly at a threshold
 * refuses). Among the storage nodes under them, prefer one that holds the object,
 * then the least loaded; ties broken by id.
 */
export function thresholdOffload(partial: Partial<OffloadThresholds> = {}): OffloadPolicy {
  const limits = checkOffloadThresholds(partial);
  return (nodes, invocation, ctx, objectHolders) =>
    pickStorageNode(
      nodes,
      invocation,
      ctx,
      objectHolders,
      (n) => underThresholds(n, limits),
      'every storage node is over its thresholds',
    );
}

/**
 * Strictly under each threshold; a CPU or memory threshold of 1 (all of it) sets no limit,
 * since a node's share of either can reach 1 but never pass it (a storage host busy to
 * its whole CPU quota would otherwise refuse under a threshold that means "never").
 */
export function underThresholds(node: NodeView, limits: OffloadThresholds): boolean {
  return (
    (limits.cpu >= 1 || node.cpuBusy < limits.cpu) &&
    (limits.memory >= 1 || node.memoryUsed < limits.memory) &&
    loadPerCore(node) < limits.loadPerCore
  );
}

/** The live storage node to offload to among those `accept` takes: a holder of the object first, then the least loaded. */
export function pickStorageNode(
  nodes: readonly NodeView[],
  invocation: Invocation,
  ctx: PolicyContext,
  objectHolders: ReadonlySet<string> | undefined,
  accept: (node: NodeView) => boolean,
  noneAccepted: string,
): OffloadDecision {
  if (invocation.objectKey === undefined) return { kind: 'local', reason: 'the function has no data stage' };
  const storage = eligibleNodes(nodes, 'storage', ctx);
  if (storage.length === 0) return { kind: 'local', reason: 'no live storage node' };
  const accepted = storage.filter(accept);
  if (accepted.length === 0) return { kind: 'local', reason: noneAccepted };
  const holders = accepted.filter((n) => objectHolders?.has(n.id));
  const [best] = (holders.length > 0 ? holders : accepted).sort(byLeastLoad);
  return { kind: 'offload', node: best };
}
