import { eligibleNodes } from '../nodes';
import type { InvocationStrategy } from '../types';
import { NO_COMPUTE_NODE, slotCandidates } from './candidates';

/**
 * Affinity by function name (Apache OpenWhisk's ShardingContainerPoolBalancer): a
 * function's home node is its hash modulo the node count, so its warm state stays on
 * one node; when home is full, walk the nodes by a step co-prime to their count, which
 * visits every node once, in an order that differs between functions.
 */
export const hashAffinity: InvocationStrategy = (nodes, invocation, ctx) => {
  const eligible = eligibleNodes(nodes, 'compute', ctx);
  const n = eligible.length;
  if (n === 0) return NO_COMPUTE_NODE;
  const hash = fnv1a(invocation.functionName);
  const home = hash % n;
  const step = coprimeStep(Math.imul(hash, 0x9e3779b1) >>> 0, n);
  const walk = Array.from({ length: n }, (_, i) => eligible[(home + i * step) % n]);
  return { kind: 'select', rule: 'in-order', candidates: slotCandidates(walk) };
};

/** 32-bit FNV-1a over the UTF-16 code units: fast, stable across processes and versions. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A step in [1, n) that shares no factor with n (1 when n is 1), picked by `seed`. */
function coprimeStep(seed: number, n: number): number {
  if (n <= 2) return 1;
  let step = 1 + (seed % (n - 1));
  while (gcd(step, n) !== 1) step = step === n - 1 ? 1 : step + 1;
  return step;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
