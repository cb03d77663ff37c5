import {
  checkOptions,
  type OffloadThresholds,
  type PolicyOptions,
  type PolicyTier,
  policyDefinition,
  policyNames,
  RENAMED_NODE_POLICIES,
} from '@strata/policy-engine';
import { STRATA_DEFAULTS as D } from '../common/settings';
import { MAX_CELLS } from '../common/state/cells';
import type { PredictiveScalingMode } from './constructs';
import { parseInstanceType } from './instance-types';
import { loadPlugin, type PluginConfig, PluginError } from './plugins';

/** A tier's policy and its options, as the deployment starts with it (`strata policy set` changes it later). */
export interface PolicyChoice {
  readonly name: string;
  readonly options: PolicyOptions;
}

/**
 * Strata's settings, from the `strata` key of cdk.json's context (or `-c strata=...`).
 * Each @default below is cdk.json's own value, read through STRATA_DEFAULTS (common/settings).
 */
export interface StrataConfig {
  /** Tier 1: how the dispatcher picks a compute node, a built-in or a plugin's name. @default 'least-expected-delay' (the simulator's best; docs/benchmarks.md) */
  readonly invocationStrategy: string;
  /** Tier 2: which peer a full compute node forwards to. @default 'most-slots' */
  readonly nodePolicy: string;
  /** Tier 3: where a data stage runs. @default 'thresholds' */
  readonly offloadPolicy: string;
  /** Policies from the operator's own folder, bundled at synth and chosen by name like a built-in. @default none */
  readonly plugins: readonly PluginConfig[];
  /** Each tier's first policy with its options resolved (the built-ins' from choices, prequal and offloadThresholds; a plugin's from its entry). */
  readonly policies: Readonly<Record<PolicyTier, PolicyChoice>>;
  /** How many nodes the power-of-two policies sample. @default 2 */
  readonly choices: number;
  /** The prequal strategy: how many nodes it probes per decision, and the quantile of in-flight counts above which a probe is hot. @default 8 and 0.9 (the simulator's best) */
  readonly prequal: { readonly probes: number; readonly quantile: number };
  /** Over any of these a storage node runs no data stage. @default cpu 0.8, memory 0.8, loadPerCore 0.8 (AutoNDP's) */
  readonly offloadThresholds: OffloadThresholds;
  /**
   * Tier 3 by locality: a data stage is offered first to the storage host holding the
   * object's primary copy (its storage agents publish the data pool's placement map into
   * the state store, compute nodes compute an object's PG and look it up; docs/policies.md).
   * @default true
   */
  readonly offloadByLocality: boolean;
  readonly network: NetworkConfig;
  readonly state: StateConfig;
  readonly compute: ComputeConfig;
  readonly storage: StorageConfig;
  readonly dispatch: DispatchConfig;
  /** An address that gets the alarms by email (it must confirm the subscription). @default none */
  readonly alarmEmail?: string;
}

export interface NetworkConfig {
  /**
   * Availability zones the VPC spans: 3, or 2 where a region has only 2 (us-west-1 for newer accounts).
   * With 3, Ceph keeps quorum and min_size when one AZ is lost; with 2 it stops until the AZ with
   * two of its three monitors returns (a synth warning says so). @default 3
   */
  readonly maxAzs: number;
  /** NAT gateways: nodes install packages at boot through them. 1 is cheapest, one per AZ survives an AZ. @default 1 */
  readonly natGateways: number;
  /**
   * The AZs by zone id (use1-az1), 2 or 3 of them: an AZ name (us-east-1a) maps to a
   * different physical zone in each account, and not every zone has every instance type
   * (docs/aws.md has the command that lists the zones that do). maxAzs follows their count.
   * @default the region's first maxAzs AZs, by name
   */
  readonly availabilityZones?: readonly string[];
}

export interface StateConfig {
  /** The ElastiCache (Valkey) node type. @default 'cache.t4g.small' */
  readonly nodeType: string;
  /** Read replicas beside the primary, each in another AZ; Multi-AZ failover needs at least 1. @default 1 */
  readonly replicas: number;
  /**
   * Cells the fleet is split into, each under its own hash tag so that its scripts stay in
   * one slot; a dispatcher picks a cell by its free slots, then a node inside it
   * (docs/policies.md, cells). 1 is the store as it always was. @default 1
   */
  readonly cells: number;
  /**
   * ElastiCache shards (primaries): above 1, cluster mode, with the cells spread over the
   * shards, so `cells` must be a multiple of it; each shard has `replicas` replicas. @default 1
   */
  readonly shards: number;
}

