import { isDeepStrictEqual } from 'node:util';
import { TIER1_HEADER, TIER2_HEADER, TIER3_HEADER } from '../../common/http/headers';
import { RedisStateStore } from '../../common/state';
import { stateUser } from '../../common/state/access';
import { findFunction } from '../../functions';
import { runStageOver } from '../../functions/text';
import { must, sleep } from '../commands';
import { CORPUS, corpusText } from '../corpus';
import { CephView } from './ceph';
import { settingsOf } from './deployment';
import type { DispatcherLambda } from './dispatcher';
import type { RehearsalEnvironment } from './environment';
import type { Instance } from './fleet';
import type { Report } from './report';
import { secretsShown, secretValues } from './secrets';

export const DATA_POOL = 'default.rgw.buckets.data';
const SECURE_MODES = [
  'ms_cluster_mode',
  'ms_service_mode',
  'ms_client_mode',
  'ms_mon_cluster_mode',
  'ms_mon_service_mode',
  'ms_mon_client_mode',
];

/** What Ceph and the nodes themselves say once the bring-up is done. */
export async function checkCluster(
  env: RehearsalEnvironment,
  report: Report,
  storage: Instance[],
  firstLaunch: number,
): Promise<void> {
  const ceph = new CephView(storage[0].host);
  const settings = settingsOf(storage[0].launch.userData);
  await report.check('Ceph is HEALTH_OK', async () => {
    await ceph.waitForHealthOk(15 * 60_000);
    return `${((Date.now() - firstLaunch) / 1000).toFixed(0)} s after the first launch`;
  });
  await report.check(`${storage.length} monitors in quorum, each with a v2 and a v1 address`, async () => {
    const [dump, quorum] = [await ceph.monDump(), await ceph.quorumNames()];
    const described = dump.mons.map(
      (mon) => `${mon.name} ${mon.public_addrs.addrvec.map((a) => `${a.type}:${a.addr}`).join(',')}`,
    );
    if (quorum.length !== storage.length)
      throw new Error(`quorum ${quorum.join(', ')}; monmap ${described.join('; ')}`);
    const without = dump.mons.filter(
      (mon) => !['v2', 'v1'].every((type) => mon.public_addrs.addrvec.some((a) => a.type === type)),
    );
    if (without.length > 0)
      throw new Error(
        `not both msgr2 and v1: ${without.map((mon) => mon.name).join(', ')}; monmap ${described.join('; ')}`,
      );
    return described.join('; ');
  });
  await report.check(
    'every daemon runs msgr2 secure mode, and the monitors talk msgr2 (3300), not v1 (6789)',
    async () => {
      const { mons } = await ceph.monDump();
      for (const mon of mons) {
        for (const key of SECURE_MODES) {
          const value = await ceph.runningConfig(`mon.${mon.name}`, key);
          if (value !== 'secure') throw new Error(`mon.${mon.name} ${key} = ${value}`);
        }
      }
      const connections = await storage[0].host.must(['ss', '-Htn', 'state', 'established']);
      const on = (port: number) => connections.split('\n').filter((line) => line.includes(`:${port} `)).length;
      if (on(3300) === 0 || on(6789) > 0)
        throw new Error(`${storage[0].name}: ${on(3300)} connections on 3300, ${on(6789)} on 6789`);
      return `${SECURE_MODES.join(', ')} = secure on every monitor; ${storage[0].name}: ${on(3300)} connections on 3300, none on 6789`;
    },
  );
  const expectedOsds = storage.length * Number(settings.STRATA_OSDS_PER_NODE ?? 1);
  await report.check(`every OSD up and in (${expectedOsds})`, async () => {
    const stat = await ceph.osdStat();
    if (stat.num_osds !== expectedOsds || stat.num_up_osds !== expectedOsds || stat.num_in_osds !== expectedOsds)
      throw new Error(JSON.stringify(stat));
    return `${stat.num_osds} OSDs, ${stat.num_up_osds} up, ${stat.num_in_osds} in`;
  });
  await report.check(
    `the data pool: ${settings.STRATA_PG_NUM} PGs with that floor, autoscaler on, 3 replicas, min_size 2`,
    async () => {
      const pool = await ceph.pool(DATA_POOL);
      const want = {
        pg_num: Number(settings.STRATA_PG_NUM),
        pg_num_min: Number(settings.STRATA_PG_NUM),
        pg_autoscale_mode: 'on',
        size: 3,
        min_size: 2,
      };
      const have = Object.fromEntries(Object.keys(want).map((key) => [key, pool[key]]));
      if (!isDeepStrictEqual(have, want)) throw new Error(`${DATA_POOL}: ${JSON.stringify(have)}`);
      return `${DATA_POOL}: ${JSON.stringify(have)}`;
    },
  );
  await report.check(
    'every PG of the data pool keeps its copies in different AZs (the failure domain of the CRUSH rule)',
    async () => {
      const domain = settings.STRATA_CEPH_FAILURE_DOMAIN;
      const tree = await ceph.json<{ nodes: { id: number; name: string; type: string; children?: number[] }[] }>(
        'osd',
        'tree',
      );
      const where = new Map<number, string>();
      for (const bucket of tree.nodes.filter((node) => node.type === domain)) {
        const below = (ids: number[]): number[] =>
          ids.flatMap((id) => (id >= 0 ? [id] : below(tree.nodes.find((node) => node.id === id)?.children ?? [])));
        for (const osd of below(bucket.children ?? [])) where.set(osd, bucket.name);
      }
      const pgs = (await ceph.json<{ pg_stats: { pgid: string; acting: number[] }[] }>('pg', 'ls-by-pool', DATA_POOL))
        .pg_stats;
      const spread = pgs.filter((pg) => new Set(pg.acting.map((osd) => where.get(osd))).size === 3);
      if (spread.length !== pgs.length)
        throw new Error(`${pgs.length - spread.length} of ${pgs.length} PGs have two copies in one ${domain}`);
      return `all ${pgs.length} PGs: 3 copies in 3 ${domain}s (${[...new Set(where.values())].join(', ')})`;
    },
  );
  await report.check(
    'each storage node has its fixed address, claimed through the seam and on its interface',
    async () => {
      const claimed = env.aws.claimedAddresses();
      const lines: string[] = [];
      for (const instance of storage) {
        const address = env.storageAddress(instance);
        const onInterface = (await instance.host.must(['ip', '-o', '-4', 'addr', 'show'])).includes(` ${address}/32 `);
        if (!claimed[address] || !onInterface)
          throw new Error(
            `${instance.name} ${address}: claimed ${claimed[address] ?? 'no'}, on its interface ${onInterface}`,
          );
        lines.push(`${instance.name} ${address} (primary ${instance.host.address})`);
      }
      return lines.join('; ');
    },
  );
  await checkRgw(env, report, storage);
  await checkRegistered(env, report);
  await checkLogRotation(env, report);
  await checkNoSecretShown(env, report);
}

