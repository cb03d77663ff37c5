import { faasmBaseline } from '../../bench/baseline';
import type { RedisStateStore } from '../../common/state';
import { functions } from '../../functions';
import { runStageOver } from '../../functions/text';
import { LocalCluster } from '../../local/cluster';
import { CORPUS, corpusText } from '../../local/corpus';
import { bottleneck, EmulatedFleet } from '../../local/emulated-fleet';
import { call, json } from '../support/cluster';

// The benchmark's emulated fleet (`npm run bench -- --emulate`), small: two compute hosts,
// the storage host (a one-host Ceph and the storage agent) and Redis's host, each with a
// CPU quota and a 100 Mbit/s link. Behaviour only: where stages run, what crosses which
// link, what the nodes see of their quotas. Needs root, systemd-container, debootstrap
// and Ceph's packages, which `.ci/run` installs.
let fleet: EmulatedFleet;
const MiB = 1024 * 1024;

beforeAll(async () => {
  fleet = await EmulatedFleet.start({
    computeCpu: [0.25, 0.5],
    storageCpu: 0.5,
    controlCpu: 0.25,
    linkMbit: 100,
    network: { name: 'tfl', subnet24: '10.77.14' },
  });
}, 10 * 60_000);

afterAll(async () => {
  await fleet?.close();
});

/** A cluster on the fleet with the offload policy, for the test's body; stopped after. */
async function withCluster(
  offloadPolicy: 'never' | 'always',
  body: (cluster: LocalCluster) => Promise<void>,
  more: Partial<Parameters<typeof LocalCluster.start>[0]> = {},
): Promise<void> {
  const cluster = await LocalCluster.start({
    redisUrl: fleet.redisUrl,
    redisUsers: fleet.redisUsers,
    objects: { s3Endpoint: fleet.s3Endpoint, bucket: 'strata-data', credentials: fleet.ceph.credentials },
    computeNodes: fleet.computeNodes,
    slots: 2,
    offloadPolicy,
    storageThresholds: { cpu: 1, memory: 1, loadPerCore: Number.MAX_VALUE }, // the storage node takes what its slots allow
    nodeHost: (id) => fleet.placement(id),
    ...more,
  });
  try {
    await cluster.waitForNodes(60_000);
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

const rxOfCompute = (reading: ReturnType<EmulatedFleet['read']>) =>
  [...reading].filter(([host]) => host.startsWith('c')).reduce((sum, [, c]) => sum + c.rxBytes, 0);

describe('the emulated fleet', () => {
  test('quotas that do not fit this machine are refused before any host is made', async () => {
    await expect(
      EmulatedFleet.start({
        computeCpu: [1, 1],
        storageCpu: 1,
        controlCpu: 0.25,
        linkMbit: 100,
        network: { name: 'tfx', subnet24: '10.77.15' },
      }),
    ).rejects.toThrow(/quotas sum to 3.25 cores/);
  });

  test(
    'each node runs on its own host and sees its CPU quota as its cores',
    async () => {
      await withCluster('never', async (cluster) => {
        const nodes = await cluster.state.liveNodes();
        const byId = Object.fromEntries(nodes.map((node) => [node.id, node]));
        expect(byId.c1.address).toMatch(/^10\.77\.14\.31:\d+$/);
        expect(byId.c2.address).toMatch(/^10\.77\.14\.32:\d+$/);
        expect(byId.s1.address).toMatch(/^10\.77\.14\.20:\d+$/);
        expect([byId.c1.cores, byId.c2.cores, byId.s1.cores]).toEqual([0.25, 0.5, 0.5]);
        // Each connected as its role's user, as on AWS (the default user is off).
        const clients = String(await (cluster.state as RedisStateStore).command(['CLIENT', 'LIST']));
        const usersFrom = (address: string) =>
          new Set(
            clients
              .split('\n')
              .filter((line) => line.includes(` addr=${address}:`))
              .map((line) => /\buser=(\S+)/.exec(line)?.[1]),
          );
        expect(usersFrom('10.77.14.31')).toEqual(new Set(['strata-compute']));
        expect(usersFrom('10.77.14.32')).toEqual(new Set(['strata-compute']));
        expect(usersFrom('10.77.14.20')).toEqual(new Set(['strata-storage']));
        expect(clients).toMatch(/\buser=strata-dispatcher\b/);
      });
    },
    5 * 60_000,
  );

  test(
    'offload off: the compute nodes read the object over their links; offload on: the stage runs on the storage host and the object stays there',
    async () => {
      const args = { key: CORPUS.large.key };
      const expected = functions.wordcount.finish(
        args,
        runStageOver(functions.wordcount, args, corpusText(CORPUS.large.bytes)),
      );
      for (const offload of ['never', 'always'] as const) {
        await withCluster(offload, async (cluster) => {
          const before = fleet.read();
          for (let i = 0; i < 2; i++) {
            const sent = Date.now();
            const reply = await call(cluster.url, 'POST', '/invoke/wordcount', args);
            // What the hosts did meanwhile, so that a failure on a slow machine says where the time went.
            if (reply.status !== 200)
              throw new Error(
                `offload ${offload}, request ${i + 1}: ${reply.status} ${reply.body} after ${Date.now() - sent} ms; hosts since the first: ${JSON.stringify(fleet.usage(before, fleet.read()))}`,
              );
            expect(json(reply)).toEqual(expected);
            expect(reply.headers['x-strata-tier3']).toBe(
              offload === 'always' ? 'offloaded:s1' : 'local:offload is off',
            );
          }
          const after = fleet.read();
          const received = rxOfCompute(after) - rxOfCompute(before);
          if (offload === 'never') expect(received).toBeGreaterThan(2 * 4 * MiB);
          else expect(received).toBeLessThan(1 * MiB);
          // The hosts' own counters: the storage host worked, and a resource is named.
          const usage = fleet.usage(before, after);
          expect(usage.find((u) => u.host === 's1')!.cpuCores).toBeGreaterThan(0);
          expect(bottleneck(usage).resource).toMatch(/CPU|link/);
        });
      }
    },
    5 * 60_000,
  );

  test(
    "AutoNDP's baseline: the entry node runs a call, forwards the next to the free peer, queues the rest and refuses none",
    async () => {
      await withCluster(
        'never',
        async (cluster) => {
          const sleep = (ms: number) => call(cluster.url, 'POST', '/invoke/sleep', { ms });
          const first = sleep(4_000);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          const second = sleep(4_000);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          const replies = await Promise.all([first, second, sleep(1), sleep(1)]);
          expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
          expect(replies.map((r) => String(r.headers['x-strata-tier2']))).toEqual(['c1', 'c1>c2', 'c1', 'c1']);
        },
        { ...faasmBaseline(2), slots: 1 },
      );
    },
    5 * 60_000,
  );
});
