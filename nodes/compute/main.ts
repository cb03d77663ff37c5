/**
 * A compute node process: `tsx nodes/compute/main.ts --id c1 --state URL --objects DIR`.
 * Prints "ready <host:port>" once it serves; drains on SIGTERM.
 */
import { nodePolicy, offloadPolicy, UnknownPolicyError } from '@strata/policy-engine';
import { exitWith, lineFile, wholeNumber } from '../../common/cli';
import { commonNodeOptions, drainOnSignals, parseFlags } from '../options';
import { ComputeNode } from './compute-node';

const USAGE = `usage: nodes/compute/main.ts --id ID (--objects DIR | --s3-endpoint URL [--s3-bucket B]) [--functions DIR|s3://BUCKET [--functions-endpoint URL]]
  [--host 127.0.0.1] [--port 0] [--slots 2] [--node-policy most-slots] [--offload-policy thresholds]
  [--offload-thresholds '{"cpu":0.8,"memory":0.8,"loadPerCore":0.8}'] [--max-hops 2] [--emf-file PATH] [--invocation-log PATH] [--heartbeat-ms 1000]
  [--peers CIDR,...] [--peer-ports PORT,...] [--measure host|process] [--state URL]
--measure process: the metrics agent measures this process alone (nodes sharing one machine, as npm start runs them).
The state store URL (it may hold a user and password) is read from STRATA_STATE_URL; --state is for tests.`;

async function main(): Promise<void> {
  const values = parseFlags(
    {
      'node-policy': { type: 'string', default: 'most-slots' },
      'offload-policy': { type: 'string', default: 'thresholds' },
      'offload-thresholds': { type: 'string', default: '{}' },
      'max-hops': { type: 'string', default: '2' },
    },
    USAGE,
  );
  let policies;
  try {
    policies = {
      nodePolicy: nodePolicy(values['node-policy']),
      offloadPolicy: offloadPolicy(values['offload-policy'], {
        offloadThresholds: JSON.parse(values['offload-thresholds']),
      }),
    };
  } catch (error) {
    if (error instanceof UnknownPolicyError || error instanceof RangeError || error instanceof SyntaxError)
      exitWith(2, error.message);
    throw error;
  }
  const node = await new ComputeNode({
    ...(await commonNodeOptions(values)),
    maxHops: wholeNumber('max-hops', values['max-hops'], 0),
    invocationLog: lineFile(values['invocation-log']),
    ...policies,
  }).start();
  drainOnSignals(node);
  process.stdout.write(`ready ${node.address}\n`);
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
