import { type NodeView, type PolicyContext, seededRandom } from '@strata/policy-engine';

export const NOW = 1_700_000_000_000;
export const TTL_MS = 3_000;

/** A healthy, idle compute node with 4 slots; override what the test is about. */
export function node(id: string, overrides: Partial<NodeView> = {}): NodeView {
  return {
    id,
    address: `127.0.0.1:${9000 + Number(id.replace(/\D/g, '') || 0)}`,
    role: 'compute',
    slotsTotal: 4,
    slotsUsed: 0,
    inFlight: 0,
    cpuBusy: 0.1,
    memoryUsed: 0.2,
    load1: 0.1,
    load5: 0.1,
    load15: 0.1,
    cores: 2,
    heartbeatAt: NOW - 500,
    draining: false,
    ...overrides,
  };
}

/** Compute nodes n0..n(count-1). */
export function nodes(count: number, overrides: Partial<NodeView> = {}): NodeView[] {
  return Array.from({ length: count }, (_, i) => node(`n${i}`, overrides));
}

export function context(seed = 1, overrides: Partial<PolicyContext> = {}): PolicyContext {
  return { now: NOW, random: seededRandom(seed), heartbeatTtlMs: TTL_MS, ...overrides };
}
