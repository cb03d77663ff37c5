import { readFileSync } from 'node:fs';
import { sleep } from '../commands';
import { CORPUS, corpusText } from '../corpus';
import { checkCluster, invokeSamples } from './checks';
import { STACKS, settingsOf } from './deployment';
import { DispatcherLambda, PROJECT_MODULES } from './dispatcher';
import { RehearsalEnvironment } from './environment';
import { rehearseFaults } from './faults';
import type { Instance } from './fleet';
import { rehearseUserFunction } from './functions';
import { checkLocality } from './locality';
import { rehearsePolicySwitch } from './policy-switch';
import { CheckFailed, Report } from './report';

export interface RehearsalOptions {
  /** The cloud assembly (cdk.out) synthesized with every bundle built. */
  readonly assembly: string;
  /** Rehearse the fault cases after the bring-up. */
  readonly faults: boolean;
  /** Go on after a failed check. */
  readonly keepGoing: boolean;
}

const USER_DATA_TIMEOUT_MS = 40 * 60_000;
/** Once one storage node's user data failed, how long the others (which may wait on it) get. */
const AFTER_A_FAILURE_MS = 4 * 60_000;

/** The whole rehearsal; answers whether every check passed. */
export async function rehearse(options: RehearsalOptions): Promise<boolean> {
  const report = new Report(options.keepGoing);
  const env = await RehearsalEnvironment.start(options.assembly, (line) => report.log(line));
  let dispatcher: DispatcherLambda | undefined;
  try {
    const { storage, compute, firstLaunch } = await bringUp(env, report);
    // What a user does once the stacks are complete, then what Ceph and the nodes say.
    const awsEndpoint = await env.aws.serveApis(env.network.gateway, (stack) => env.deployment.outputs(stack));
    dispatcher = await startDispatcher(env, awsEndpoint);
    await invocations(env, report, dispatcher, firstLaunch);
    if (settingsOf(compute[0].launch.userData).STRATA_LOCALITY === 'on')
      await checkLocality(env, report, storage, compute);
    else report.log('strata.offloadByLocality is off: tier 3 by locality not checked');
    await rehearsePolicySwitch(env, report, dispatcher, awsEndpoint);
    await rehearseUserFunction(env, report, dispatcher);
    await checkCluster(env, report, storage, firstLaunch);
    if (options.faults) await rehearseFaults(env, report, dispatcher);
  } catch (error) {
    if (!(error instanceof CheckFailed)) throw error;
  } finally {
    dispatcher?.stop();
    await env.close();
  }
  process.stdout.write(report.summary());
  return report.ok;
}

/**
 * Compute hosts first, then the three storage hosts at once, all on the templates' user
 * data; the groups' creation waits for their signals, as CloudFormation's does.
 */
export async function bringUp(
  env: RehearsalEnvironment,
  report: Report,
): Promise<{ storage: Instance[]; compute: Instance[]; firstLaunch: number }> {
  const { deployment, fleet, aws } = env;
  const waiting = [...deployment.signalledResources(STACKS.storage), ...deployment.signalledResources(STACKS.compute)];
  for (const { resource } of waiting) aws.awaitSignals(resource);
  const started = Date.now();
  const compute = await Promise.all(
    deployment.computeLaunches().map((launch, index) => fleet.launch(launch, `compute-${index}`)),
  );
  report.log(
    `compute hosts up, user data running: ${compute.map((instance) => `${instance.name} ${instance.host.address} ${instance.instanceId}`).join(', ')}`,
  );
  const storage = await Promise.all(
    deployment.storageLaunches().map((launch, index) => fleet.launch(launch, `storage-${index}`, { sizeGiB: 10 })),
  );
  report.log(
    `storage hosts up, user data running: ${storage.map((instance) => `${instance.name} ${instance.host.address} ${instance.instanceId}`).join(', ')}`,
  );
  await waitForUserData(env, report, [...storage, ...compute], started);
  for (const [stack, instances] of [
    [STACKS.storage, storage],
    [STACKS.compute, compute],
  ] as const) {
    await report.check(`${stack} completes: each group has its signals, sent once the node was ready`, () => {
      const signals = aws.signals();
      const lines = deployment.signalledResources(stack).map(({ resource, count }) => {
        const got = signals.filter((signal) => signal.resource === resource);
        if (got.length < count || got.some((signal) => signal.status !== 'SUCCESS'))
          throw new Error(`${resource}: ${JSON.stringify(got)}; wanted ${count} SUCCESS`);
        aws.stopAwaitingSignals(resource);
        return `${resource}: ${got.length} SUCCESS`;
      });
      const ready = instances.map(
        (instance) =>
          /Ceph: HEALTH_OK|registered in the state store as/.exec(fleet.userDataOutput(instance, 5))?.[0] ??
          `${instance.name}: no readiness line before its signal`,
      );
      if (ready.some((line) => line.endsWith('before its signal'))) throw new Error(ready.join('; '));
      return `${lines.join(', ')}; each after "${[...new Set(ready)].join('" / "')}"`;
    });
  }
  const lastSignal = (stack: string) =>
    Math.max(
      ...aws
        .signals()
        .filter((signal) => deployment.signalledResources(stack).some(({ resource }) => resource === signal.resource))
        .map((signal) => signal.at),
    );
  for (const [stack, what] of [
    [STACKS.storage, 'HEALTH_OK (the storage stack complete: its last signal)'],
    [STACKS.compute, 'the compute stack complete (its last node registered)'],
  ] as const) {
    if (Number.isFinite(lastSignal(stack)))
      report.figure(`first launch to ${what}`, (lastSignal(stack) - started) / 1000, 's');
  }
  await report.check(
    'compute hosts started before storage was ready waited for the object-store keys (and did not fail on them)',
    () => {
      const waited = compute.filter((instance) =>
        fleet.userDataOutput(instance, 10_000).includes('waiting for storage node 0 to publish the object-store keys'),
      );
      if (waited.length === 0) throw new Error('no compute host logged a wait: were they started too late to show it?');
      return `${waited.map((instance) => instance.name).join(', ')} logged the wait, then went on`;
    },
  );
  return { storage, compute, firstLaunch: started };
}

