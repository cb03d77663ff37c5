import { indexed } from './candidates';

/**
 * Affinity by function name (Apache OpenWhisk's ShardingContainerPoolBalancer): a
 * function's home node is its hash modulo the node count, so its warm state stays on
 * one node; when home is full, walk the nodes by a step co-prime to their count, which
 * visits the nodes in an order that differs between functions. The store walks at most
 * AFFINITY_WALK steps, then takes the least busy node.
 */
export const hashAffinity = indexed((invocation) => {
  const hash = fnv1a(invocation.functionName);
  return { kind: 'select', rule: 'hash-affinity', hash, stepSeed: Math.imul(hash, 0x9e3779b1) >>> 0 };
});

/** 32-bit FNV-1a over the UTF-16 code units: fast, stable across processes and versions. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