export interface ComputeConfig {
  /**
   * The instance types the fleet may launch, the first preferred; the others when EC2 has
   * none of it in an AZ. One architecture (the AMI follows it) and one size (nodes are equal
   * for the slots and the scaling targets). @default ['c7g.large', 'c7gd.large'] (Graviton)
   */
  readonly instanceTypes: readonly string[];
  /** @default 2 */
  readonly minNodes: number;
  /** @default 6 */
  readonly maxNodes: number;
  /** Execution slots per node: functions that run at once. @default 2 */
  readonly slotsPerNode: number;
  /** The fleet scales to keep average CPU near this percentage. @default 70 */
  readonly targetCpuPercent: number;
  /** ...and average slot use near this percentage; whichever asks for more nodes wins. @default 70 */
  readonly targetSlotUsePercent: number;
  /**
   * Predictive scaling on the same two targets: 'forecast-only' publishes the forecast (on the
   * dashboard, after 24 hours of metrics) without acting, 'forecast-and-scale' launches nodes
   * ahead of it, 'off' creates no predictive policy. @default 'forecast-only'
   */
  readonly predictiveScaling: PredictiveScalingMode;
}

export interface StorageConfig {
  /** Ceph nodes (MON, MGR, OSDs, RGW, storage agent), spread over the AZs; 3 or more for 3 replicas. @default 3 */
  readonly nodes: number;
  /** As compute.instanceTypes; each node is a group of one that may launch any of them. @default ['m7g.large', 'm7gd.large'] (Graviton, 8 GiB) */
  readonly instanceTypes: readonly string[];
  /** EBS volumes per node, one OSD each. @default 1 */
  readonly osdsPerNode: number;
  /** Size of each OSD volume, GiB. @default 100 */
  readonly osdVolumeGiB: number;
  /** Placement groups of the data pool. @default 128 */
  readonly pgNum: number;
  /** The PG autoscaler on the data pool; pgNum stays its floor. @default true */
  readonly pgAutoscale: boolean;
  /** Execution slots of the storage agent, for near-data stages. @default 2 */
  readonly slotsPerNode: number;
}

export interface DispatchConfig {
  /** @default 512 */
  readonly memoryMiB: number;
  /** Reserved concurrency of the dispatcher; unset, it shares the account's pool. @default none */
  readonly reservedConcurrency?: number;
  /** API Gateway's steady request rate per second. @default 500 */
  readonly throttleRatePerSecond: number;
  /** @default 1000 */
  readonly throttleBurst: number;
}

const PREDICTIVE_SCALING_MODES: readonly PredictiveScalingMode[] = ['forecast-only', 'forecast-and-scale', 'off'];

/** A config value that Strata cannot deploy; the message names the key and what it accepts. */
export class StrataConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrataConfigError';
  }
}

/**
 * Validates the raw context value and fills in defaults: cdk.json's own values
 * (STRATA_DEFAULTS), so a `-c strata=...` that leaves a key out gets cdk.json's.
 * Throws StrataConfigError on the first bad key. Plugins' modules are loaded from `root`
 * (the project folder).
 */
