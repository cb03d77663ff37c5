import { STRATA_DEFAULTS } from './defaults';

/** The bucket function data lives in: RGW's on AWS, the one `npm start` and the benchmarks create. */
export const DATA_BUCKET = 'strata-data';

/** The node processes' defaults (nodes/options.ts flags), the slots from cdk.json's compute nodes. */
export const NODE_DEFAULTS = {
  slots: STRATA_DEFAULTS.compute.slotsPerNode,
  heartbeatMs: 1000,
  bucket: DATA_BUCKET,
} as const;

/**
 * The variables of /etc/strata/strata.env on an EC2 node: the CDK constructs write them
 * (lib/constructs/compute-fleet.ts, ceph-cluster.ts), the setup scripts read them
 * (nodes/node-setup/*.sh, nodes/ceph/*.sh) and pass them on to the node process as flags.
 */
const EVERY_NODE = [
  'STRATA_REGION',
  'STRATA_STACK',
  'STRATA_SIGNAL_RESOURCE',
  'STRATA_LOG_GROUP',
  'STRATA_PORT',
  'STRATA_SLOTS',
  'STRATA_CACHE_HOST',
  'STRATA_CACHE_PORT',
  /** The state store URL's query: cells and cluster mode (common/state/cluster.ts, stateUrlOptions); empty for one cell. */
  'STRATA_CACHE_QUERY',
  'STRATA_CACHE_SECRET_ARN',
  'STRATA_OBJECTS_SECRET_ARN',
  'STRATA_OFFLOAD_THRESHOLDS',
  'STRATA_BUCKET',
  /** With the node ports, where a node may forward (nodes/peers.ts). */
  'STRATA_VPC_CIDR',
  /** The function code bucket (docs/functions.md): passed as --functions s3://BUCKET. */
  'STRATA_FUNCTIONS_BUCKET',
  /** Tier 3 by locality, on or off: storage agents publish the placement map, compute nodes read it (--locality state). */
  'STRATA_LOCALITY',
] as const;

export const COMPUTE_NODE_VARIABLES = [
  ...EVERY_NODE,
  'STRATA_RGW_ENDPOINT',
  'STRATA_NODE_POLICY',
  'STRATA_NODE_POLICY_OPTIONS',
  'STRATA_OFFLOAD_POLICY',
  'STRATA_OFFLOAD_POLICY_OPTIONS',
  'STRATA_LIFECYCLE_HOOK',
  'STRATA_STORAGE_PORT',
] as const;

export const STORAGE_NODE_VARIABLES = [
  ...EVERY_NODE,
  'STRATA_CEPH_SECRET_ARN',
  'STRATA_OBJECTS_READ_SECRET_ARN',
  'STRATA_COMPUTE_PORT',
  'STRATA_CEPH_INDEX',
  'STRATA_CEPH_NAME',
  'STRATA_CEPH_ADDRESS',
  'STRATA_CEPH_MONS',
  'STRATA_CEPH_FAILURE_DOMAIN',
  'STRATA_CEPH_NODES',
  'STRATA_OSD_VOLUMES',
  'STRATA_OSD_MEMORY_TARGET',
  'STRATA_PG_NUM',
  'STRATA_PG_AUTOSCALE',
  'STRATA_RGW_PORT',
  'STRATA_RGW_NAME',
] as const;

/** A compute node's strata.env: every variable, no other (values may be CDK tokens). */
export type ComputeNodeEnvironment = Readonly<Record<(typeof COMPUTE_NODE_VARIABLES)[number], string>>;
/** A storage node's strata.env. */
export type StorageNodeEnvironment = Readonly<Record<(typeof STORAGE_NODE_VARIABLES)[number], string>>;
