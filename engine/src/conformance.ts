import { applyIndexed, type FleetColumns, indexServiceMs } from './fleet-index';
import { eligibleNodes, freeSlots, isLive, loadPerCore, ZERO_FIGURES } from './nodes';
import { checkOptions, type PolicyOptions } from './options';
import { seededRandom } from './random';
import type { PolicyDefinition, PolicyTier } from './registry';
import { applySelection, isIndexed } from './selection';
import type { Invocation, InvocationStrategy, NodePolicy, NodeView, OffloadPolicy, PolicyContext } from './types';

/**
 * The engine's shared property checks, run over any policy: every built-in in the
 * engine's tests, a plugin in `npm run policy:check` and at synth. Plain code over a
 * seeded random source, so a failure names the seed that reproduces it.
 */
export interface ConformanceResult {
  readonly property: ConformanceProperty;
  /** 'n/a' when the property does not apply to the tier. */
  readonly outcome: 'pass' | 'fail' | 'n/a';
  readonly runs: number;
  /** For a failure: the seed and what went wrong. */
  readonly detail?: string;
}

export type ConformanceProperty =
  | 'never picks an ineligible node'
  | 'finds room whenever there is some'
  | 'never changes its input'
  | 'same answer for the same random source';

export const CONFORMANCE_PROPERTIES: readonly ConformanceProperty[] = [
  'never picks an ineligible node',
  'finds room whenever there is some',
  'never changes its input',
  'same answer for the same random source',
];

export interface ConformanceOptions {
  /** Random snapshots per property. @default 300 */
  readonly runs?: number;
  /** The first seed; run i uses seed + i. @default 1 */
  readonly seed?: number;
}

const NOW = 1_700_000_000_000;
const TTL_MS = 3_000;

/** Runs the four properties over `definition` built with `options` (checked against its schema first). */
export function checkConformance(
  definition: PolicyDefinition,
  options: PolicyOptions = {},
  { runs = 300, seed = 1 }: ConformanceOptions = {},
): ConformanceResult[] {
  const values = checkOptions(definition.options ?? {}, options);
  const build = () => definition.create(values);
  const decide = deciders[definition.tier];
  return CONFORMANCE_PROPERTIES.map((property) => {
    if (
      property === 'finds room whenever there is some' &&
      (definition.tier === 'offload' || definition.picksFullNodes)
    )
      return { property, outcome: 'n/a', runs: 0 };
    for (let i = 0; i < runs; i++) {
      const runSeed = seed + i;
      const problem = attempt(() => check(property, decide, build, runSeed, definition.picksFullNodes === true));
      if (problem !== undefined)
        return { property, outcome: 'fail', runs: i + 1, detail: `seed ${runSeed}: ${problem}` };
    }
    return { property, outcome: 'pass', runs };
  });
}

/** What a tier's policy decided on a snapshot, reduced to what the properties look at. */
interface Outcome {
  /** The nodes it picked: the one reserved (tier 1), the peers in order (tier 2), the storage node (tier 3). */
  readonly picked: readonly NodeView[];
  /** A comparable form of the whole answer. */
  readonly answer: string;
}

type Decide = (policy: unknown, snapshot: Snapshot, ctx: PolicyContext) => Outcome;

interface Snapshot {
  readonly nodes: readonly NodeView[];
  readonly self: NodeView;
  readonly invocation: Invocation;
  readonly holders: ReadonlySet<string>;
  readonly cursor: number;
}