export function loadStrataConfig(raw: unknown = {}, root: string = process.cwd()): StrataConfig {
  if (typeof raw === 'string') raw = parseJson(raw); // `cdk synth -c strata='{...}'` passes a string
  const top = new Section('strata', raw, [
    'invocationStrategy',
    'nodePolicy',
    'offloadPolicy',
    'choices',
    'prequal',
    'offloadThresholds',
    'offloadByLocality',
    'network',
    'state',
    'compute',
    'storage',
    'dispatch',
    'alarmEmail',
    'plugins',
  ]);
  // Plugins first: once registered, their names are valid below like the built-ins'.
  const plugins =
    top.optional('plugins', (value, path) => {
      if (!Array.isArray(value)) return fail(path, 'a list of { tier, name, module, options }', value);
      return value.map((entry, i) => {
        try {
          return loadPlugin(entry, `${path}[${i}]`, root);
        } catch (error) {
          if (error instanceof PluginError) throw new StrataConfigError(error.message);
          throw error;
        }
      });
    }) ?? [];
  const prequal = top.section('prequal', ['probes', 'quantile']);
  const network = top.section('network', ['maxAzs', 'natGateways', 'availabilityZones']);
  const availabilityZones = network.optional('availabilityZones', zoneIds);
  const maxAzs = network.whole('maxAzs', availabilityZones?.length ?? D.network.maxAzs, 2, 3);
  if (availabilityZones && availabilityZones.length !== maxAzs)
    throw new StrataConfigError(
      `strata.network.maxAzs must equal the number of strata.network.availabilityZones (${availabilityZones.length}), or be left out; got ${maxAzs}`,
    );
  const state = top.section('state', ['nodeType', 'replicas', 'cells', 'shards']);
  const cells = state.whole('cells', D.state.cells, 1, MAX_CELLS);
  const shards = state.whole('shards', D.state.shards, 1, MAX_CELLS);
  if (cells % shards !== 0)
    throw new StrataConfigError(
      `strata.state.cells must be a multiple of strata.state.shards (${shards}), so that each shard holds as many cells; got ${cells}`,
    );
  const compute = top.section('compute', [
    'instanceTypes',
    'minNodes',
    'maxNodes',
    'slotsPerNode',
    'targetCpuPercent',
    'targetSlotUsePercent',
    'predictiveScaling',
  ]);
  const minNodes = compute.whole('minNodes', D.compute.minNodes, 1, 1000);
  const storage = top.section('storage', [
    'nodes',
    'instanceTypes',
    'osdsPerNode',
    'osdVolumeGiB',
    'pgNum',
    'pgAutoscale',
    'slotsPerNode',
  ]);
  const dispatch = top.section('dispatch', [
    'memoryMiB',
    'reservedConcurrency',
    'throttleRatePerSecond',
    'throttleBurst',
  ]);
  const alarmEmail = top.optional('alarmEmail', (value, path) => {
    if (typeof value !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) fail(path, 'an email address', value);
    return value;
  });
  const invocationStrategy = top.oneOf('invocationStrategy', D.invocationStrategy, policyNames('invocation'));
  const nodePolicy = top.oneOf('nodePolicy', D.nodePolicy, policyNames('node'), RENAMED_NODE_POLICIES);
  const offloadPolicy = top.oneOf('offloadPolicy', D.offloadPolicy, policyNames('offload'));
  // The built-ins' options keep their keys of old: choices, prequal, offloadThresholds.
  const choices = checked(() =>
    checkOptions(
      policyDefinition('invocation', 'power-of-two').options ?? {},
      { choices: top.raw.choices ?? D.choices },
      'strata',
    ),
  ).choices as number;
  const prequalOptions = checked(() =>
    checkOptions(
      policyDefinition('invocation', 'prequal').options ?? {},
      { ...D.prequal, ...prequal.raw },
      'strata.prequal',
    ),
  ) as { probes: number; quantile: number };
  const offloadThresholds = checked(() => {
    const thresholds = top.raw.offloadThresholds ?? {};
    if (!isRecord(thresholds))
      throw new RangeError('strata.offloadThresholds must be an object with cpu, memory and loadPerCore');
    return checkOptions(
      policyDefinition('offload', 'thresholds').options ?? {},
      { ...D.offloadThresholds, ...thresholds },
      'strata.offloadThresholds',
    );
  }) as unknown as OffloadThresholds;
  const pluginOptions = (tier: PolicyTier, name: string) =>
    plugins.find((plugin) => plugin.tier === tier && plugin.name === name)?.options;
  const builtInOptions: Record<string, PolicyOptions> = {
    'invocation/power-of-two': { choices },
    'invocation/prequal': prequalOptions,
    'node/power-of-two': { choices },
    'offload/thresholds': offloadThresholds as unknown as PolicyOptions,
  };
  const choice = (tier: PolicyTier, name: string): PolicyChoice => ({
    name,
    options: pluginOptions(tier, name) ?? builtInOptions[`${tier}/${name}`] ?? {},
  });
  return {
    invocationStrategy,
    nodePolicy,
    offloadPolicy,
    plugins,
    policies: {
      invocation: choice('invocation', invocationStrategy),
      node: choice('node', nodePolicy),
      offload: choice('offload', offloadPolicy),
    },
    choices,
    prequal: prequalOptions,
    offloadThresholds,
    offloadByLocality: top.boolean('offloadByLocality', D.offloadByLocality),
    network: {
      maxAzs,
      natGateways: network.whole('natGateways', D.network.natGateways, 1, maxAzs),
      ...(availabilityZones ? { availabilityZones } : {}),
    },
    state: {
      nodeType: state.matching(
        'nodeType',
        D.state.nodeType,
        /^cache\.[a-z0-9]+\.[a-z0-9]+$/,
        'an ElastiCache node type such as cache.t4g.small',
      ),
      replicas: state.whole('replicas', D.state.replicas, 1, 5),
      cells,
      shards,
    },
    compute: {
      instanceTypes: compute.instanceTypes('instanceTypes', D.compute.instanceTypes),
      minNodes,
      maxNodes: compute.whole('maxNodes', Math.max(D.compute.maxNodes, minNodes), minNodes, 1000),
      slotsPerNode: compute.whole('slotsPerNode', D.compute.slotsPerNode, 1, 256),
      targetCpuPercent: compute.whole('targetCpuPercent', D.compute.targetCpuPercent, 10, 95),
      targetSlotUsePercent: compute.whole('targetSlotUsePercent', D.compute.targetSlotUsePercent, 10, 95),
      predictiveScaling: compute.oneOf(
        'predictiveScaling',
        D.compute.predictiveScaling,
        PREDICTIVE_SCALING_MODES,
      ) as PredictiveScalingMode,
    },
    storage: {
      nodes: storage.whole('nodes', D.storage.nodes, 3, 12),
      instanceTypes: storage.instanceTypes('instanceTypes', D.storage.instanceTypes),
      osdsPerNode: storage.whole('osdsPerNode', D.storage.osdsPerNode, 1, 8),
      osdVolumeGiB: storage.whole('osdVolumeGiB', D.storage.osdVolumeGiB, 10, 16384),
      pgNum: storage.powerOfTwo('pgNum', D.storage.pgNum, 8, 4096),
      pgAutoscale: storage.boolean('pgAutoscale', D.storage.pgAutoscale),
      slotsPerNode: storage.whole('slotsPerNode', D.storage.slotsPerNode, 1, 256),
    },
    dispatch: {
      memoryMiB: dispatch.whole('memoryMiB', D.dispatch.memoryMiB, 128, 10240),
      reservedConcurrency: dispatch.optional('reservedConcurrency', (value, path) => wholeIn(path, value, 1, 10000)),
      throttleRatePerSecond: dispatch.whole('throttleRatePerSecond', D.dispatch.throttleRatePerSecond, 1, 100000),
      throttleBurst: dispatch.whole('throttleBurst', D.dispatch.throttleBurst, 1, 5000),
    },
    ...(alarmEmail === undefined ? {} : { alarmEmail }),
  };
}

