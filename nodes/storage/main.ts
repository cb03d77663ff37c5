/**
 * A storage node's agent process: `tsx nodes/storage/main.ts --id s1 --state URL --objects DIR`.
 * Prints "ready <host:port>" once it serves; drains on SIGTERM.
 */
import { checkOffloadThresholds } from '@strata/policy-engine';
import { exitWith } from '../../common/cli';
import { commonNodeOptions, drainOnSignals, parseFlags } from '../options';
import { StorageNode } from './storage-node';

const USAGE = `usage: nodes/storage/main.ts --id ID (--objects DIR | --s3-endpoint URL [--s3-bucket B]) [--functions DIR|s3://BUCKET [--functions-endpoint URL]]
  [--host 127.0.0.1] [--port 0] [--slots 2] [--thresholds '{"cpu":0.8,"memory":0.8,"loadPerCore":0.8}'] [--emf-file PATH]
  [--peers CIDR,...] [--peer-ports PORT,...] [--measure host|process] [--state URL]
--measure process: the metrics agent measures this process alone (nodes sharing one machine, as npm start runs them).
The state store URL (it may hold a user and password) is read from STRATA_STATE_URL; --state is for tests.`;

async function main(): Promise<void> {
  const values = parseFlags({ thresholds: { type: 'string', default: '{}' } }, USAGE);
  let thresholds;
  try {
    thresholds = checkOffloadThresholds(JSON.parse(values.thresholds));
  } catch (error) {
    exitWith(2, `--thresholds: ${(error as Error).message}`);
  }
  const node = await new StorageNode({ ...(await commonNodeOptions(values)), thresholds }).start();
  drainOnSignals(node);
  process.stdout.write(`ready ${node.address}\n`);
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