const deciders: Record<PolicyTier, Decide> = {
  invocation(policy, { nodes, invocation, cursor }, ctx) {
    const selection = (policy as InvocationStrategy)(nodes, invocation, ctx);
    if (selection.kind === 'no-capacity') return { picked: [], answer: JSON.stringify(selection) };
    const byId = new Map(nodes.map((n) => [n.id, n]));
    let chosen: NodeView | undefined;
    if (isIndexed(selection)) {
      const fleet = fleetColumns(nodes, ctx, selection.exclude);
      const index = applyIndexed(selection, fleet, cursor);
      chosen = index === -1 ? undefined : byId.get(fleet.ids[index]);
    } else {
      // The store counts a candidate it does not know, or whose heartbeat expired, as gone.
      const inFlight = (id: string) => {
        const node = byId.get(id);
        return node && isLive(node, ctx) ? node.inFlight : undefined;
      };
      const index = applySelection(selection, inFlight, cursor);
      chosen = index === -1 ? undefined : byId.get(selection.candidates[index].id);
    }
    return { picked: chosen ? [chosen] : [], answer: JSON.stringify(selection) };
  },
  node(policy, { nodes, self, invocation }, ctx) {
    const decision = (policy as NodePolicy)(self, nodes, invocation, ctx);
    const picked = decision.kind === 'forward' ? decision.peers : [];
    return { picked, answer: JSON.stringify(decision.kind === 'forward' ? picked.map((p) => p.id) : decision) };
  },
  offload(policy, { nodes, invocation, holders }, ctx) {
    const decision = (policy as OffloadPolicy)(nodes, invocation, ctx, holders);
    return {
      picked: decision.kind === 'offload' ? [decision.node] : [],
      answer: JSON.stringify(decision.kind === 'offload' ? decision.node.id : decision),
    };
  },
};

function check(
  property: ConformanceProperty,
  decide: Decide,
  build: () => unknown,
  seed: number,
  picksFullNodes: boolean,
): string | undefined {
  const snapshot = randomSnapshot(seededRandom(seed));
  const ctx = context(seed);
  const tier = tierOf(decide);
  switch (property) {
    case 'never picks an ineligible node': {
      const { picked } = decide(build(), snapshot, ctx);
      const ids = new Set<string>();
      for (const node of picked) {
        const known = snapshot.nodes.find((n) => n.id === node.id);
        if (!known) return `picked ${node.id}, which is not in the snapshot`;
        if (ids.has(node.id)) return `offered ${node.id} twice`;
        ids.add(node.id);
        const why = ineligible(known, tier, snapshot.self, ctx, picksFullNodes);
        if (why) return `picked ${node.id}: ${why}`;
      }
      return undefined;
    }
    case 'finds room whenever there is some': {
      const room = snapshot.nodes.some((n) => ineligible(n, tier, snapshot.self, ctx, false) === undefined);
      const { picked } = decide(build(), snapshot, ctx);
      if (room && picked.length === 0) return 'a node had room, but it picked none';
      return undefined;
    }
    case 'never changes its input': {
      const before = JSON.stringify(snapshot.nodes);
      const frozen: Snapshot = {
        ...snapshot,
        nodes: deepFreeze(structuredClone(snapshot.nodes) as NodeView[]),
        self: deepFreeze(structuredClone(snapshot.self)),
        invocation: deepFreeze({ ...snapshot.invocation }),
      };
      decide(build(), frozen, ctx);
      if (JSON.stringify(frozen.nodes) !== before) return 'the node list changed';
      return undefined;
    }
    case 'same answer for the same random source': {
      const first = decide(build(), snapshot, context(seed)).answer;
      const second = decide(build(), snapshot, context(seed)).answer;
      if (first !== second) return `answered ${first}, then ${second}`;
      return undefined;
    }
  }
}

function tierOf(decide: Decide): PolicyTier {
  return (Object.keys(deciders) as PolicyTier[]).find((tier) => deciders[tier] === decide) ?? 'invocation';
}

/** Why a node may not be picked by a policy of `tier`, or undefined when it may. */
function ineligible(
  node: NodeView,
  tier: PolicyTier,
  self: NodeView,
  ctx: PolicyContext,
  picksFullNodes: boolean,
): string | undefined {
  const role = tier === 'offload' ? 'storage' : 'compute';
  if (node.role !== role) return `a ${node.role} node`;
  if (!isLive(node, ctx)) return 'its heartbeat expired';
  if (node.draining) return 'draining';
  if (tier === 'node' && node.id === self.id) return 'itself';
  if (tier === 'node' && freeSlots(node) <= 0) return 'no free slot';
  if (tier === 'invocation' && !picksFullNodes && node.inFlight >= node.slotsTotal) return 'full';
  return undefined;
}