/** One object of the config: reads its keys with defaults, and rejects keys it does not know. */
class Section {
  readonly raw: Record<string, unknown>;

  constructor(
    private readonly path: string,
    raw: unknown,
    keys: readonly string[],
  ) {
    if (!isRecord(raw)) throw new StrataConfigError(`${path} must be an object with the keys ${keys.join(', ')}`);
    const unknown = Object.keys(raw).filter((key) => !keys.includes(key));
    if (unknown.length > 0)
      throw new StrataConfigError(`${path}.${unknown[0]} is not a setting; the settings are ${keys.join(', ')}`);
    this.raw = raw;
  }

  section(key: string, keys: readonly string[]): Section {
    return new Section(`${this.path}.${key}`, this.raw[key] ?? {}, keys);
  }

  optional<T>(key: string, check: (value: unknown, path: string) => T): T | undefined {
    return this.raw[key] === undefined ? undefined : check(this.raw[key], `${this.path}.${key}`);
  }

  private read<T>(key: string, fallback: T, check: (value: unknown, path: string) => T): T {
    return this.optional(key, check) ?? fallback;
  }

  whole(key: string, fallback: number, min: number, max: number): number {
    return this.read(key, fallback, (value, path) => wholeIn(path, value, min, max));
  }

  powerOfTwo(key: string, fallback: number, min: number, max: number): number {
    return this.read(key, fallback, (value, path) => {
      if (
        !Number.isInteger(value) ||
        (value as number) < min ||
        (value as number) > max ||
        ((value as number) & ((value as number) - 1)) !== 0
      ) {
        fail(path, `a power of two from ${min} to ${max}`, value);
      }
      return value as number;
    });
  }

