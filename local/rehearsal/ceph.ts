import { osdHostsOf, primaryOsdOf, rgwHeadObject } from '../../nodes/compute/locality';
import { sleep } from '../commands';
import type { Host } from '../emulated-hosts';

/** An RGW object's key with where Ceph places its head object: the PG and the primary OSD's host address. */
export interface PlacedKey {
  readonly key: string;
  readonly oid: string;
  readonly pgid: string;
  readonly primaryOsd: number;
  readonly primaryHost: string;
}

/** Ceph as seen from one storage host: the ceph CLI with the node's own admin keyring. */
export class CephView {
  constructor(readonly host: Host) {}

  /** `ceph ARGS --format json`, parsed; throws with ceph's output when it fails. */
  async json<T>(...args: string[]): Promise<T> {
    return JSON.parse(
      await this.host.must(['timeout', '60', 'ceph', ...args, '--format', 'json'], { timeoutMs: 70_000 }),
    ) as T;
  }

  async health(): Promise<{ status: string; checks: Record<string, { summary: { message: string } }> }> {
    return this.json('health');
  }

  /** HEALTH_OK, or the status and its checks' messages. */
  async healthText(): Promise<string> {
    const health = await this.health();
    const checks = Object.entries(health.checks ?? {}).map(([name, check]) => `${name}: ${check.summary.message}`);
    return [health.status, ...checks].join('; ');
  }

  /** Waits until health is HEALTH_OK; answers the seconds it took. Throws with the last health seen. */
  async waitForHealthOk(
    timeoutMs: number,
    isOk: (text: string) => boolean = (text) => text === 'HEALTH_OK',
  ): Promise<number> {
    const started = Date.now();
    let last = '';
    while (Date.now() - started < timeoutMs) {
      last = await this.healthText().catch(
        (error: Error) => `no answer: ${error.message.split('\n').slice(-2).join(' ')}`,
      );
      if (isOk(last)) return (Date.now() - started) / 1000;
      await sleep(3000);
    }
    throw new Error(`not HEALTH_OK after ${Math.round(timeoutMs / 1000)} s; last: ${last}`);
  }

  async monDump(): Promise<{ mons: { name: string; public_addrs: { addrvec: { type: string; addr: string }[] } }[] }> {
    return this.json('mon', 'dump');
  }

  async quorumNames(): Promise<string[]> {
    return (await this.json<{ quorum_names: string[] }>('quorum_status')).quorum_names;
  }

  async osdStat(): Promise<{ num_osds: number; num_up_osds: number; num_in_osds: number }> {
    return this.json('osd', 'stat');
  }

  async pool(name: string): Promise<Record<string, unknown>> {
    return this.json('osd', 'pool', 'get', name, 'all');
  }

  /** A bucket's marker (radosgw-admin bucket stats): the prefix of its objects' RADOS names. */
  async bucketMarker(bucket: string): Promise<string> {
    const stats = await this.host.must(['radosgw-admin', 'bucket', 'stats', '--bucket', bucket]);
    return (JSON.parse(stats) as { marker: string }).marker;
  }

  /**
   * Keys `PREFIX<i>.txt` chosen by Ceph's own placement (`ceph osd map` of each one's RGW head
   * object), `perHost` whose primary OSD is on each of `hosts` (addresses); `tried` is every
   * key asked, in order. Throws after `limit` keys without the spread.
   */
  async keysByPrimaryHost(options: {
    readonly pool: string;
    readonly marker: string;
    readonly prefix: string;
    readonly hosts: readonly string[];
    readonly perHost: number;
    readonly limit: number;
  }): Promise<{ chosen: PlacedKey[]; tried: PlacedKey[] }> {
    const osdHosts = osdHostsOf(JSON.stringify(await this.json('osd', 'dump'))).hosts;
    const chosen: PlacedKey[] = [];
    const tried: PlacedKey[] = [];
    const count = (host: string) => chosen.filter((placed) => placed.primaryHost === host).length;
    for (let i = 0; chosen.length < options.perHost * options.hosts.length; i++) {
      if (i > options.limit)
        throw new Error(`no key with its primary on each storage host after ${options.limit}: ${chosen.length}`);
      const key = `${options.prefix}${i}.txt`;
      const oid = rgwHeadObject(options.marker, key)!;
      const map = await this.json<{ pgid: string }>('osd', 'map', options.pool, oid);
      const primaryOsd = primaryOsdOf(JSON.stringify(map)).osd;
      const placed = { key, oid, pgid: map.pgid, primaryOsd, primaryHost: osdHosts.get(primaryOsd) ?? '' };
      tried.push(placed);
      if (options.hosts.includes(placed.primaryHost) && count(placed.primaryHost) < options.perHost)
        chosen.push(placed);
    }
    return { chosen, tried };
  }

  /** The value of a setting as the daemon runs with it. */
  async runningConfig(daemon: string, key: string): Promise<string> {
    return (await this.host.must(['timeout', '60', 'ceph', 'config', 'show', daemon, key])).trim();
  }
}
