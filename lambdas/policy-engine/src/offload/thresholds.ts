import { byLeastLoad, eligibleNodes, loadPerCore } from '../nodes';
import { checkOffloadThresholds, type OffloadThresholds } from '../options';
import type { NodeView, OffloadPolicy } from '../types';

/**
 * AutoNDP's rule: run the data stage on a storage node only while its CPU, memory and
 * load per core are all strictly under the thresholds (a node exactly at a threshold
 * refuses). Among the storage nodes under them, prefer one that holds the object,
 * then the least loaded; ties broken by id.
 */
export function thresholdOffload(partial: Partial<OffloadThresholds> = {}): OffloadPolicy {
  const limits = checkOffloadThresholds(partial);
  return (nodes, invocation, ctx, objectHolders) => {
    if (invocation.objectKey === undefined) return { kind: 'local', reason: 'the function has no data stage' };
    const storage = eligibleNodes(nodes, 'storage', ctx);
    if (storage.length === 0) return { kind: 'local', reason: 'no live storage node' };
    const under = storage.filter((n) => underThresholds(n, limits));
    if (under.length === 0) return { kind: 'local', reason: 'every storage node is over its thresholds' };
    const holders = under.filter((n) => objectHolders?.has(n.id));
    const [best] = (holders.length > 0 ? holders : under).sort(byLeastLoad);
    return { kind: 'offload', node: best };
  };
}

export function underThresholds(node: NodeView, limits: OffloadThresholds): boolean {
  return node.cpuBusy < limits.cpu && node.memoryUsed < limits.memory && loadPerCore(node) < limits.loadPerCore;
}
