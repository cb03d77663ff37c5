import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { S3ObjectStore } from '../../common/object-store';
import { RedisStateStore } from '../../common/state';
import { functions } from '../../functions';
import { runStageOver } from '../../functions/text';
import { type OneHostCeph, startCeph } from '../../local/ceph';
import { LocalCluster, type LocalClusterOptions } from '../../local/cluster';
import { CORPUS, corpusText, loadCorpus } from '../../local/corpus';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { CephLocator, cephCli, PublishedLocator, rgwHeadObject } from '../../nodes/compute/locality';
import { pgidOf, pgSeed, rjenkinsHash } from '../../nodes/compute/placement';
import { actingPrimariesOf, fileMarker, PlacementPublisher } from '../../nodes/storage/placement';
import { call, heldAfterHeartbeat, json } from '../support/cluster';

// A real Ceph (Debian's Pacific packages) on this host: MON, MGR, 3 BlueStore OSDs, the
// data pool from nodes/ceph/pool.sh and RGW, all booted by local/ceph-one-host.sh. The storage
// tier's functions then read their objects from RGW through S3.
const POOL = 'default.rgw.buckets.data';
const BUCKET = 'strata-data';
const POOL_SCRIPT = join(__dirname, '..', '..', 'nodes', 'ceph', 'pool.sh');
let ceph: OneHostCeph;
let redis: RedisServer;

beforeAll(async () => {
  [ceph, redis] = await Promise.all([startCeph(), startRedisServer()]);
  await ceph.createBucket(BUCKET);
}, 240_000);

afterAll(async () => {
  await ceph?.stop();
  await redis?.stop();
}, 60_000);

const poolValue = (key: string) =>
  (JSON.parse(ceph.ceph('osd', 'pool', 'get', POOL, key, '--format', 'json')) as Record<string, unknown>)[key];
const autoscaleStatus = () =>
  JSON.parse(ceph.ceph('osd', 'pool', 'autoscale-status', '--format', 'json')) as {
    pool_name: string;
    pg_autoscale_mode: string;
    pg_num_target: number;
    pg_num_final: number;
  }[];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the one-host cluster and the data pool', () => {
  test('boots to HEALTH_OK with 3 OSDs up and a manager, and the pool script created the data pool', () => {
    expect(ceph.ceph('health').trim()).toBe('HEALTH_OK');
    expect(JSON.parse(ceph.ceph('osd', 'stat', '--format', 'json'))).toMatchObject({
      num_osds: 3,
      num_up_osds: 3,
      num_in_osds: 3,
    });
    expect(ceph.bootLog).toContain(`${POOL}: created with pg_num 128`);
  });

  test('the data pool has 128 PGs with the autoscaler on, and 128 as its floor', () => {
    expect(poolValue('pg_num')).toBe(128);
    expect(poolValue('pg_num_min')).toBe(128);
    expect(poolValue('pg_autoscale_mode')).toBe('on');
    expect(autoscaleStatus().find((pool) => pool.pool_name === POOL)).toMatchObject({
      pg_autoscale_mode: 'on',
      pg_num_target: 128,
    });
  });

  test('a second run of the pool script changes nothing', () => {
    const before = ['pg_num', 'pg_num_min', 'pg_autoscale_mode', 'size', 'min_size'].map(poolValue);
    const run = spawnSync(
      'bash',
      [POOL_SCRIPT, '--pool', POOL, '--pg-num', '128', '--autoscale', 'on', '--size', '1', '--min-size', '1'],
      {
        env: { ...process.env, CEPH_CONF: ceph.conf },
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n').at(-1)).toBe(`${POOL}: 0 change(s)`);
    expect(run.stdout).not.toContain('->');
    expect(['pg_num', 'pg_num_min', 'pg_autoscale_mode', 'size', 'min_size'].map(poolValue)).toEqual(before);
  });

  test('the autoscaler shrinks a plain 128-PG pool but keeps the data pool at 128', async () => {
    ceph.ceph('config', 'set', 'mgr', 'mgr/pg_autoscaler/sleep_interval', '5'); // a pass every 5 s, not 60
    ceph.ceph('osd', 'pool', 'create', 'strata-control', '--pg_num', '128', '--autoscale-mode=on');
    let control: { pg_num_target: number; pg_num_final: number } | undefined;
    for (let waited = 0; waited < 90_000; waited += 2_000) {
      control = autoscaleStatus().find((pool) => pool.pool_name === 'strata-control');
      if (control && (control.pg_num_target < 128 || control.pg_num_final < 128)) break;
      await sleep(2_000);
    }
    expect(Math.min(control!.pg_num_target, control!.pg_num_final)).toBeLessThan(128); // the test can see a shrink...
    const data = autoscaleStatus().find((pool) => pool.pool_name === POOL)!;
    expect([data.pg_num_target, data.pg_num_final, poolValue('pg_num')]).toEqual([128, 128, 128]); // ...and ours has none
    ceph.ceph('config', 'set', 'mon', 'mon_allow_pool_delete', 'true');
    ceph.ceph('osd', 'pool', 'rm', 'strata-control', 'strata-control', '--yes-i-really-really-mean-it');
  }, 120_000);
});

