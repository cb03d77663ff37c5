/**
 * A compute node process: `tsx nodes/compute/main.ts --id c1 --state URL --objects DIR`.
 * Prints "ready <host:port>" once it serves; drains on SIGTERM.
 */
import { UnknownPolicyError } from '@strata/policy-engine';
import { exitWith, lineFile, wholeNumber } from '../../common/cli';
import { TierPolicy } from '../../common/live-policy';
import { parsePluginsFlag, registerPluginModules } from '../../common/plugins';
import { PolicyFaultReporter, policyFaultEmf } from '../../common/policy-faults';
import { fileSettingSource, LivePolicies, redisSettingSource } from '../../common/policy-setting';
import { CellStateStore, RedisStateStore } from '../../common/state';
import { commonNodeOptions, drainOnSignals, logEachNewError, parseFlags } from '../options';
import { ComputeNode } from './compute-node';
import { locatorFromFlag } from './locality';

const USAGE = `usage: nodes/compute/main.ts --id ID (--objects DIR | --s3-endpoint URL [--s3-bucket B]) [--functions DIR|s3://BUCKET [--functions-endpoint URL]]
  [--host 127.0.0.1] [--port 0] [--slots 2] [--node-policy most-slots] [--node-options '{}']
  [--offload-policy thresholds] [--offload-options '{"cpu":0.8,"memory":0.8,"loadPerCore":0.8}']
  [--plugins '[{"tier":"node","name":"NAME","module":"/abs/path.ts"}]' (from source only; a bundle has its plugins built in)]
  [--policy-file PATH (the live policy setting of a local run; with a redis:// state, it is read from Redis)] [--max-hops 2]
  [--queue N] [--ask-peers] [--locality state|JSON] [--cold] [--emf-file PATH] [--invocation-log PATH] [--heartbeat-ms 1000]
  [--peers CIDR,...] [--peer-ports PORT,...] [--measure host|process] [--state URL]
--measure process: the metrics agent measures this process alone (nodes sharing one machine, as npm start runs them).
--queue N: an invocation no peer takes waits here for a slot (up to its budget) while fewer than N wait;
  refused only when the queue is full (the benchmarks' AutoNDP baseline). Without it: 503 after 500 ms.
--ask-peers: find a peer as faabric did, asking each (GET /health) in id order for a free slot (the baseline's per-call cost).
--locality state: offer a data stage first to the storage host of the object's primary OSD (Ceph's placement),
  else to any the policy allows; the object's PG is computed here, its primary's host read from the placement map
  the storage agents publish into the state store (storage agents' --publish-placement). Or
--locality '{"bucketMarker":"...","pool":"default.rgw.buckets.data","cephConf":"/etc/ceph/ceph.conf"}': the same
  with the ceph CLI on this host (it needs a key that may read the OSD map).
--cold: do not warm the local path of the data stages before taking work (for comparison).
The state store URL (it may hold a user and password) is read from STRATA_STATE_URL; --state is for tests.`;

async function main(): Promise<void> {
  const values = parseFlags(
    {
      'node-policy': { type: 'string', default: 'most-slots' },
      'node-options': { type: 'string', default: '{}' },
      'offload-policy': { type: 'string', default: 'thresholds' },
      'offload-options': { type: 'string', default: '{}' },
      plugins: { type: 'string', default: '[]' },
      'policy-file': { type: 'string' },
      'max-hops': { type: 'string', default: '2' },
      queue: { type: 'string' },
      locality: { type: 'string' },
      cold: { type: 'boolean', default: false },
      'ask-peers': { type: 'boolean', default: false },
    },
    USAGE,
  );
  let emf: ((line: string) => void) | undefined;
  // A policy that throws is replaced by the tier's default for that decision: counted
  // (PolicyFaults in the node's EMF records) and logged at most once a minute.
  const faults = new PolicyFaultReporter({
    count: (tier) => emf?.(policyFaultEmf('compute', tier, Date.now())),
    log: (message, fields) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
  });
  const onFault = faults.report.bind(faults);
  let tiers;
  let locator;
  try {
    // `state` needs the store, connected below; the JSON form is checked here, before any connection.
    locator =
      values.locality === undefined || values.locality === 'state' ? undefined : locatorFromFlag(values.locality);
    await registerPluginModules(parsePluginsFlag(values.plugins));
    tiers = {
      node: new TierPolicy(
        'node',
        { name: values['node-policy'], options: json('--node-options', values['node-options']) },
        onFault,
      ),
      offload: new TierPolicy(
        'offload',
        { name: values['offload-policy'], options: json('--offload-options', values['offload-options']) },
        onFault,
      ),
    };
  } catch (error) {
    if (
      error instanceof UnknownPolicyError ||
      error instanceof RangeError ||
      error instanceof SyntaxError ||
      error instanceof TypeError
    )
      exitWith(2, error.message);
    throw error;
  }
  const common = await commonNodeOptions(values);
  emf = common.emf;
  if (values.locality === 'state') {
    // With cells, the storage agents publish the map into every cell; a node reads its own.
    const store =
      common.store instanceof CellStateStore ? common.store.cells[common.store.cellOf(common.id)] : common.store;
    if (!(store instanceof RedisStateStore))
      exitWith(2, '--locality state needs a Redis state store (it reads the placement map there)');
    // A failed read keeps the map held in use.
    locator = locatorFromFlag('state', (held) => store.placement(held), logEachNewError('placement map not read'));
  }
  const node = await new ComputeNode({
    ...common,
    maxHops: wholeNumber('max-hops', values['max-hops'], 0),
    queueLimit: values.queue === undefined ? undefined : wholeNumber('queue', values.queue, 1),
    askPeers: values['ask-peers'],
    warmLocalPath: !values.cold,
    locator,
    invocationLog: lineFile(values['invocation-log']),
    nodePolicy: tiers.node.policy,
    offloadPolicy: tiers.offload.policy,
  }).start();
  drainOnSignals(node);
  // The live policy setting (strata policy set): read once a heartbeat interval, applied when newer.
  const source =
    values['policy-file'] !== undefined
      ? fileSettingSource(values['policy-file'])
      : common.store instanceof RedisStateStore
        ? redisSettingSource((args) => (common.store as RedisStateStore).command(args))
        : undefined;
  if (source) {
    const live = new LivePolicies(source, [tiers.node, tiers.offload], {
      intervalMs: common.heartbeatIntervalMs,
      // Timed: when each node switched is part of the change's record.
      log: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
    });
    await live.refresh();
    setInterval(() => void live.refresh(), common.heartbeatIntervalMs).unref();
  }
  process.stdout.write(`ready ${node.address}\n`);
}

function json(flag: string, text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SyntaxError(`${flag} must be a JSON object of the policy's options, got ${text}`);
  }
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
