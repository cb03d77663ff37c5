import { adaptive } from './invocation/adaptive';
import { hashAffinity } from './invocation/hash-affinity';
import { leastExpectedDelay } from './invocation/least-expected-delay';
import { leastLoad } from './invocation/least-load';
import { leastOutstanding } from './invocation/least-outstanding';
import { mostSlots } from './invocation/most-slots';
import { powerOfTwo } from './invocation/power-of-two';
import { prequal } from './invocation/prequal';
import { roundRobin } from './invocation/round-robin';
import { singleEntry } from './invocation/single-entry';
import { leastExpectedDelayPeers } from './node/least-expected-delay';
import { leastLoadPeers } from './node/least-load';
import { mostSlotsPeers } from './node/most-slots';
import { powerOfTwoPeers } from './node/power-of-two';
import { singleEntryPeers } from './node/single-entry';
import { alwaysOffload } from './offload/always';
import { neverOffload } from './offload/never';
import { thresholdOffload } from './offload/thresholds';
import { checkOptions, DEFAULT_OFFLOAD_THRESHOLDS } from './options';
import { definePolicy, policyDefinition, registerPolicy } from './registry';

/** A registered policy's options, all defaults. */
function defaultsOf(name: string) {
  return checkOptions(policyDefinition('invocation', name).options ?? {}, {});
}

// The built-in policies, registered through the same call as a plugin. A built-in is one
// file and one entry here.

const choices = {
  choices: { type: 'integer', min: 1, max: 64, default: 2, description: 'how many nodes it samples' },
} as const;

const builtIns = {
  invocation: {
    'round-robin': definePolicy({
      tier: 'invocation',
      summary: 'the next node in turn that has room',
      create: () => roundRobin,
    }),
    'least-outstanding': definePolicy({
      tier: 'invocation',
      summary: 'the fewest invocations in flight',
      create: () => leastOutstanding,
    }),
    'power-of-two': definePolicy({
      tier: 'invocation',
      summary: 'the fewer in flight of `choices` random nodes with room',
      options: choices,
      create: (o) => powerOfTwo(o.choices),
    }),
    'least-expected-delay': definePolicy({
      tier: 'invocation',
      summary: '(in flight + 1) x measured service time / slots, least first',
      create: () => leastExpectedDelay,
    }),
    prequal: definePolicy({
      tier: 'invocation',
      summary: "Prequal's hot-cold rule over `probes` live probes",
      options: {
        probes: { type: 'integer', min: 1, max: 64, default: 8, description: 'nodes probed per decision' },
        quantile: {
          type: 'number',
          min: 0,
          max: 1,
          default: 0.9,
          description: "a probe is hot above this quantile of the fleet's in-flight counts",
        },
      },
      create: (o) => prequal(o.probes, o.quantile),
    }),
    'most-slots': definePolicy({
      tier: 'invocation',
      summary: 'the most free slots',
      create: () => mostSlots,
    }),
    'least-load': definePolicy({
      tier: 'invocation',
      summary: 'the lowest one-minute load per core',
      create: () => leastLoad,
    }),
    'hash-affinity': definePolicy({
      tier: 'invocation',
      summary: "the object's home node, then a short walk, then the least busy",
      create: () => hashAffinity,
    }),
    'single-entry': definePolicy({
      tier: 'invocation',
      summary: "AutoNDP's baseline: every invocation to the lowest id, which forwards",
      picksFullNodes: true,
      create: () => singleEntry,
    }),
    adaptive: definePolicy({
      tier: 'invocation',
      summary: 'a bandit (discounted UCB) choosing among `arms` each window by the latency it measures',
      options: {
        arms: {
          type: 'list',
          values: [
            'least-expected-delay',
            'prequal',
            'power-of-two',
            'least-outstanding',
            'round-robin',
            'most-slots',
            'least-load',
          ],
          default: ['least-expected-delay', 'prequal'],
          description: 'the strategies it chooses among (their defaults)',
        },
        windowMs: { type: 'integer', min: 100, max: 600_000, default: 1000, description: 'how long one arm runs' },
        discount: {
          type: 'number',
          min: 0,
          exclusiveMin: true,
          max: 1,
          default: 0.9,
          description: 'how much a window older weighs',
        },
        exploration: {
          type: 'number',
          min: 0,
          max: 10,
          default: 0.1,
          description: 'the confidence bonus, in log-latency units',
        },
      },
      create: (o) =>
        adaptive(
          o.arms.map((name) => policyDefinition('invocation', name).create({ ...defaultsOf(name) })),
          { ...o, armNames: o.arms },
        ),
    }),
  },
  node: {
    'most-slots': definePolicy({
      tier: 'node',
      summary: 'peers by free slots, most first',
      create: () => mostSlotsPeers,
    }),
    'least-load': definePolicy({
      tier: 'node',
      summary: 'peers by load per core, least first',
      create: () => leastLoadPeers,
    }),
    'power-of-two': definePolicy({
      tier: 'node',
      summary: 'the better of `choices` random peers first, then the rest',
      options: choices,
      create: (o) => powerOfTwoPeers(o.choices),
    }),
    'least-expected-delay': definePolicy({
      tier: 'node',
      summary: 'peers by expected delay from their measured service time',
      create: () => leastExpectedDelayPeers,
    }),
    'single-entry': definePolicy({
      tier: 'node',
      summary: "peers in id order, whatever their load: AutoNDP's baseline",
      create: () => singleEntryPeers,
    }),
  },
  offload: {
    thresholds: definePolicy({
      tier: 'offload',
      summary: "AutoNDP's rule: offload while the storage node's CPU, memory and load are all under the thresholds",
      options: {
        cpu: {
          type: 'number',
          min: 0,
          exclusiveMin: true,
          max: 1,
          default: DEFAULT_OFFLOAD_THRESHOLDS.cpu,
          description: 'CPU busy fraction',
        },
        memory: {
          type: 'number',
          min: 0,
          exclusiveMin: true,
          max: 1,
          default: DEFAULT_OFFLOAD_THRESHOLDS.memory,
          description: 'memory used fraction',
        },
        loadPerCore: {
          type: 'number',
          min: 0,
          exclusiveMin: true,
          default: DEFAULT_OFFLOAD_THRESHOLDS.loadPerCore,
          description: 'one-minute load average per core',
        },
      },
      create: (o) => thresholdOffload(o),
    }),
    always: definePolicy({
      tier: 'offload',
      summary: 'every data stage on a live storage node',
      create: () => alwaysOffload,
    }),
    never: definePolicy({
      tier: 'offload',
      summary: 'every data stage on the compute node',
      create: () => neverOffload,
    }),
  },
};

for (const tier of Object.values(builtIns)) {
  for (const [name, definition] of Object.entries(tier)) registerPolicy(name, definition);
}

/** The names of the built-ins, per tier (plugins come on top). */
export const BUILT_IN_NAMES = {
  invocation: Object.keys(builtIns.invocation),
  node: Object.keys(builtIns.node),
  offload: Object.keys(builtIns.offload),
} as const;
