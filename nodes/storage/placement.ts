/**
 * The storage tier's placement map for tier 3 by locality: which host holds the primary
 * of each PG of RGW's data pool, published into the state store by a storage agent (whose
 * host has Ceph's admin keyring) so that a compute node computes an object's PG itself
 * (nodes/compute/placement.ts) and needs no ceph CLI, key or ceph.conf of its own.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { type CephCommand, osdHostsOf, type PlacementMap } from '../compute/locality';

/** The pool's id and pg_num in `ceph osd dump --format json`. */
export function poolOf(osdDumpJson: string, pool: string): { poolId: number; pgNum: number } {
  const dump = JSON.parse(osdDumpJson) as {
    pools?: { pool: number; pool_name: string; pg_num: number; object_hash?: number }[];
  };
  const found = dump.pools?.find((candidate) => candidate.pool_name === pool);
  if (!found) throw new Error(`ceph osd dump has no pool ${pool}`);
  // CEPH_STR_HASH_RJENKINS (2), the one hash nodes/compute/placement.ts computes.
  if (found.object_hash !== undefined && found.object_hash !== 2)
    throw new Error(`pool ${pool} hashes object names with hash ${found.object_hash}, not rjenkins (2)`);
  return { poolId: found.pool, pgNum: found.pg_num };
}

/** Each PG's acting primary OSD, by seed, for one pool, from `ceph pg dump pgs_brief --format json` (an array, or {pg_stats} since Pacific). */
export function actingPrimariesOf(pgsBriefJson: string, poolId: number): Map<number, number> {
  const parsed = JSON.parse(pgsBriefJson) as
    | { pgid: string; acting_primary: number }[]
    | { pg_stats?: { pgid: string; acting_primary: number }[] };
  const stats = Array.isArray(parsed) ? parsed : (parsed.pg_stats ?? []);
  const primaries = new Map<number, number>();
  for (const pg of stats) {
    const [pool, seed] = pg.pgid.split('.');
    if (Number(pool) === poolId && pg.acting_primary >= 0) primaries.set(Number.parseInt(seed, 16), pg.acting_primary);
  }
  return primaries;
}

/** The map from the OSD map and the PGs' primaries: each seed's primary's host address ('' where unknown). */
export function placementMapOf(osdDumpJson: string, pgsBriefJson: string, pool: string, bucketMarker: string) {
  const { epoch, hosts } = osdHostsOf(osdDumpJson);
  const { poolId, pgNum } = poolOf(osdDumpJson, pool);
  const primaries = actingPrimariesOf(pgsBriefJson, poolId);
  const map: PlacementMap = {
    poolId,
    pgNum,
    bucketMarker,
    hosts: Array.from({ length: pgNum }, (_, seed) => hosts.get(primaries.get(seed) ?? -1) ?? ''),
  };
  return { epoch, map };
}

export interface PlacementPublisherOptions {
  readonly ceph: CephCommand;
  /** The bucket's marker (radosgw-admin bucket stats), asked once it is known. */
  readonly bucketMarker: () => Promise<string>;
  /** Into the state store (RedisStateStore.publishPlacement): a newer epoch wins there. */
  readonly publish: (epoch: number, map: string) => Promise<boolean>;
  /** @default default.rgw.buckets.data */
  readonly pool?: string;
}

/**
 * Reads the OSD map (`ceph osd dump`, one process a tick) and, only when its epoch moved,
 * the PGs' primaries (`ceph pg dump pgs_brief`), then publishes. The PGs' primaries come
 * from the manager, whose view may trail a new epoch by several reports: after a move they
 * are read again each tick until two reads agree and every PG has a primary, and published
 * as they change. Between moves the same map is
 * published again each tick, which the state store takes as no change, unless it lost the
 * map (a cache replaced or flushed): then it is back within a tick.
 */
export class PlacementPublisher {
  private epoch: number | undefined;
  private settling = false;
  private marker: string | undefined;
  private lastMap: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Maps published (a version answered), for tests and logs. */
  published = 0;

  constructor(private readonly options: PlacementPublisherOptions) {}

  /** One look at the OSD map; true if a map was published. */
  async tick(): Promise<boolean> {
    const pool = this.options.pool ?? 'default.rgw.buckets.data';
    const dump = await this.options.ceph(['osd', 'dump']);
    const { epoch } = osdHostsOf(dump);
    let text = this.lastMap;
    if (epoch !== this.epoch || this.settling || text === undefined) {
      this.marker ??= await this.options.bucketMarker();
      const { map } = placementMapOf(dump, await this.options.ceph(['pg', 'dump', 'pgs_brief']), pool, this.marker);
      const read = JSON.stringify(map);
      this.settling = epoch !== this.epoch || read !== text || map.hosts.includes('');
      this.epoch = epoch;
      this.lastMap = text = read;
    }
    const replaced = await this.options.publish(epoch, text);
    if (replaced) this.published++;
    return replaced;
  }

  /** Ticks every intervalMs until stop(); a failed tick is tried again at the next (onError hears it). */
  start(intervalMs: number, onError: (error: Error) => void): this {
    let ticking = false; // a slow ceph call is not overlapped by the next tick
    const run = () => {
      if (ticking) return;
      ticking = true;
      this.tick()
        .catch((error: Error) => {
          this.lastMap = undefined; // read the PGs again next time
          onError(error);
        })
        .finally(() => {
          ticking = false;
        });
    };
    void run();
    this.timer = setInterval(run, intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The bucket's marker from a file (one line) that a process with Ceph's admin key wrote:
 * radosgw-admin cannot start with a read-only key (it sets up RGW's notify service, which
 * needs writes), so on AWS the setup script writes it once the bucket exists.
 */
export function fileMarker(path: string): () => Promise<string> {
  return async () => {
    const marker = (await readFile(path, 'utf8')).trim();
    if (marker === '') throw new Error(`${path} is empty: no bucket marker`);
    return marker;
  };
}

/** The bucket's marker from radosgw-admin (on a storage host, with its ceph.conf and a key that may write RGW's control pool). */
export function radosgwMarker(bucket: string, conf?: string): () => Promise<string> {
  return () =>
    new Promise((resolve, reject) => {
      execFile(
        'radosgw-admin',
        [...(conf ? ['--conf', conf] : []), 'bucket', 'stats', '--bucket', bucket],
        { timeout: 10_000 },
        (error, stdout) => {
          if (error) return reject(error);
          const marker = (JSON.parse(stdout) as { marker?: unknown }).marker;
          if (typeof marker !== 'string' || marker === '')
            return reject(new Error(`radosgw-admin: bucket ${bucket} has no marker`));
          resolve(marker);
        },
      );
    });
}