/** No secret of the deployment in a unit's ExecStart, a process's command line on any host, or this report's output. */
export async function checkNoSecretShown(env: RehearsalEnvironment, report: Report): Promise<void> {
  await report.check("no secret in any unit's ExecStart, any command line on the hosts, or this output", async () => {
    const arns = new Set<string>();
    for (const instance of [...env.fleet.ofRole('compute'), ...env.fleet.ofRole('storage')]) {
      const settings = settingsOf(instance.launch.userData);
      for (const key of [
        'STRATA_CACHE_SECRET_ARN',
        'STRATA_OBJECTS_SECRET_ARN',
        'STRATA_OBJECTS_READ_SECRET_ARN',
        'STRATA_CEPH_SECRET_ARN',
      ])
        if (settings[key]) arns.add(settings[key]);
    }
    const secrets = [...arns].flatMap((arn) => env.aws.secretVersions(arn).flatMap(secretValues));
    if (secrets.length === 0) throw new Error('found no secret values to look for');
    const texts: Record<string, string> = { 'the report': report.printed.join('\n') };
    let units = 0;
    for (const instance of [...env.fleet.ofRole('compute'), ...env.fleet.ofRole('storage')]) {
      const { host } = instance;
      const names = (
        await host.must([
          'sh',
          '-c',
          "systemctl list-units --all --plain --no-legend 'strata-*' 'ceph*' | awk '{print $1}'",
        ])
      )
        .split('\n')
        .filter(Boolean);
      units += names.length;
      texts[`${instance.name} ExecStart`] = await host.must([
        'systemctl',
        'show',
        '--property=ExecStart',
        '--value',
        ...names,
      ]);
      texts[`${instance.name} command lines`] = await host.must([
        'sh',
        '-c',
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null; echo; done",
      ]);
    }
    const shown = secretsShown(texts, secrets);
    if (shown.length > 0) throw new Error(shown.join('\n'));
    return `${secrets.length} secret values looked for in ${units} units and every process of ${(Object.keys(texts).length - 1) / 2} hosts, and the report: none`;
  });
}