describe('the storage tier on RGW', () => {
  const store = () => new S3ObjectStore({ endpoint: ceph.rgwEndpoint, bucket: BUCKET, credentials: ceph.credentials });
  const cases = [
    ['wordcount', { key: CORPUS.large.key }, corpusText(CORPUS.large.bytes)],
    ['substring', { key: CORPUS.large.key, pattern: 'summer' }, corpusText(CORPUS.large.bytes)],
    ['wordcount', { key: CORPUS.small.key }, corpusText(CORPUS.small.bytes)],
  ] as const;
  const expected = (name: 'wordcount' | 'substring', args: { key: string }, text: string) => {
    const fn = functions[name] as (typeof functions)['wordcount'];
    return fn.finish(args as never, runStageOver(fn, args as never, text));
  };

  async function withCluster(
    options: Partial<LocalClusterOptions>,
    run: (cluster: LocalCluster) => Promise<void>,
  ): Promise<void> {
    const cluster = await LocalCluster.start({
      redisUrl: redis.url,
      objects: { s3Endpoint: ceph.rgwEndpoint, bucket: BUCKET, credentials: ceph.credentials },
      computeNodes: 2,
      slots: 2,
      ...options,
    });
    try {
      await cluster.waitForNodes();
      await run(cluster);
      expect(await heldAfterHeartbeat(cluster.state)).toEqual([
        ['c1', 0, 0],
        ['c2', 0, 0],
        ['s1', 0, 0],
      ]);
    } finally {
      await cluster.stop();
    }
  }

  beforeAll(async () => {
    await loadCorpus(store());
  }, 60_000);

  test('the corpus goes up through S3 and comes back byte for byte', async () => {
    for (const { key, bytes } of Object.values(CORPUS))
      expect((await store().get(key)).equals(Buffer.from(corpusText(bytes)))).toBe(true);
  });

  test('offload on: the storage agent reads from RGW and runs the data stage there', async () => {
    await withCluster(
      { offloadPolicy: 'always', storageThresholds: { cpu: 1, memory: 1, loadPerCore: 1000 } },
      async (cluster) => {
        for (const [name, args, text] of cases) {
          // The agent refuses while its CPU reads 100 % (thresholds are strict, and 1 is
          // the highest): on a host saturated by other tests that can last a second.
          // A refused stage runs on the compute node; ask again until one is offloaded.
          let tier3 = '';
          for (let attempt = 0; attempt < 20 && tier3 !== 'offloaded:s1'; attempt++) {
            const reply = await call(cluster.url, 'POST', `/invoke/${name}`, args);
            expect(reply.status).toBe(200);
            expect(json(reply)).toEqual(expected(name, args, text));
            tier3 = String(reply.headers['x-strata-tier3']);
            if (tier3 !== 'offloaded:s1') {
              expect(tier3).toBe('local:s1 refused (over-thresholds)');
              await sleep(500);
            }
          }
          expect(tier3).toBe('offloaded:s1');
        }
      },
    );
  }, 120_000);

  test('offload off: the compute node fetches from RGW, with the same answers', async () => {
    await withCluster({ offloadPolicy: 'never' }, async (cluster) => {
      for (const [name, args, text] of cases) {
        const reply = await call(cluster.url, 'POST', `/invoke/${name}`, args);
        expect(reply.status).toBe(200);
        expect(String(reply.headers['x-strata-tier3'])).toMatch(/^local:/);
        expect(json(reply)).toEqual(expected(name, args, text));
      }
    });
  }, 120_000);

  test('a storage node over its thresholds gets no stage: the compute node fetches the object and runs it', async () => {
    // The storage node's own figures (real /proc) are over these thresholds however idle it is.
    const over = { cpu: 1e-9, memory: 1e-9, loadPerCore: 1e-9 };
    await withCluster({ offloadPolicy: 'thresholds', offloadThresholds: over }, async (cluster) => {
      for (const [name, args, text] of cases) {
        const reply = await call(cluster.url, 'POST', `/invoke/${name}`, args);
        expect(reply.status).toBe(200);
        expect(reply.headers['x-strata-tier3']).toBe('local:every storage node is over its thresholds');
        expect(json(reply)).toEqual(expected(name, args, text));
      }
    });
  }, 120_000);

  // Tier 3 by locality against this Ceph: the head object's name, its primary OSD and
  // that OSD's address as the locator reads them, then a compute node that offloads there.
  describe('tier 3 by locality', () => {
    const admin = (...args: string[]) => {
      const run = spawnSync('radosgw-admin', args, { env: { ...process.env, CEPH_CONF: ceph.conf }, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`radosgw-admin ${args.join(' ')} failed: ${run.stderr}`);
      return run.stdout;
    };
    const radosStat = (oid: string) =>
      spawnSync('rados', ['-p', POOL, 'stat', oid], {
        env: { ...process.env, CEPH_CONF: ceph.conf },
        encoding: 'utf8',
      });
    const marker = () => (JSON.parse(admin('bucket', 'stats', '--bucket', BUCKET)) as { marker: string }).marker;

    test("the head object is in the data pool under the bucket's marker, and the locator answers its primary OSD's host", async () => {
      const oid = rgwHeadObject(marker(), CORPUS.large.key)!;
      const stat = radosStat(oid);
      expect(stat.status).toBe(0);
      // A 4 MiB object is all head: the whole object is this one RADOS object.
      expect(stat.stdout).toContain(`size ${CORPUS.large.bytes}`);
      expect(radosStat(`${marker()}_corpus/none.txt`).status).not.toBe(0); // stat does tell names apart
      const { acting_primary: primary } = JSON.parse(ceph.ceph('osd', 'map', POOL, oid, '--format', 'json')) as {
        acting_primary: number;
      };
      // The primary's address as another command reports it (osd find), beside the locator's (osd dump).
      const { addrs } = JSON.parse(ceph.ceph('osd', 'find', String(primary), '--format', 'json')) as {
        addrs: { addrvec: { addr: string }[] };
      };
      const found = addrs.addrvec[0].addr.split(':')[0];
      const locator = new CephLocator({ bucketMarker: marker(), ceph: cephCli(ceph.conf) });
      expect(await locator.primaryHost(CORPUS.large.key)).toBe(found);
      expect(found).toBe('127.0.0.1'); // where this one-host Ceph's OSDs listen, and where the storage node s2 below is
    });

    test("the pgid computed in TypeScript is Ceph's own (ceph osd map) for 300 object names, RGW head names among them", async () => {
      const pools = (
        JSON.parse(ceph.ceph('osd', 'dump', '--format', 'json')) as {
          pools: { pool: number; pool_name: string; pg_num: number; object_hash: number }[];
        }
      ).pools;
      const pool = pools.find((candidate) => candidate.pool_name === POOL)!;
      expect(pool.object_hash).toBe(2); // CEPH_STR_HASH_RJENKINS, the hash placement.ts computes
      // Names of every length from 0 to 11 bytes past a 12-byte block and beyond, with the
      // bucket's marker as RGW writes them, plain ones and some with multi-byte UTF-8.
      const bucket = marker();
      const names: string[] = [];
      for (let i = 0; i < 200; i++) names.push(`${bucket}_corpus/${'k'.repeat(i % 37)}${i}.txt`);
      for (let i = 0; i < 80; i++) names.push(`obj${'x'.repeat(i)}`.slice(0, i + 1));
      for (let i = 0; i < 20; i++) names.push(`${bucket}_données/ключ-${i}-✓`);
      // One ceph process for all: the CLI reads commands from stdin, one answer a line.
      const osdMap = () => {
        const run = spawnSync('ceph', ['--conf', ceph.conf, '--format', 'json'], {
          input: names.map((name) => `osd map ${POOL} ${name}\n`).join(''),
          encoding: 'utf8',
          timeout: 120_000,
        });
        expect(run.status).toBe(0);
        return run.stdout
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map(
            (line) => JSON.parse(line) as { objname: string; raw_pgid: string; pgid: string; acting_primary: number },
          );
      };
      const answers = osdMap();
      expect(answers.map((answer) => answer.objname)).toEqual(names);
      const raw = names.map((name) => `${pool.pool}.${rjenkinsHash(new TextEncoder().encode(name)).toString(16)}`);
      expect(raw).toEqual(answers.map((answer) => answer.raw_pgid)); // the hash itself, before the modulo
      const computed = names.map((name) => pgidOf({ poolId: pool.pool, pgNum: pool.pg_num }, name));
      expect(computed).toEqual(answers.map((answer) => answer.pgid));
      expect(new Set(computed).size).toBeGreaterThan(64); // spread over the pool's 128 PGs, not one
      // The PGs' primaries as the storage agent reads them (pg dump pgs_brief), by the computed seed:
      // each object's own. The manager's view trails the OSD map by up to a stats report while PGs
      // peer (CI saw one PG of 128 differ once), so both are read again until they agree, as the
      // storage agent reads until two reads agree (nodes/storage/placement.ts); within a minute.
      const fromDump = () => {
        const primaries = actingPrimariesOf(ceph.ceph('pg', 'dump', 'pgs_brief', '--format', 'json'), pool.pool);
        return names.map((name) => primaries.get(pgSeed({ poolId: pool.pool, pgNum: pool.pg_num }, name)));
      };
      const primariesAgree = async (mapped: readonly { acting_primary: number }[]) => {
        let fromMap = mapped.map((answer) => answer.acting_primary);
        let dumped = fromDump();
        const settled = Date.now() + 60_000;
        while (!isDeepStrictEqual(dumped, fromMap) && Date.now() < settled) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          dumped = fromDump();
          fromMap = osdMap().map((answer) => answer.acting_primary);
        }
        expect(dumped).toEqual(fromMap);
      };
      await primariesAgree(answers);
      // The race provoked, as CI met it (an OSD that missed its heartbeats on a loaded host): osd.0
      // marked down, alive, so that it says so and comes back within seconds. Its PGs (one copy
      // here) lose their primary in the OSD map at once and get it back; the manager's view follows.
      ceph.ceph('osd', 'down', '0');
      const upAgain = Date.now() + 60_000;
      const osd0Up = () =>
        (JSON.parse(ceph.ceph('osd', 'dump', '--format', 'json')) as { osds: { osd: number; up: number }[] }).osds.find(
          (osd) => osd.osd === 0,
        )?.up === 1;
      while (!osd0Up() && Date.now() < upAgain) await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(osd0Up()).toBe(true);
      await primariesAgree(osdMap());
    }, 300_000);

    test('the storage agent publishes the placement map into Redis with a read-only key, and a locator with no ceph CLI answers from it', async () => {
      const store = await RedisStateStore.connect({ url: redis.url, keyPrefix: 'placement-test' });
      // The key the AWS storage agent gets (nodes/node-setup/storage-node.sh; CEPH_ARGS names it there).
      const folder = mkdtempSync(join(tmpdir(), 'strata-agent-'));
      const keyring = join(folder, 'keyring');
      writeFileSync(
        keyring,
        ceph.ceph('auth', 'get-or-create', 'client.strata-agent', 'mon', 'allow r', 'mgr', 'allow r'),
      );
      // radosgw-admin cannot start with that key: the setup script writes the marker with the admin's.
      const markerFile = join(folder, 'bucket-marker');
      writeFileSync(markerFile, `${marker()}\n`);
      try {
        // Who the CLI is, as CEPH_ARGS says on AWS (jest's process.env does not reach a child, so flags here).
        const as = (file: string) => cephCli(ceph.conf, ['--id', 'strata-agent', '--keyring', file]);
        const publish = (file: string) =>
          new PlacementPublisher({
            ceph: as(file),
            bucketMarker: fileMarker(markerFile),
            publish: (epoch, map) => store.publishPlacement(epoch, map),
          });
        // The same name with another secret is refused: the CLI is who the flags say.
        const forged = join(folder, 'forged');
        const secret = spawnSync('ceph-authtool', ['--gen-print-key'], { encoding: 'utf8' }).stdout.trim();
        writeFileSync(forged, `[client.strata-agent]\n\tkey = ${secret}\n`);
        await expect(publish(forged).tick()).rejects.toThrow();
        const publisher = publish(keyring);
        expect(await publisher.tick()).toBe(true);
        await publisher.tick(); // the settling read: the same map, not published again
        expect(await publisher.tick()).toBe(false); // the epoch has not moved: the PGs are not read
        // The key writes nothing: a pool it may not create.
        await expect(as(keyring)(['osd', 'pool', 'create', 'not-allowed'])).rejects.toThrow();
        const published = await store.placement();
        expect(published?.version).toMatch(/^1@\d+$/); // one map published, once
        const map = JSON.parse(published!.map!) as { bucketMarker: string; hosts: string[]; pgNum: number };
        expect(map.bucketMarker).toBe(marker());
        expect(map.hosts).toHaveLength(map.pgNum);
        expect(new Set(map.hosts)).toEqual(new Set(['127.0.0.1'])); // every OSD of this one-host Ceph
        const locator = new PublishedLocator({ read: (held) => store.placement(held) });
        expect(await locator.primaryHost(CORPUS.large.key)).toBe('127.0.0.1');
      } finally {
        await store.close();
      }
    }, 60_000);

    test.each(['ceph CLI', 'published map'] as const)(
      "a compute node with locality (%s) offloads the data stage to the storage node on the primary's host",
      async (form) => {
        // Two storage nodes: s2 on the OSDs' address, s1 on another loopback address (no OSD there).
        const addresses: Record<string, string> = { c1: '127.0.0.1', s1: '127.0.0.2', s2: '127.0.0.1' };
        const cluster = await LocalCluster.start({
          redisUrl: redis.url,
          objects: { s3Endpoint: ceph.rgwEndpoint, bucket: BUCKET, credentials: ceph.credentials },
          computeNodes: 1,
          storageNodes: 2,
          slots: 2,
          nodeHost: (id) => ({ address: addresses[id], commandPrefix: [] }),
          offloadPolicy: 'thresholds',
          offloadThresholds: { cpu: 1, memory: 1, loadPerCore: 1000 },
          ...(form === 'ceph CLI'
            ? { locality: { bucketMarker: marker(), pool: POOL, cephConf: ceph.conf } }
            : {
                // The storage agents publish (both: one version per epoch), the compute node runs no ceph CLI.
                locality: 'state' as const,
                publishPlacement: { bucket: BUCKET, pool: POOL, cephConf: ceph.conf },
              }),
        });
        try {
          await cluster.waitForNodes();
          const args = { key: CORPUS.large.key };
          const placed: string[] = [];
          // A storage agent whose CPU reads 100 % refuses (see above); ask until 4 were offloaded.
          for (
            let attempt = 0;
            attempt < 30 && placed.filter((tier3) => tier3.startsWith('offloaded')).length < 4;
            attempt++
          ) {
            const reply = await call(cluster.url, 'POST', '/invoke/wordcount', args);
            expect(reply.status).toBe(200);
            expect(json(reply)).toEqual(expected('wordcount', args, corpusText(CORPUS.large.bytes)));
            placed.push(String(reply.headers['x-strata-tier3']));
            if (!placed.at(-1)!.startsWith('offloaded')) await sleep(500);
          }
          const offloaded = placed.filter((tier3) => tier3.startsWith('offloaded'));
          expect(offloaded.length).toBe(4);
          expect(new Set(offloaded)).toEqual(new Set(['offloaded:s2']));
          if (form === 'published map') {
            // The map the compute node read came from the storage agents.
            const reader = await RedisStateStore.connect({ url: redis.url });
            expect(await reader.placement()).toMatchObject({ map: expect.stringContaining('127.0.0.1') });
            await reader.close();
          }
        } finally {
          await cluster.stop();
        }
      },
      180_000,
    );
  });

  test('a missing object is a 404 naming the key, from RGW as from a folder', async () => {
    await withCluster({ offloadPolicy: 'never' }, async (cluster) => {
      const reply = await call(cluster.url, 'POST', '/invoke/wordcount', { key: 'corpus/none.txt' });
      expect(reply.status).toBe(404);
      expect(JSON.stringify(json(reply))).toContain('corpus/none.txt');
    });
  }, 120_000);
});
