/**
 * Tier 3 by locality on several storage hosts: the rehearsal's bring-up (three storage
 * hosts, each with a monitor, a manager, an OSD, RGW and the storage agent; the data pool
 * replicated across hosts; the compute hosts), every host's link an htb, then word count
 * over 4 MiB objects whose primaries are spread over the storage hosts, sent to the compute
 * nodes one at a time, with the compute nodes offloading to any host the thresholds allow
 * ("any-host", as deployed) or started with --locality ("locality"), in alternating blocks.
 * Measures each block's bytes over every host's link (its veth's counters) and latency.
 */
import { isDeepStrictEqual } from 'node:util';
import { OFFLOAD_HEADER } from '../common/http/headers';
import { functions } from '../functions';
import { runStageOver } from '../functions/text';
import { sleep } from '../local/commands';
import { corpusText } from '../local/corpus';
import type { Host } from '../local/emulated-hosts';
import { CephView } from '../local/rehearsal/ceph';
import { settingsOf } from '../local/rehearsal/deployment';
import { RehearsalEnvironment } from '../local/rehearsal/environment';
import type { Instance } from '../local/rehearsal/fleet';
import { bringUp } from '../local/rehearsal/rehearsal';
import { Report } from '../local/rehearsal/report';
import { osdHostsOf } from '../nodes/compute/locality';

export type Mode = 'any-host' | 'locality';

export interface LocalityOptions {
  readonly assembly: string;
  /** Every host's link during the measurement, Mbit/s each way. */
  readonly linkMbit: number;
  /** The storage and compute hosts' CPU quotas during the measurement, cores (undefined: none). */
  readonly storageCpu?: number;
  readonly computeCpu?: number;
  /** Objects whose head's primary OSD is on each storage host. */
  readonly objectsPerHost: number;
  /** Requests per block; blocks alternate any-host, locality, `rounds` times. */
  readonly requests: number;
  readonly rounds: number;
  readonly log: (line: string) => void;
}

export interface Sample {
  readonly mode: Mode;
  readonly key: string;
  readonly compute: string;
  readonly primaryHost: string;
  readonly status: number;
  readonly ms: number;
  readonly tier3: string;
  /** Where the stage ran: a storage host's address, or "compute" (the compute node's local path). */
  readonly ranOn: string;
}

export interface Block {
  readonly mode: Mode;
  readonly seconds: number;
  /** Bytes each host sent and received over its link in the block, and the cores it used on average. */
  readonly hosts: Record<
    string,
    { readonly role: string; readonly txBytes: number; readonly rxBytes: number; readonly cpuCores: number }
  >;
}

export interface LocalityRun {
  readonly objects: { key: string; primaryOsd: number; primaryHost: string; expected: unknown }[];
  readonly idle: Block;
  readonly blocks: Block[];
  readonly samples: Sample[];
}

const POOL = 'default.rgw.buckets.data';
const UNIT = 'strata-compute-node';
const DROP_IN = `/etc/systemd/system/${UNIT}.service.d/locality.conf`;
/** Word count's answer over a text, as a node gives it (the check that each reply is right). */
function wordcount(key: string, text: string): unknown {
  const fn = functions.wordcount;
  return fn.finish({ key } as never, runStageOver(fn, { key } as never, text));
}