/** Both node kinds rotate their logs: the config is valid, a forced rotation keeps the old lines and the node goes on writing. */
export async function checkLogRotation(env: RehearsalEnvironment, report: Report): Promise<void> {
  await report.check('log rotation on both node kinds: metrics.emf rotated, written again after', async () => {
    const lines: string[] = [];
    for (const instance of [env.fleet.ofRole('compute')[0], env.fleet.ofRole('storage')[0]]) {
      const { host } = instance;
      await host.must(['logrotate', '--debug', '/etc/logrotate.d/strata']);
      await host.must(['systemctl', 'is-enabled', 'strata-logrotate.timer']);
      await host.must(['logrotate', '--force', '/etc/logrotate.d/strata']);
      const before = Number((await host.must(['stat', '-c', '%s', '/var/log/strata/metrics.emf'])).trim());
      await sleep(3000);
      const after = Number((await host.must(['stat', '-c', '%s', '/var/log/strata/metrics.emf'])).trim());
      const rotated = (await host.must(['sh', '-c', 'ls /var/log/strata']))
        .split('\n')
        .filter((name) => /\.1(\.gz)?$/.test(name));
      if (!rotated.some((name) => name.startsWith('metrics.emf')) || !(after > before))
        throw new Error(
          `${instance.name}: rotated ${rotated.join(', ') || 'nothing'}; metrics.emf ${before} -> ${after} bytes`,
        );
      lines.push(
        `${instance.name}: ${rotated.join(', ')} kept, metrics.emf growing again (${before} -> ${after} bytes)`,
      );
    }
    return lines.join('; ');
  });
}

