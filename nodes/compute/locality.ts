/**
 * Tier 3 by locality: which storage host holds an object's primary copy, from Ceph's
 * placement, so that a data stage is offered there first (its read then stays on the
 * host, off the links). For an object in RGW the copy that counts is the primary OSD of
 * the object's head RADOS object (`<bucket marker>_<key>` in the data pool; a 4 MiB
 * object is its head). The placement is computed by the monitors from the OSD map
 * (`ceph osd map POOL OID`), one small call, and the OSDs' addresses come from the OSD
 * map too (`ceph osd dump`): no storage host is asked where the data is.
 */
import { execFile } from 'node:child_process';
import type { NodeView } from '@strata/policy-engine';
import { pgSeed } from './placement';

/** Runs the ceph CLI with these arguments (and --format json), answering its stdout. */
export type CephCommand = (args: readonly string[]) => Promise<string>;

/** Where an object's primary copy is: the IPv4 address of the host of its primary OSD, if known. */
export interface PrimaryLocator {
  primaryHost(key: string): Promise<string | undefined>;
}

/**
 * The RADOS object that holds the head of RGW object `key`. RGW writes a key that
 * starts with "_" under an escaped name; those are left to the fallback (undefined).
 */
export function rgwHeadObject(bucketMarker: string, key: string): string | undefined {
  return key.startsWith('_') ? undefined : `${bucketMarker}_${key}`;
}

/** The acting primary OSD, and the OSD map epoch it was computed in, from `ceph osd map POOL OID --format json`. */
export function primaryOsdOf(osdMapJson: string): { osd: number; epoch: number } {
  const map = JSON.parse(osdMapJson) as { acting_primary?: unknown; epoch?: unknown };
  if (typeof map.acting_primary !== 'number' || map.acting_primary < 0)
    throw new Error(`ceph osd map answered no acting primary: ${osdMapJson.slice(0, 200)}`);
  return { osd: map.acting_primary, epoch: typeof map.epoch === 'number' ? map.epoch : 0 };
}

/** Each up OSD's host address (IPv4, no port), and the map's epoch, from `ceph osd dump --format json`. */
export function osdHostsOf(osdDumpJson: string): { epoch: number; hosts: Map<number, string> } {
  const dump = JSON.parse(osdDumpJson) as {
    epoch?: number;
    osds?: { osd: number; up?: number; public_addr?: string; public_addrs?: { addrvec?: { addr: string }[] } }[];
  };
  const hosts = new Map<number, string>();
  for (const osd of dump.osds ?? []) {
    if (osd.up === 0) continue;
    const addr = osd.public_addrs?.addrvec?.[0]?.addr ?? osd.public_addr;
    const ip = addr === undefined ? undefined : /^(\d+\.\d+\.\d+\.\d+):/.exec(addr)?.[1];
    if (ip) hosts.set(osd.osd, ip);
  }
  return { epoch: typeof dump.epoch === 'number' ? dump.epoch : 0, hosts };
}

/** The storage nodes on the host at `ip` (a node's address is ip:port). */
export function storageOnHost(storage: readonly NodeView[], ip: string): NodeView[] {
  return storage.filter((node) => node.role === 'storage' && node.address.split(':')[0] === ip);
}

/**
 * The ids of the storage nodes on the host of the object's primary copy, which the
 * offload policy prefers among the storage nodes it allows (its objectHolders); undefined
 * when the placement is not known, and the policy then picks among any it allows.
 */
export async function primaryHolders(
  locator: PrimaryLocator,
  storage: readonly NodeView[],
  key: string,
): Promise<ReadonlySet<string> | undefined> {
  const ip = await locator.primaryHost(key).catch(() => undefined);
  return ip === undefined ? undefined : new Set(storageOnHost(storage, ip).map((node) => node.id));
}

export interface CephLocatorOptions {
  readonly ceph: CephCommand;
  /** RGW's data pool. @default default.rgw.buckets.data */
  readonly pool?: string;
  /** The bucket's marker (radosgw-admin bucket stats: "marker"), the prefix of its objects' RADOS names. */
  readonly bucketMarker: string;
  /** How often the OSD map (its epoch, the OSDs' addresses) is read again. @default 10000 */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/**
 * Finds primaries with the ceph CLI. A placement changes only with the OSD map, so an
 * object's primary is kept while the map's epoch is the one it was computed in; the map
 * is read again every ttlMs in the background, and a request waits for the CLI only the
 * first time (the first map, an object not seen in this epoch). Each run of the CLI is
 * a process: asked again on the request path every 10 s, it cost a compute host on a
 * 0.2-core quota more than the link saved (docs/benchmarks.md § Tier 3 by locality).
 */
export class CephLocator implements PrimaryLocator {
  private map: { at: number; epoch: number; hosts: Map<number, string> } | undefined;
  private reading: Promise<void> | undefined;
  private readonly primaries = new Map<string, { osd: number; epoch: number }>();
  private readonly now: () => number;

  constructor(private readonly options: CephLocatorOptions) {
    this.now = options.now ?? Date.now;
  }

  async primaryHost(key: string): Promise<string | undefined> {
    const oid = rgwHeadObject(this.options.bucketMarker, key);
    if (oid === undefined) return undefined;
    if (!this.map) await this.readMap();
    else if (this.now() - this.map.at > (this.options.ttlMs ?? 10_000)) this.readMap().catch(() => undefined);
    const map = this.map!;
    let primary = this.primaries.get(oid);
    if (!primary || primary.epoch < map.epoch) {
      primary = primaryOsdOf(
        await this.options.ceph(['osd', 'map', this.options.pool ?? 'default.rgw.buckets.data', oid]),
      );
      this.primaries.set(oid, primary);
    }
    return map.hosts.get(primary.osd);
  }

