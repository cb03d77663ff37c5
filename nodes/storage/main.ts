/**
 * A storage node's agent process: `tsx nodes/storage/main.ts --id s1 --state URL --objects DIR`.
 * Prints "ready <host:port>" once it serves; drains on SIGTERM.
 */
import { checkOffloadThresholds } from '@strata/policy-engine';
import { exitWith } from '../../common/cli';
import { CellStateStore, RedisStateStore } from '../../common/state';
import { cephCli } from '../compute/locality';
import { commonNodeOptions, drainOnSignals, logEachNewError, parseFlags } from '../options';
import { fileMarker, PlacementPublisher, radosgwMarker } from './placement';
import { StorageNode } from './storage-node';

const USAGE = `usage: nodes/storage/main.ts --id ID (--objects DIR | --s3-endpoint URL [--s3-bucket B]) [--functions DIR|s3://BUCKET [--functions-endpoint URL]]
  [--host 127.0.0.1] [--port 0] [--slots 2] [--thresholds '{"cpu":0.8,"memory":0.8,"loadPerCore":0.8}'] [--emf-file PATH]
  [--peers CIDR,...] [--peer-ports PORT,...] [--measure host|process] [--state URL]
  [--publish-placement '{"bucket":"strata-data","pool":"default.rgw.buckets.data","cephConf":"/etc/ceph/ceph.conf","markerFile":"/etc/ceph/strata-bucket-marker"}']
--publish-placement: publish the data pool's placement map (each PG's primary's host) into the state store when
  the OSD map's epoch moves, for compute nodes' --locality state (this host's ceph CLI, a key that reads the maps; the
  bucket's marker from markerFile, else from radosgw-admin).
--measure process: the metrics agent measures this process alone (nodes sharing one machine, as npm start runs them).
The state store URL (it may hold a user and password) is read from STRATA_STATE_URL; --state is for tests.`;

async function main(): Promise<void> {
  const values = parseFlags(
    { thresholds: { type: 'string', default: '{}' }, 'publish-placement': { type: 'string' } },
    USAGE,
  );
  let thresholds;
  try {
    thresholds = checkOffloadThresholds(JSON.parse(values.thresholds));
  } catch (error) {
    exitWith(2, `--thresholds: ${(error as Error).message}`);
  }
  const publishing = values['publish-placement'] === undefined ? undefined : publishFlag(values['publish-placement']);
  const common = await commonNodeOptions(values);
  const store =
    common.store instanceof RedisStateStore || common.store instanceof CellStateStore ? common.store : undefined;
  // Checked before the node registers: an exit after it would restart into the fleet again and again.
  if (publishing && !store)
    exitWith(2, '--publish-placement needs a Redis state store (it publishes the placement map there)');
  const node = await new StorageNode({ ...common, thresholds }).start();
  drainOnSignals(node);
  if (publishing && store) {
    new PlacementPublisher({
      ceph: cephCli(publishing.cephConf),
      bucketMarker:
        publishing.markerFile !== undefined
          ? fileMarker(publishing.markerFile)
          : radosgwMarker(publishing.bucket, publishing.cephConf),
      publish: (epoch, map) => store.publishPlacement(epoch, map),
      pool: publishing.pool,
    }).start(publishing.intervalMs ?? 10_000, logEachNewError('placement map not published'));
  }
  process.stdout.write(`ready ${node.address}\n`);
}

/** --publish-placement: the bucket, and optionally the data pool, ceph.conf and how often the OSD map is read. */
function publishFlag(text: string): {
  bucket: string;
  pool?: string;
  cephConf?: string;
  markerFile?: string;
  intervalMs?: number;
} {
  let value: { bucket?: unknown; pool?: unknown; cephConf?: unknown; markerFile?: unknown; intervalMs?: unknown };
  try {
    value = JSON.parse(text) as typeof value;
  } catch {
    return exitWith(2, `--publish-placement must be a JSON object, got ${text}`);
  }
  if (typeof value.bucket !== 'string' || value.bucket === '')
    exitWith(2, "--publish-placement: bucket must be the data bucket's name");
  if (value.pool !== undefined && typeof value.pool !== 'string')
    exitWith(2, '--publish-placement: pool must be a string');
  if (value.cephConf !== undefined && typeof value.cephConf !== 'string')
    exitWith(2, '--publish-placement: cephConf must be a path');
  if (value.markerFile !== undefined && typeof value.markerFile !== 'string')
    exitWith(2, '--publish-placement: markerFile must be a path');
  if (value.intervalMs !== undefined && !(Number.isInteger(value.intervalMs) && (value.intervalMs as number) >= 100))
    exitWith(2, '--publish-placement: intervalMs must be a whole number of milliseconds of at least 100');
  return value as { bucket: string; pool?: string; cephConf?: string; markerFile?: string; intervalMs?: number };
}

main().catch((error: Error) => exitWith(1, error.stack ?? error.message));
