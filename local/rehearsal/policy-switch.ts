import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TIER1_HEADER, TIER3_HEADER } from '../../common/http/headers';
import { sleep } from '../commands';
import { CORPUS } from '../corpus';
import { awsEndpoints, REHEARSAL_OPERATOR } from './aws-stand-ins';
import { STACKS, settingsOf } from './deployment';
import type { DispatcherLambda } from './dispatcher';
import type { RehearsalEnvironment } from './environment';
import type { Instance } from './fleet';
import type { Report } from './report';

const ROOT = join(__dirname, '..', '..');
/** How often the compute nodes read the setting: their heartbeat interval (nodes/options.ts's default). */
const NODE_REFRESH_MS = 1000;
/** What the hosts' timers may lag behind on this machine, on top of a refresh interval (two cores, five hosts). */
const TIMER_SLACK_MS = 1000;

/**
 * Switching a policy while the system runs (docs/policies.md), on the rehearsed
 * deployment: the operator's `npm run strata -- policy set` against the AWS seam (its
 * SDK calls answered by the stand-ins: DescribeStacks for the outputs, SSM, CloudWatch
 * Logs, STS, and Lambda's Invoke, which runs the dispatcher's publish in its host); then
 * the dispatcher and every compute host follow it, without a deploy, within one refresh
 * interval; then a rollback brings the first setting back.
 */
export async function rehearsePolicySwitch(
  env: RehearsalEnvironment,
  report: Report,
  dispatcher: DispatcherLambda,
  awsEndpoint: string,
): Promise<void> {
  const { deployment, aws, fleet } = env;
  const outputs = deployment.outputs(STACKS.dispatch)!;
  const parameter = outputs.PolicyParameterName;
  let publishedAt = 0;
  aws.onInvoke(outputs.DispatcherFunctionName, async (payload) => {
    const reply = await dispatcher.invokeEvent(payload);
    publishedAt = Date.now(); // the dispatcher has put the setting in Redis
    return reply;
  });
  const compute = fleet.ofRole('compute');
  const refreshMs = Number(deployment.dispatcher().environment.STRATA_REFRESH_MS ?? 1000);

  await report.check(
    "the compute hosts run the template's tier-2 and tier-3 policies with their options (compute-node.sh: --node-options, --offload-options)",
    async () => {
      const lines = [];
      for (const instance of compute) {
        const settings = settingsOf(instance.launch.userData);
        const args = await commandLine(instance);
        for (const expected of [
          `--node-policy ${settings.STRATA_NODE_POLICY} --node-options ${settings.STRATA_NODE_POLICY_OPTIONS}`,
          `--offload-policy ${settings.STRATA_OFFLOAD_POLICY} --offload-options ${settings.STRATA_OFFLOAD_POLICY_OPTIONS}`,
        ])
          if (!args.includes(expected)) throw new Error(`${instance.name} runs ${args}; wanted ${expected}`);
        lines.push(`${instance.name}: ${/--node-policy .*--offload-options \S+/.exec(args)?.[0]}`);
      }
      return lines.join('\n');
    },
  );

  const strata = (...args: string[]) => runStrata(awsEndpoint, deployment.region, args);
  await report.check('`strata policy show` reads the deployed setting from SSM (version 1, from cdk.json)', () =>
    strata('policy', 'show'),
  );

  await report.check(
    '`strata policy set offload never` through the AWS seam: SSM version 2, audited in CloudWatch Logs, published by the dispatcher; every compute host follows within one refresh interval, and data stages stop going to storage',
    async () => {
      const offloaded = await wordcountTiers(dispatcher, (tier) => tier.startsWith('offloaded:'), 60_000);
      const transcript = await strata('policy', 'set', 'offload', 'never', '--reason', 'rehearsal: data stages local');
      const applied = await appliedOnEvery(compute, 2, 'offload never');
      const delays = applied.map(({ instance, at }) => `${instance.name} ${at - publishedAt} ms`);
      const late = applied.filter(({ at }) => at - publishedAt > NODE_REFRESH_MS + TIMER_SLACK_MS);
      if (late.length > 0) throw new Error(`applied after the publish: ${delays.join(', ')}`);
      const local = await wordcountTiers(dispatcher, (tier) => tier.startsWith('local:'), 10_000, 4);
      const versions = aws.parameterVersions(parameter);
      const audit = aws.logEvents(outputs.PolicyAuditLogGroup).map((e) => JSON.parse(e.message) as AuditLine);
      const last = audit.at(-1);
      if (versions.length !== 2 || last?.version !== 2 || last.to.offload.name !== 'never')
        throw new Error(`SSM has ${versions.length} versions; the audit's last line: ${JSON.stringify(last)}`);
      if (last.changedBy !== REHEARSAL_OPERATOR || last.from?.offload.name !== 'thresholds')
        throw new Error(`audit line: ${JSON.stringify(last)}`);
      report.figure(
        'policy set to the last compute host applying it',
        Math.max(...applied.map((a) => a.at - publishedAt)),
        'ms',
      );
      return [
        `before: wordcount ${CORPUS.large.key}, tier 3 ${offloaded.at(-1)}`,
        transcript,
        `SSM ${parameter}: ${versions.length} versions; CloudWatch Logs ${outputs.PolicyAuditLogGroup}: ${JSON.stringify(last)}`,
        `applied after the dispatcher published it (a node reads once a ${NODE_REFRESH_MS} ms heartbeat): ${delays.join(', ')}`,
        `after: wordcount ${CORPUS.large.key} x${local.length}, tier 3 ${[...new Set(local)].join(', ')}`,
      ].join('\n');
    },
  );

  await report.check(
    '`strata policy set invocation least-memory` (the example plugin, bundled into the layer at synth): the dispatcher places by it within one refresh interval',
    async () => {
      const transcript = await strata('policy', 'set', 'invocation', 'least-memory', '--option', 'ceiling=0.95');
      const sent = Date.now();
      let tier1 = '';
      let firstAt = 0;
      while (Date.now() - sent < 30_000) {
        const reply = await dispatcher.invoke('wordcount', { key: CORPUS.small.key });
        if (reply.statusCode !== 200) throw new Error(`${reply.statusCode} ${reply.body.slice(0, 300)}`);
        tier1 = String(reply.headers[TIER1_HEADER]);
        if (tier1.startsWith('least-memory:')) {
          firstAt = Date.now();
          break;
        }
      }
      if (!firstAt) throw new Error(`still placed by ${tier1} 30 s after the set`);
      const after = firstAt - publishedAt;
      if (after > refreshMs + TIMER_SLACK_MS)
        throw new Error(`the first invocation placed by least-memory came ${after} ms after the publish`);
      const logged = dispatcher.logs.find((line) => line.includes('policy setting version 3 applied'));
      report.figure('policy set to the dispatcher placing by the new strategy', after, 'ms');
      return [
        transcript,
        `the first invocation placed by it answered ${after} ms after the publish (the dispatcher reads once a ${refreshMs} ms refresh): tier 1 ${tier1}`,
        `the dispatcher's log: ${logged ?? '(no line)'}`,
      ].join('\n');
    },
  );

  await report.check(
    '`strata policy rollback 1`: the first setting again as version 4 (the thresholds with their options: data stages go to storage again), and `policy history` lists every change',
    async () => {
      const transcript = await strata('policy', 'rollback', '1');
      await appliedOnEvery(compute, 4, 'offload thresholds');
      const offloaded = await wordcountTiers(dispatcher, (tier) => tier.startsWith('offloaded:'), 60_000);
      const reply = await dispatcher.invoke('wordcount', { key: CORPUS.small.key });
      const tier1 = String(reply.headers[TIER1_HEADER]);
      if (!tier1.startsWith('least-expected-delay:')) throw new Error(`placed by ${tier1} after the rollback`);
      return [
        transcript,
        `after: tier 1 ${tier1}; wordcount ${CORPUS.large.key}, tier 3 ${offloaded.at(-1)}`,
        await strata('policy', 'history'),
      ].join('\n');
    },
  );
}