  boolean(key: string, fallback: boolean): boolean {
    return this.read(key, fallback, (value, path) =>
      typeof value === 'boolean' ? value : fail(path, 'true or false', value),
    );
  }

  /** One of `names`; a name in `renamed` (old to new) is an error that gives the new one. */
  oneOf(
    key: string,
    fallback: string,
    names: readonly string[],
    renamed: Readonly<Record<string, string>> = {},
  ): string {
    return this.read(key, fallback, (value, path) => {
      if (typeof value === 'string' && Object.hasOwn(renamed, value))
        throw new StrataConfigError(
          `${path} "${value}" is now called "${renamed[value]}" (one name per algorithm); the names are ${names.join(', ')}`,
        );
      if (typeof value !== 'string' || !names.includes(value))
        throw new StrataConfigError(`${path} must be one of ${names.join(', ')}; got ${JSON.stringify(value)}`);
      return value;
    });
  }

  matching(key: string, fallback: string, pattern: RegExp, what: string): string {
    return this.read(key, fallback, (value, path) =>
      typeof value === 'string' && pattern.test(value) ? value : fail(path, what, value),
    );
  }

  /**
   * EC2 instance types (lib/instance-types.ts), 1 to 4, the first preferred: Graviton or
   * x86 (the AMI follows), but all one architecture and one size.
   */
  instanceTypes(key: string, fallback: readonly string[]): readonly string[] {
    return this.read(key, fallback, (value, path) => {
      if (!Array.isArray(value) || value.length < 1 || value.length > 4) {
        return fail(
          path,
          'a list of 1 to 4 EC2 instance types, the first preferred, such as ["c7g.large", "c7gd.large"]',
          value,
        );
      }
      const types = value.map((name: unknown, index) => {
        if (typeof name !== 'string')
          return fail(`${path}[${index}]`, 'an EC2 instance type such as c7g.large or m7i.large', name);
        const type = parseInstanceType(name);
        return 'problem' in type ? fail(`${path}[${index}]`, type.problem, name) : type;
      });
      if (new Set(types.map((type) => type.name)).size < types.length)
        fail(path, 'instance types each named once', value);
      if (new Set(types.map((type) => type.architecture)).size > 1)
        fail(path, 'all Graviton (arm64) or all x86, as the AMI follows them', value);
      if (new Set(types.map((type) => type.name.slice(type.name.indexOf('.') + 1))).size > 1)
        fail(path, 'all one size, such as large (every node the same for the slots and the scaling targets)', value);
      return types.map((type) => type.name);
    });
  }
}

/** 2 or 3 distinct AZ ids such as use1-az1 (not names such as us-east-1a). */
function zoneIds(value: unknown, path: string): readonly string[] {
  const accepted =
    'a list of 2 or 3 distinct AZ ids such as ["use1-az1", "use1-az2", "use1-az4"] (aws ec2 describe-availability-zones shows ZoneId beside ZoneName)';
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) return fail(path, accepted, value);
  value.forEach((id: unknown, index) => {
    if (typeof id !== 'string' || !/^[a-z]{2,}[0-9]+-az[0-9]+$/.test(id))
      fail(`${path}[${index}]`, 'an AZ id such as use1-az1 (the zone id, not the name us-east-1a)', id);
  });
  if (new Set(value).size < value.length) fail(path, accepted, value);
  return value as string[];
}

function wholeIn(path: string, value: unknown, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max)
    fail(path, `a whole number from ${min} to ${max}`, value);
  return value as number;
}

function fail(path: string, accepted: string, value: unknown): never {
  throw new StrataConfigError(`${path} must be ${accepted}; got ${JSON.stringify(value)}`);
}

/** Runs a policy-engine check and re-throws its RangeError (which names the key) as a config error. */
function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof RangeError) throw new StrataConfigError(error.message);
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new StrataConfigError(`strata must be a JSON object; could not parse ${JSON.stringify(text)}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