/** RGW on every storage host, by the name its certificate carries, over TLS with the cluster's CA from the object-store secret. */
export async function checkRgw(env: RehearsalEnvironment, report: Report, storage: Instance[]): Promise<void> {
  const settings = settingsOf(storage[0].launch.userData);
  await report.check('RGW answers over TLS on every storage host, with the cluster CA', async () => {
    const ca = env.rgwCa();
    const answers: string[] = [];
    for (const instance of storage) {
      const address = env.storageAddress(instance);
      const code = (
        await must('curl', [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '--max-time',
          '10',
          '--cacert',
          ca,
          '--resolve',
          `${settings.STRATA_RGW_NAME}:${settings.STRATA_RGW_PORT}:${address}`,
          `https://${settings.STRATA_RGW_NAME}:${settings.STRATA_RGW_PORT}/`,
        ]).catch((error: Error) => error.message)
      ).trim();
      if (code !== '200') throw new Error(`${instance.name} (${address}): ${code}`);
      answers.push(`${instance.name} ${address}: 200`);
    }
    return answers.join('; ');
  });
  await report.check("the compute nodes' S3 keys read the bucket and write nothing in it", async () => {
    const owner = env.objects();
    const reader = env.objects(env.computeObjectKeys());
    try {
      if (env.computeObjectKeys().accessKeyId === env.objectKeys().accessKeyId)
        throw new Error("the compute nodes hold the bucket owner's keys");
      const key = (await owner.keys('corpus/'))[0];
      const text = await reader.get(key);
      const refused = await reader.put('corpus/written-by-a-compute-node.txt', 'x').then(
        () => undefined,
        (error: Error & { $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode ?? error.name,
      );
      if (refused === undefined) throw new Error('a PutObject with the compute keys went through');
      return `GetObject ${key}: ${text.length} characters; PutObject: ${refused}`;
    } finally {
      owner.close();
      reader.close();
    }
  });
}

/**
 * Every compute host and every storage agent in the state store, under its instance id, at
 * its address; each connected as its role's own user (the default user is off, so nobody gets in without one).
 */
export async function checkRegistered(env: RehearsalEnvironment, report: Report): Promise<void> {
  await report.check(
    "every compute host and storage agent registered in the state store, each as its role's user",
    async () => {
      const wrongUser: string[] = [];
      for (const instance of env.fleet.instances) {
        const url = await instance.host.must(['sed', '-n', 's/^STRATA_STATE_URL=//p', '/etc/strata/node.env']);
        const user = decodeURIComponent(new URL(url.trim()).username);
        const own = stateUser(instance.launch.role);
        if (user !== own) wrongUser.push(`${instance.name} connects as "${user}", not ${own}`);
      }
      if (wrongUser.length > 0) throw new Error(wrongUser.join('; '));
      const state = await RedisStateStore.connect({ url: env.state.localUrl(stateUser('dispatcher')) });
      try {
        const nodes = await state.liveNodes();
        const missing = env.fleet.instances
          .filter(
            (instance) => !nodes.some((node) => node.id === instance.instanceId && node.role === instance.launch.role),
          )
          .map((instance) => `${instance.name} (${instance.instanceId})`);
        if (missing.length > 0)
          throw new Error(
            `not registered: ${missing.join(', ')}; registered: ${nodes.map((node) => `${node.id} ${node.role} ${node.address}`).join(', ')}`,
          );
        return `${nodes.map((node) => `${node.role} ${node.id} at ${node.address}`).join('; ')}; as ${stateUser('compute')} and ${stateUser('storage')}`;
      } finally {
        await state.close();
      }
    },
  );
}

/** The invocations a client would send, and the answers the functions give on the same text here. */
export function sampleInvocations(): { fn: string; body: Record<string, string>; expected: unknown }[] {
  const cases: { fn: string; body: Record<string, string> }[] = [
    { fn: 'wordcount', body: { key: CORPUS.small.key } },
    { fn: 'wordcount', body: { key: CORPUS.large.key } },
    { fn: 'substring', body: { key: CORPUS.small.key, pattern: 'love' } },
    { fn: 'substring', body: { key: CORPUS.large.key, pattern: 'to be' } },
  ];
  const text = (key: string) => corpusText(Object.values(CORPUS).find((entry) => entry.key === key)!.bytes);
  return cases.map(({ fn, body }) => {
    const definition = findFunction(fn)!;
    const args = definition.parse(body);
    const staged = runStageOver(definition, args, text(body.key));
    return { fn, body, expected: JSON.parse(JSON.stringify(definition.finish(args, staged))) };
  });
}

/** Sends the sample invocations through the dispatcher; answers a line per invocation, or throws on a wrong answer. */
export async function invokeSamples(dispatcher: DispatcherLambda): Promise<string[]> {
  const lines: string[] = [];
  for (const { fn, body, expected } of sampleInvocations()) {
    const reply = await dispatcher.invoke(fn, body);
    const answer = reply.statusCode === 200 ? (JSON.parse(reply.body) as unknown) : undefined;
    if (!isDeepStrictEqual(answer, expected))
      throw new Error(`${fn} ${JSON.stringify(body)}: ${reply.statusCode} ${reply.body.slice(0, 300)}`);
    lines.push(
      `${fn} ${body.key}${body.pattern ? ` "${body.pattern}"` : ''}: tier 1 ${reply.headers[TIER1_HEADER]}, tier 2 ${reply.headers[TIER2_HEADER]}, tier 3 ${reply.headers[TIER3_HEADER]}`,
    );
  }
  return lines;
}
