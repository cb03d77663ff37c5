import type { Tier3Options } from '../../bench/simulator/tier3';

/**
 * The tier-3 model's options the bench tests start from: three quarter-core compute
 * nodes, a 100 Mbit/s link, 4 MiB objects, the stage's CPU near and far, one request at a
 * time by round robin. Each file adds the storage host's CPU, the offload policy and the
 * number of requests it is about.
 */
export const TIER3_BASE = {
  computeCpu: [0.25, 0.25, 0.25],
  linkMbit: 100,
  objectBytes: 4 * 1024 * 1024,
  stageCpuMs: 180,
  nearStageCpuMs: 230,
  serveCpuMs: 50,
  overheadCpuMs: 20,
  strategy: 'round-robin',
  concurrency: 1,
} satisfies Partial<Tier3Options>;
