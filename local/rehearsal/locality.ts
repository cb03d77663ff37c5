import { OFFLOAD_HEADER } from '../../common/http/headers';
import { pgidOf } from '../../nodes/compute/placement';
import { sleep } from '../commands';
import { corpusText } from '../corpus';
import { CephView } from './ceph';
import { settingsOf } from './deployment';
import type { RehearsalEnvironment } from './environment';
import type { Instance } from './fleet';
import type { Report } from './report';

const POOL = 'default.rgw.buckets.data';
/** Data stages each object must see offloaded, every one to its primary's host. */
const OFFLOADS = 4;

/**
 * Tier 3 by locality as deployed (strata.offloadByLocality): the storage agents publish the
 * data pool's placement map, and a compute host, with no ceph CLI key of its own, sends an
 * object's data stage to the storage host holding its primary. One object per storage
 * host, each chosen by Ceph's own placement (`ceph osd map` on a storage host).
 */
export async function checkLocality(
  env: RehearsalEnvironment,
  report: Report,
  storage: readonly Instance[],
  compute: readonly Instance[],
): Promise<void> {
  await report.check(
    'tier 3 by locality is deployed: the storage agents have a read-only Ceph key, the compute nodes run with --locality state and hold no Ceph key',
    async () => {
      const caps = await storage[0].host.must(['ceph', 'auth', 'get', 'client.strata-agent']);
      if (!/caps mon = "allow r"/.test(caps) || !/caps mgr = "allow r"/.test(caps) || /caps osd/.test(caps))
        throw new Error(`client.strata-agent's caps are not mon and mgr read-only: ${caps}`);
      for (const { host, name } of compute) {
        const unit = host.readFile('/etc/systemd/system/strata-compute-node.service');
        if (!unit.includes('--locality state')) throw new Error(`${name}: no --locality state in its unit`);
        const keys = await host.run(['sh', '-c', 'ls /etc/ceph/*.keyring 2>/dev/null']);
        if (keys.stdout.trim() !== '') throw new Error(`${name} holds a Ceph key: ${keys.stdout}`);
      }
      return `client.strata-agent: ${caps.match(/caps \w+ = "[^"]*"/g)?.join(', ')}; ${compute.length} compute units with --locality state, no keyring on them`;
    },
  );

  await report.check(
    `a compute host's data stage goes to the storage host holding the object's primary (${OFFLOADS} per object, one object per storage host)`,
    async () => {
      const ceph = new CephView(storage[0].host);
      const marker = await ceph.bucketMarker(settingsOf(storage[0].launch.userData).STRATA_BUCKET);
      const dump = await ceph.json<{ pools: { pool: number; pool_name: string; pg_num: number }[] }>('osd', 'dump');
      const pool = dump.pools.find((candidate) => candidate.pool_name === POOL)!;
      const byAddress = new Map(storage.map((instance) => [env.storageAddress(instance), instance]));
      // One key per storage host, by Ceph's placement; the PG computed here must be Ceph's too, for every key asked.
      const { chosen, tried } = await ceph.keysByPrimaryHost({
        pool: POOL,
        marker,
        prefix: 'locality-check/object-',
        hosts: [...byAddress.keys()],
        perHost: 1,
        limit: 200,
      });
      for (const { oid, pgid } of tried) {
        const computed = pgidOf({ poolId: pool.pool, pgNum: pool.pg_num }, oid);
        if (computed !== pgid) throw new Error(`${oid}: computed pgid ${computed}, Ceph's ${pgid}`);
      }
      const objects = chosen.map(({ key, primaryHost }) => ({ key, holder: byAddress.get(primaryHost)! }));
      const s3 = env.objects();
      try {
        for (const [i, { key }] of objects.entries()) await s3.put(key, corpusText(1024 * 1024, 200 + i));
      } finally {
        s3.close();
      }
      const port = settingsOf(compute[0].launch.userData).STRATA_PORT;
      const lines: string[] = [];
      for (const { key, holder } of objects) {
        const placed: string[] = [];
        // A storage agent over its thresholds refuses (the stage then runs on the compute host): ask until OFFLOADS went.
        for (let turn = 0; placed.filter((where) => where.startsWith('offloaded')).length < OFFLOADS; turn++) {
          if (turn >= 40) throw new Error(`${key}: ${placed.join(', ')}; wanted ${OFFLOADS} offloaded`);
          const { host, name } = compute[turn % compute.length];
          const reply = await fetch(`http://${host.address}:${port}/invoke/wordcount`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ key }),
            signal: AbortSignal.timeout(60_000),
          });
          const body = await reply.text();
          if (reply.status !== 200) throw new Error(`${name} ${key}: ${reply.status} ${body.slice(0, 200)}`);
          const where = reply.headers.get(OFFLOAD_HEADER) ?? '';
          placed.push(where);
          if (!where.startsWith('offloaded')) await sleep(1000);
        }
        const wrong = placed.filter(
          (where) => where.startsWith('offloaded') && where !== `offloaded:${holder.instanceId}`,
        );
        if (wrong.length > 0)
          throw new Error(
            `${key} (primary on ${holder.name} ${holder.instanceId}): offloaded elsewhere: ${wrong.join(', ')}`,
          );
        lines.push(`${key}: primary on ${holder.name}, ${placed.join(' ')}`);
      }
      return lines.join('\n');
    },
  );
}