interface AuditLine {
  readonly version: number;
  readonly changedBy: string;
  readonly from: Record<'invocation' | 'node' | 'offload', { name: string }> | null;
  readonly to: Record<'invocation' | 'node' | 'offload', { name: string }>;
}

/** `npm run strata -- ARGS` as an operator runs it, its AWS calls answered by the stand-ins; the command and its output. */
async function runStrata(endpoint: string, region: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'cli.ts'), ...args, '--region', region], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...awsEndpoints(endpoint),
      AWS_ACCESS_KEY_ID: 'AKIAREHEARSALOPERATOR',
      AWS_SECRET_ACCESS_KEY: 'rehearsal',
      AWS_REGION: region,
      NODE_NO_WARNINGS: '1', // the SDK's notice about Node.js versions, in every transcript
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const transcript = `$ npm run strata -- ${args.join(' ')}\n${output.trimEnd()}`;
  if (code !== 0) throw new Error(`exit ${code}:\n${transcript}`);
  return transcript;
}

/** The compute node's command line on a host, as the kernel has it. */
async function commandLine(instance: Instance): Promise<string> {
  return instance.host.must([
    'sh',
    '-c',
    "tr '\\0' ' ' < /proc/$(systemctl show --property=MainPID --value strata-compute-node)/cmdline",
  ]);
}

/** Waits until every host's node log says it applied `version` (naming `what`); answers when each did, by its own clock. */
async function appliedOnEvery(
  instances: Instance[],
  version: number,
  what: string,
): Promise<{ instance: Instance; at: number }[]> {
  const until = Date.now() + 30_000;
  const found = new Map<Instance, number>();
  while (found.size < instances.length) {
    for (const instance of instances) {
      if (found.has(instance)) continue;
      const log = await instance.host.must([
        'sh',
        '-c',
        `grep -F 'policy setting version ${version} ' /var/log/strata/node.log || true`,
      ]);
      const line = log.split('\n').find((l) => l.includes(`version ${version} applied`));
      if (!line) continue;
      if (!line.includes(what)) throw new Error(`${instance.name}: ${line}`);
      found.set(instance, Date.parse(line.split(' ')[0]));
    }
    if (found.size < instances.length && Date.now() > until)
      throw new Error(
        `version ${version} not applied in 30 s on ${instances.filter((i) => !found.has(i)).map((i) => i.name)}`,
      );
    await sleep(200);
  }
  return instances.map((instance) => ({ instance, at: found.get(instance)! }));
}

/** Word count of the large object through the dispatcher until `done` holds for a tier-3 header (or `count` were sent); the headers seen. */
async function wordcountTiers(
  dispatcher: DispatcherLambda,
  done: (tier3: string) => boolean,
  timeoutMs: number,
  count = Infinity,
): Promise<string[]> {
  const tiers: string[] = [];
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && tiers.length < count) {
    const reply = await dispatcher.invoke('wordcount', { key: CORPUS.large.key });
    if (reply.statusCode !== 200) throw new Error(`wordcount: ${reply.statusCode} ${reply.body.slice(0, 300)}`);
    tiers.push(String(reply.headers[TIER3_HEADER]));
    if (count === Infinity && done(tiers.at(-1)!)) return tiers;
  }
  if (count !== Infinity && tiers.length === count && tiers.every(done)) return tiers;
  throw new Error(`tier 3 went ${tiers.join(', ')}`);
}