  /** Reads the OSD map once at a time; a failed read is tried again after ttlMs, the last map kept meanwhile. */
  private readMap(): Promise<void> {
    this.reading ??= this.options
      .ceph(['osd', 'dump'])
      .then((json) => {
        const { epoch, hosts } = osdHostsOf(json);
        // A new epoch makes every primary kept stale: forget them rather than keep every object ever asked.
        if (this.map && epoch !== this.map.epoch) this.primaries.clear();
        this.map = { at: this.now(), epoch, hosts };
      })
      .catch((error: unknown) => {
        if (!this.map) throw error;
        this.map.at = this.now();
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}

/**
 * The storage tier's placement map (nodes/storage/placement.ts publishes it into the state
 * store): the data pool's id and pg_num, the bucket's marker, and for each PG (by seed) the
 * address of its acting primary's host ('' where unknown).
 */
export interface PlacementMap {
  readonly poolId: number;
  readonly pgNum: number;
  readonly bucketMarker: string;
  readonly hosts: readonly string[];
}

/** Reads the published map: its version, the map only when the version is not the one held; undefined if none is published. */
export type PlacementRead = (heldVersion: string) => Promise<{ version: string; map?: string } | undefined>;

export interface PublishedLocatorOptions {
  readonly read: PlacementRead;
  /** How often the map's version is asked (one small script call). @default 1000, a heartbeat */
  readonly intervalMs?: number;
  readonly now?: () => number;
  /** Hears a failed read (the store reconnecting, a malformed map); the map held stays in use. */
  readonly onError?: (error: Error) => void;
}

/**
 * Finds primaries with no call to Ceph: the object's PG is computed here (placement.ts) and
 * its primary's host looked up in the map the storage tier published. The map's version is
 * asked at most every intervalMs, in the background once a map is held; the map itself comes
 * only when its version moved (a new OSD map epoch).
 */
export class PublishedLocator implements PrimaryLocator {
  private held: { version: string; map: PlacementMap } | undefined;
  private askedAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: PublishedLocatorOptions) {
    this.now = options.now ?? Date.now;
  }

  async primaryHost(key: string): Promise<string | undefined> {
    if (this.now() - this.askedAt >= (this.options.intervalMs ?? 1000)) {
      const reading = this.refresh();
      // Only the first map is waited for; later ones are read beside the request.
      if (!this.held) await reading;
    }
    const map = this.held?.map;
    if (!map) return undefined;
    const oid = rgwHeadObject(map.bucketMarker, key);
    return oid === undefined ? undefined : map.hosts[pgSeed(map, oid)] || undefined;
  }

  /** The map held now, for tests and logs. */
  get version(): string | undefined {
    return this.held?.version;
  }

  private refresh(): Promise<void> {
    this.askedAt = this.now();
    this.reading ??= this.options
      .read(this.held?.version ?? '')
      .then((answer) => {
        if (answer?.map !== undefined) this.held = { version: answer.version, map: checkPlacementMap(answer.map) };
      })
      // Never rejects: a read beside a request has no one to hear it, and a failover must not take the node down.
      .catch((error: Error) => this.options.onError?.(error))
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}

/** A published map, checked: a malformed one is refused rather than used. */
export function checkPlacementMap(text: string): PlacementMap {
  const map = JSON.parse(text) as Partial<PlacementMap>;
  if (
    !Number.isInteger(map.poolId) ||
    !Number.isInteger(map.pgNum) ||
    (map.pgNum as number) < 1 ||
    typeof map.bucketMarker !== 'string' ||
    !Array.isArray(map.hosts) ||
    map.hosts.length !== map.pgNum
  )
    throw new Error(`the placement map is malformed: ${text.slice(0, 200)}`);
  return map as PlacementMap;
}

/** The ceph CLI with a config file (its keyring needs only `mon 'allow r'`) and optionally who it is (`--id`, `--keyring`; else CEPH_ARGS or the default), JSON out, 5 s at most. */
export function cephCli(conf?: string, identity: readonly string[] = []): CephCommand {
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(
        'ceph',
        [...(conf ? ['--conf', conf] : []), ...identity, ...args, '--format', 'json'],
        { timeout: 5_000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      );
    });
}

/**
 * The compute node's --locality flag: \`state\` (the map the storage tier publishes into the
 * state store, read with \`read\`), or JSON with the bucket's marker, and optionally the data
 * pool and ceph.conf, for the ceph CLI on this host.
 */
export function locatorFromFlag(text: string, read?: PlacementRead, onError?: (error: Error) => void): PrimaryLocator {
  if (text === 'state') {
    if (!read) throw new RangeError('--locality state needs a Redis state store (it reads the placement map there)');
    return new PublishedLocator({ read, onError });
  }
  const value = JSON.parse(text) as { bucketMarker?: unknown; pool?: unknown; cephConf?: unknown };
  if (typeof value.bucketMarker !== 'string' || value.bucketMarker === '')
    throw new RangeError("--locality: bucketMarker must be the bucket's marker (radosgw-admin bucket stats)");
  if (value.pool !== undefined && typeof value.pool !== 'string')
    throw new RangeError('--locality: pool must be a string');
  if (value.cephConf !== undefined && typeof value.cephConf !== 'string')
    throw new RangeError('--locality: cephConf must be a path');
  return new CephLocator({ bucketMarker: value.bucketMarker, pool: value.pool, ceph: cephCli(value.cephConf) });
}
