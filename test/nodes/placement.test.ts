import { pgidOf, pgNumMask, pgSeed, stableMod } from '../../nodes/compute/placement';

// An object's PG computed as RADOS computes it. The pairs below are what the one-host
// Ceph's `ceph osd map default.rgw.buckets.data NAME` answered (pool id 2, pg_num 128) in
// test/local/ceph.test.ts, which checks 300 names against the real cluster.
const dataPool = { poolId: 2, pgNum: 128 };
const marker = 'e344b04b-0a15-4e0a-b60f-2bb8323602c7.4168.1';

test("Ceph's answers for RGW head objects: ASCII names and multi-byte UTF-8 ones", () => {
  expect(pgidOf(dataPool, `${marker}_corpus/0.txt`)).toBe('2.4b');
  expect(pgidOf(dataPool, `${marker}_corpus/k1.txt`)).toBe('2.7b');
  expect(pgidOf(dataPool, `${marker}_corpus/kk2.txt`)).toBe('2.53');
  expect(pgidOf(dataPool, `${marker}_données/ключ-0-✓`)).toBe('2.2c');
  expect(pgidOf(dataPool, `${marker}_données/ключ-1-✓`)).toBe('2.6f');
});

test('the pg_num mask is the power of 2 at or above pg_num, less 1', () => {
  expect([1, 2, 12, 64, 100, 123, 128, 129].map(pgNumMask)).toEqual([0, 1, 15, 63, 127, 127, 127, 255]);
});

test('the stable modulo folds a seed past pg_num onto the half mask, so that a PG splits in place', () => {
  // pg_num 12 (mask 15): 0..11 stay, 12..15 fold onto 4..7.
  expect([0, 5, 11, 12, 15, 16 + 13].map((x) => stableMod(x, 12, 15))).toEqual([0, 5, 11, 4, 7, 5]);
  // Hashes with the top bit set (above 2^31) fold like any other.
  expect(stableMod(0xffffffff, 128, 127)).toBe(127);
});

test('every seed is below pg_num, and with a power-of-2 pg_num the PGs of a pool are all used', () => {
  const seeds = new Set<number>();
  for (let i = 0; i < 2000; i++) seeds.add(pgSeed({ poolId: 5, pgNum: 128 }, `object-${i}`));
  expect(Math.max(...seeds)).toBeLessThan(128);
  expect(seeds.size).toBe(128);
  for (let i = 0; i < 500; i++) expect(pgSeed({ poolId: 5, pgNum: 100 }, `object-${i}`)).toBeLessThan(100);
});