export async function measureLocality(options: LocalityOptions): Promise<LocalityRun> {
  const { log } = options;
  const report = new Report(false);
  // A link far above the measurement's while Ceph boots; the measurement's is set after.
  const env = await RehearsalEnvironment.start(options.assembly, log, { bandwidthMbit: 10_000 });
  try {
    const { storage, compute } = await bringUp(env, report);
    const ceph = new CephView(storage[0].host);
    const settings = settingsOf(storage[0].launch.userData);
    const bucket = settings.STRATA_BUCKET;
    const marker = await ceph.bucketMarker(bucket);
    const osdHosts = osdHostsOf(JSON.stringify(await ceph.json('osd', 'dump'))).hosts;
    const pool = await ceph.pool(POOL);
    log(`data pool ${POOL}: size ${pool.size}, min_size ${pool.min_size}; bucket ${bucket}, marker ${marker}`);
    log(`OSDs: ${[...osdHosts].map(([osd, ip]) => `osd.${osd} ${ip}`).join(', ')}`);

    // Keys chosen from their placement, so that each storage host is the primary of objectsPerHost of them.
    const { chosen } = await ceph.keysByPrimaryHost({
      pool: POOL,
      marker,
      prefix: 'locality/object-',
      hosts: storage.map((instance) => env.storageAddress(instance)),
      perHost: options.objectsPerHost,
      limit: 500,
    });
    const objects: LocalityRun['objects'] = chosen.map(({ key, primaryOsd, primaryHost }, i) => ({
      key,
      primaryOsd,
      primaryHost,
      expected: wordcount(key, corpusText(4 * 1024 * 1024, 100 + i)),
    }));
    const s3 = env.objects();
    try {
      for (const [i, { key }] of objects.entries()) await s3.put(key, corpusText(4 * 1024 * 1024, 100 + i));
    } finally {
      s3.close();
    }
    log(`objects: ${objects.map((o) => `${o.key} osd.${o.primaryOsd} ${o.primaryHost}`).join(', ')}`);

    // The compute hosts get the ceph CLI's configuration (the image has ceph-common) and a
    // key: the admin's here; a deployment would give them one with only mon 'allow r'.
    for (const file of ['ceph.conf', 'ceph.client.admin.keyring'])
      for (const { host } of compute)
        host.writeFile(`/etc/ceph/${file}`, storage[0].host.readFile(`/etc/ceph/${file}`));

    const hosts = [...storage, ...compute];
    for (const { host, launch } of hosts)
      await host.limit({
        bandwidthMbit: options.linkMbit,
        ...(launch.role === 'storage' && options.storageCpu !== undefined ? { cpu: options.storageCpu } : {}),
        ...(launch.role === 'compute' && options.computeCpu !== undefined ? { cpu: options.computeCpu } : {}),
      });
    const computePort = settingsOf(compute[0].launch.userData).STRATA_PORT;
    const locality = JSON.stringify({ bucketMarker: marker, pool: POOL, cephConf: '/etc/ceph/ceph.conf' });

    const samples: Sample[] = [];
    const blocks: Block[] = [];
    let current: Mode | undefined;
    let turn = 0;
    const idle = await block(hosts, 'any-host', async () => {
      await sleep(10_000);
    });
    for (let round = 0; round < options.rounds; round++) {
      for (const mode of ['any-host', 'locality'] as const) {
        if (current !== mode) {
          await configure(compute, mode, locality, computePort);
          current = mode;
          // Warm each compute node's paths (and the locator's cache) before measuring.
          for (const instance of compute)
            for (const object of objects) await invoke(instance, computePort, object, AbortSignal.timeout(60_000));
        }
        const measured = await block(hosts, mode, async () => {
          for (let i = 0; i < options.requests; i++, turn++) {
            const object = objects[turn % objects.length];
            const instance = compute[turn % compute.length];
            const started = performance.now();
            const reply = await invoke(instance, computePort, object, AbortSignal.timeout(60_000)).catch(
              (error: Error) => ({ status: 0, tier3: `error: ${error.message}` }),
            );
            const ms = performance.now() - started;
            const onto = /^offloaded:(.+)$/.exec(reply.tier3)?.[1];
            samples.push({
              mode,
              key: object.key,
              compute: instance.name,
              primaryHost: object.primaryHost,
              status: reply.status,
              ms,
              tier3: reply.tier3,
              ranOn: onto ? fixedAddress(env, storage, onto) : 'compute',
            });
          }
        });
        blocks.push(measured);
        log(`${mode}: ${options.requests} requests in ${measured.seconds.toFixed(1)} s`);
      }
    }
    return { objects, idle, blocks, samples };
  } finally {
    await env.close();
  }
}

/** The fixed address (its OSD's and agent's) of the storage instance with this id. */
function fixedAddress(env: RehearsalEnvironment, storage: readonly Instance[], id: string): string {
  const instance = storage.find((candidate) => candidate.instanceId === id);
  return instance ? env.storageAddress(instance) : id;
}

/** Restarts each compute node with --locality (a drop-in on its unit) or without it, and waits for its /health. */
async function configure(compute: readonly Instance[], mode: Mode, locality: string, port: string): Promise<void> {
  for (const { host } of compute) {
    const unit = host.readFile(`/etc/systemd/system/${UNIT}.service`);
    // The deployed unit's --locality state (strata.offloadByLocality) is taken off: each mode here says its own.
    const execStart = /^ExecStart=(.*)$/m.exec(unit)![1].replace(' --locality state', '');
    if (mode === 'locality')
      host.writeFile(DROP_IN, `[Service]\nExecStart=\nExecStart=${execStart} --locality '${locality}'\n`);
    else host.writeFile(DROP_IN, `[Service]\nExecStart=\nExecStart=${execStart}\n`);
    await host.must(['systemctl', 'daemon-reload']);
    await host.must(['systemctl', 'restart', UNIT]);
  }
  for (const { host, name } of compute) {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const ok = await fetch(`http://${host.address}:${port}/health`, { signal: AbortSignal.timeout(5_000) })
        .then((reply) => reply.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${name}: the compute node did not come back (${mode})`);
      await sleep(1_000);
    }
  }
}

async function invoke(
  instance: Instance,
  port: string,
  { key, expected }: { key: string; expected: unknown },
  signal: AbortSignal,
): Promise<{ status: number; tier3: string }> {
  const reply = await fetch(`http://${instance.host.address}:${port}/invoke/wordcount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
    signal,
  });
  const answer = await reply.text();
  if (reply.status !== 200) throw new Error(`${instance.name} ${key}: ${reply.status} ${answer.slice(0, 200)}`);
  if (!isDeepStrictEqual(JSON.parse(answer), expected))
    throw new Error(`${instance.name} ${key}: a wrong answer ${answer.slice(0, 200)}`);
  return { status: reply.status, tier3: reply.headers.get(OFFLOAD_HEADER) ?? '' };
}

/** Runs `work` between two readings of every host's link counters. */
async function block(hosts: readonly Instance[], mode: Mode, work: () => Promise<void>): Promise<Block> {
  const read = () => new Map(hosts.map(({ name, host }) => [name, (host as Host).counters()]));
  const before = read();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const after = read();
  return {
    mode,
    seconds,
    hosts: Object.fromEntries(
      hosts.map(({ name, launch }) => [
        name,
        {
          role: launch.role,
          txBytes: after.get(name)!.txBytes - before.get(name)!.txBytes,
          rxBytes: after.get(name)!.rxBytes - before.get(name)!.rxBytes,
          cpuCores: (after.get(name)!.cpuNs - before.get(name)!.cpuNs) / 1e9 / seconds,
        },
      ]),
    ),
  };
}