/** The dispatcher Lambda in a host of its own, with its template's environment. */
async function startDispatcher(env: RehearsalEnvironment, awsEndpoint: string): Promise<DispatcherLambda> {
  const { deployment, network, aws, ca, image } = env;
  const dispatcher = deployment.dispatcher();
  const subnet = deployment.subnets.find((candidate) => candidate.logicalId.includes('workload'))!;
  return DispatcherLambda.start({
    network,
    image,
    address: deployment.allocate(subnet),
    environment: dispatcher.environment,
    codeDir: dispatcher.codeDir,
    layerDir: dispatcher.layerDir,
    runtimeModules: PROJECT_MODULES,
    awsFolder: aws.folder,
    region: deployment.region,
    awsEndpoint,
    caCertificate: readFileSync(ca.certificate, 'utf8'),
    hostsFile: env.hostsFile('lambda'),
  });
}

/** The corpus into the bucket through RGW, then word count and substring through the dispatcher, the compute hosts and RGW. */
async function invocations(
  env: RehearsalEnvironment,
  report: Report,
  dispatcher: DispatcherLambda,
  firstLaunch: number,
): Promise<void> {
  const objects = env.objects();
  try {
    await report.check('the sample corpus goes into the bucket through RGW (S3 over TLS)', async () => {
      for (const { key, bytes } of Object.values(CORPUS)) await objects.put(key, corpusText(bytes));
      return Object.values(CORPUS)
        .map(({ key, bytes }) => `${key} (${bytes} bytes)`)
        .join(', ');
    });
  } finally {
    objects.close();
  }
  await report.check(
    'word count and substring through the dispatcher Lambda, the compute hosts and RGW: the answers are right',
    async () => {
      const lines = await invokeSamples(dispatcher);
      report.figure('first launch to the first correct invocation', (Date.now() - firstLaunch) / 1000, 's');
      return lines.join('\n');
    },
  );
}

async function waitForUserData(
  env: RehearsalEnvironment,
  report: Report,
  instances: Instance[],
  started: number,
): Promise<void> {
  const { fleet } = env;
  let deadline = Date.now() + USER_DATA_TIMEOUT_MS;
  const pending = new Set(instances);
  while (pending.size > 0) {
    for (const instance of [...pending]) {
      const status = fleet.userDataExit(instance);
      if (status === undefined && Date.now() < deadline) continue;
      pending.delete(instance);
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      await report.check(`${instance.name}: user data runs to the end (exit 0)`, () => {
        if (status === 0) return `done ${seconds} s after the first launch`;
        if (instance.launch.role === 'storage') deadline = Math.min(deadline, Date.now() + AFTER_A_FAILURE_MS);
        throw new Error(
          `${status === undefined ? 'still running' : `exit ${status}`} ${seconds} s after the first launch; cloud-init-output.log ends:\n${fleet.userDataOutput(instance)}`,
        );
      });
    }
    await sleep(2000);
  }
}