/**
 * The fleet an IndexedSelection is applied over, from a snapshot: its eligible compute
 * nodes sorted by id less the excluded ones, ranked by their own service time or the
 * median of the others' (as the state store keeps it).
 */
export function fleetColumns(
  view: readonly NodeView[],
  ctx: PolicyContext,
  exclude: readonly string[] = [],
): FleetColumns {
  const eligible = eligibleNodes(view, 'compute', ctx).filter((n) => !exclude.includes(n.id));
  const known = eligible.map((n) => n.serviceMs).filter((ms): ms is number => ms !== undefined);
  return {
    ids: eligible.map((n) => n.id),
    inFlight: eligible.map((n) => n.inFlight),
    slots: eligible.map((n) => n.slotsTotal),
    slotsUsed: eligible.map((n) => n.slotsUsed),
    loadPerCore: eligible.map(loadPerCore),
    serviceMs: eligible.map((n) => indexServiceMs(n.serviceMs, known)),
  };
}

function context(seed: number): PolicyContext {
  return { now: NOW, random: seededRandom(seed * 7919 + 17), heartbeatTtlMs: TTL_MS };
}

/** 0 to 12 nodes of both roles, some dead, draining or full, with and without service times. */
function randomSnapshot(random: () => number): Snapshot {
  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const count = int(0, 12);
  const nodes: NodeView[] = [];
  for (let i = 0; i < count; i++) {
    const slotsTotal = int(1, 8);
    const id = `n${String(i).padStart(2, '0')}`;
    nodes.push({
      id,
      address: `10.0.0.${i + 1}:9000`,
      role: random() < 0.75 ? 'compute' : 'storage',
      slotsTotal,
      slotsUsed: int(0, slotsTotal),
      inFlight: int(0, slotsTotal + 1),
      cpuBusy: random(),
      memoryUsed: random(),
      load1: random() * 8,
      load5: random() * 8,
      load15: random() * 8,
      cores: int(1, 8),
      heartbeatAt: NOW - int(0, 2 * TTL_MS),
      draining: random() < 0.15,
      ...(random() < 0.7 ? { serviceMs: 1 + random() * 999 } : {}),
      ...(random() < 0.3 ? { functionServiceMs: { wordcount: 1 + random() * 999 } } : {}),
    });
  }
  // Shuffle, so that a policy that relies on id order must sort.
  for (let i = nodes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [nodes[i], nodes[j]] = [nodes[j], nodes[i]];
  }
  const computes = nodes.filter((n) => n.role === 'compute');
  const self =
    computes.length > 0 && random() < 0.8 ? computes[int(0, computes.length - 1)] : (nodes[0] ?? fallbackSelf());
  const invocation: Invocation = {
    functionName: random() < 0.5 ? 'wordcount' : 'substring',
    hops: int(0, 1),
    ...(random() < 0.7 ? { objectKey: `corpus/${int(0, 99)}.txt` } : {}),
  };
  const holders = new Set(nodes.filter(() => random() < 0.4).map((n) => n.id));
  return { nodes, self, invocation, holders, cursor: int(1, 1000) };
}

function fallbackSelf(): NodeView {
  return {
    id: 'self',
    address: '10.0.0.254:9000',
    role: 'compute',
    slotsTotal: 2,
    ...ZERO_FIGURES,
    slotsUsed: 2,
    heartbeatAt: NOW,
    draining: false,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** The problem a check reports, or the error it threw, as text. */
function attempt(run: () => string | undefined): string | undefined {
  try {
    return run();
  } catch (error) {
    return `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }
}
