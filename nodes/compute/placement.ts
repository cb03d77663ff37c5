/**
 * An object's placement group, computed as RADOS computes it, with no call to Ceph: the
 * object's name is hashed with the pool's hash (rjenkins, the default and the only one
 * Strata's pools use) and the hash is folded onto the pool's pg_num with Ceph's stable
 * modulo. Written from Ceph's source (ceph/ceph): src/common/ceph_hash.cc
 * (ceph_str_hash_rjenkins), src/include/rados.h (ceph_stable_mod), src/osd/osd_types.cc
 * (pg_pool_t::hash_key, raw_pg_to_pg, calc_pg_masks) and src/osd/OSDMap.cc
 * (object_locator_to_pg). Checked against `ceph osd map` in test/local/ceph.test.ts.
 */

/** Bob Jenkins' 96-bit mix, on unsigned 32-bit words. */
function mix(s: Uint32Array): void {
  // s[0], s[1], s[2] are a, b, c; a Uint32Array keeps every step modulo 2^32.
  s[0] -= s[1];
  s[0] -= s[2];
  s[0] ^= s[2] >>> 13;
  s[1] -= s[2];
  s[1] -= s[0];
  s[1] ^= s[0] << 8;
  s[2] -= s[0];
  s[2] -= s[1];
  s[2] ^= s[1] >>> 13;
  s[0] -= s[1];
  s[0] -= s[2];
  s[0] ^= s[2] >>> 12;
  s[1] -= s[2];
  s[1] -= s[0];
  s[1] ^= s[0] << 16;
  s[2] -= s[0];
  s[2] -= s[1];
  s[2] ^= s[1] >>> 5;
  s[0] -= s[1];
  s[0] -= s[2];
  s[0] ^= s[2] >>> 3;
  s[1] -= s[2];
  s[1] -= s[0];
  s[1] ^= s[0] << 10;
  s[2] -= s[0];
  s[2] -= s[1];
  s[2] ^= s[1] >>> 15;
}

/** Ceph's rjenkins string hash of these bytes (an unsigned 32-bit number). */
export function rjenkinsHash(bytes: Uint8Array): number {
  const s = new Uint32Array([0x9e3779b9, 0x9e3779b9, 0]);
  const word = (at: number) => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
  let at = 0;
  for (; bytes.length - at >= 12; at += 12) {
    s[0] += word(at);
    s[1] += word(at + 4);
    s[2] += word(at + 8);
    mix(s);
  }
  // The last 0..11 bytes: c's low byte is the length, so c takes bytes 8..10 from its second byte up.
  s[2] += bytes.length;
  const rest = bytes.length - at;
  for (let i = rest - 1; i >= 0; i--) {
    const byte = bytes[at + i];
    if (i >= 8) s[2] += byte << (8 * (i - 7));
    else if (i >= 4) s[1] += byte << (8 * (i - 4));
    else s[0] += byte << (8 * i);
  }
  mix(s);
  return s[2];
}

/** Ceph's stable modulo: x onto b bins, stable as b grows (bmask is the power of 2 at or above b, less 1). */
export function stableMod(x: number, b: number, bmask: number): number {
  return (x & bmask) < b ? x & bmask : x & (bmask >>> 1);
}

/** The pool's pg_num_mask: the smallest 2^n - 1 at or above pg_num - 1. */
export function pgNumMask(pgNum: number): number {
  let bits = 0;
  while (pgNum - 1 >= 2 ** bits) bits++;
  return 2 ** bits - 1;
}

export interface PoolPlacement {
  /** The pool's id (the number before the dot of a pgid). */
  readonly poolId: number;
  readonly pgNum: number;
}

/** The placement seed (the PG's number in its pool) of a RADOS object in the default namespace. */
export function pgSeed(pool: PoolPlacement, objectName: string): number {
  const hash = rjenkinsHash(new TextEncoder().encode(objectName));
  return stableMod(hash, pool.pgNum, pgNumMask(pool.pgNum));
}

/** The pgid as Ceph writes it: `<pool id>.<seed in hex>` (what `ceph osd map` answers as pgid). */
export function pgidOf(pool: PoolPlacement, objectName: string): string {
  return `${pool.poolId}.${pgSeed(pool, objectName).toString(16)}`;
}
