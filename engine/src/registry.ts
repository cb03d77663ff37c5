import { checkOptions, type OptionsSchema, type OptionValues, type PolicyOptions } from './options';
import type { InvocationStrategy, NodePolicy, OffloadPolicy } from './types';

/** The three tiers a policy can serve. */
export type PolicyTier = 'invocation' | 'node' | 'offload';
export const POLICY_TIERS: readonly PolicyTier[] = ['invocation', 'node', 'offload'];

/** What a policy of each tier is. */
export interface PolicyOfTier {
  readonly invocation: InvocationStrategy;
  readonly node: NodePolicy;
  readonly offload: OffloadPolicy;
}

/**
 * A policy as the registry holds it, built-in or plugin: its tier, its options' schema,
 * and the factory that builds it from checked options. A plugin module's default export.
 */
export interface PolicyDefinition<T extends PolicyTier = PolicyTier, S extends OptionsSchema = OptionsSchema> {
  readonly tier: T;
  /** One line for `strata policy list` and the docs. */
  readonly summary: string;
  /** @default no options */
  readonly options?: S;
  /**
   * The policy takes full nodes on purpose (AutoNDP's single entry node, which queues):
   * the conformance check then skips "finds room whenever there is some".
   */
  readonly picksFullNodes?: boolean;
  create(options: OptionValues<S>): PolicyOfTier[T];
}

/**
 * Declares a policy, typing `create`'s options from the schema.
 *
 * @example
 * export default definePolicy({
 *   tier: 'invocation',
 *   summary: 'lowest memory in use first',
 *   options: { ceiling: { type: 'number', min: 0, max: 1, default: 0.9, description: 'skip nodes above this' } },
 *   create: ({ ceiling }) => (nodes, invocation, ctx) => ...,
 * });
 */
export function definePolicy<T extends PolicyTier, const S extends OptionsSchema = Record<never, never>>(
  definition: PolicyDefinition<T, S>,
): PolicyDefinition<T, S> {
  return definition;
}

/**
 * Tier-2 names that went when each algorithm got one name in every tier and in the
 * store (issue 20): an old name is an error that gives the new one, not a silent alias.
 */
export const RENAMED_NODE_POLICIES: Readonly<Record<string, string>> = {
  'id-order': 'single-entry',
  'expected-delay': 'least-expected-delay',
};

const NAME = /^[a-z][a-z0-9-]{0,47}$/;
const registries: Record<PolicyTier, Map<string, PolicyDefinition>> = {
  invocation: new Map(),
  node: new Map(),
  offload: new Map(),
};

/**
 * Adds a policy to its tier's registry under `name`: how the built-ins register, and
 * how a plugin does (the bundles call it for each plugin named in cdk.json). Registering
 * the same definition twice is harmless; another one under a taken name throws.
 */
export function registerPolicy(name: string, definition: PolicyDefinition): void {
  if (!NAME.test(name))
    throw new RangeError(`policy name ${JSON.stringify(name)} must be lower-case letters, digits and dashes, up to 48`);
  if (!isDefinition(definition))
    throw new TypeError(`policy "${name}" must be a definition with tier, summary and create (see definePolicy)`);
  const registry = registries[definition.tier];
  const existing = registry.get(name);
  if (existing && existing !== definition)
    throw new RangeError(`a ${definition.tier} policy named "${name}" is registered already`);
  registry.set(name, definition as PolicyDefinition);
}

/** Whether a module's export looks like a policy definition. */
export function isDefinition(value: unknown): value is PolicyDefinition {
  const d = value as PolicyDefinition | undefined;
  return (
    typeof d === 'object' &&
    d !== null &&
    POLICY_TIERS.includes(d.tier) &&
    typeof d.create === 'function' &&
    typeof d.summary === 'string'
  );
}

/** The names registered for a tier, in registration order (the built-ins first). */
export function policyNames(tier: PolicyTier): string[] {
  return [...registries[tier].keys()];
}

/** Thrown for a policy name that is not registered; the message lists the valid names. */
export class UnknownPolicyError extends Error {
  constructor(
    readonly tier: string,
    readonly requested: string,
    readonly validNames: readonly string[],
  ) {
    const renamed = tier === 'node policy' ? RENAMED_NODE_POLICIES[requested] : undefined;
    super(
      renamed
        ? `Unknown ${tier} "${requested}": it is now called "${renamed}" (one name per algorithm). Valid names: ${validNames.join(', ')}`
        : `Unknown ${tier} "${requested}". Valid names: ${validNames.join(', ')}`,
    );
    this.name = 'UnknownPolicyError';
  }
}

const TIER_WORDS: Record<PolicyTier, string> = {
  invocation: 'invocation strategy',
  node: 'node policy',
  offload: 'offload policy',
};

/** The registered definition, or UnknownPolicyError listing the valid names. */
export function policyDefinition<T extends PolicyTier>(tier: T, name: string): PolicyDefinition<T> {
  const definition = registries[tier].get(name);
  if (!definition) throw new UnknownPolicyError(TIER_WORDS[tier], name, policyNames(tier));
  return definition as PolicyDefinition<T>;
}

/**
 * Builds a registered policy from raw options: checked against its schema (a RangeError
 * names the key, under `path`), defaults filled in.
 */
export function createPolicy<T extends PolicyTier>(
  tier: T,
  name: string,
  options: PolicyOptions = {},
  path = 'options',
): PolicyOfTier[T] {
  const definition = policyDefinition(tier, name);
  return definition.create(checkOptions(definition.options ?? {}, options, path));
}

export function invocationStrategy(name: string, options: PolicyOptions = {}): InvocationStrategy {
  return createPolicy('invocation', name, options);
}

export function nodePolicy(name: string, options: PolicyOptions = {}): NodePolicy {
  return createPolicy('node', name, options);
}

export function offloadPolicy(name: string, options: PolicyOptions = {}): OffloadPolicy {
  return createPolicy('offload', name, options);
}
