import { existsSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  type ConformanceResult,
  checkConformance,
  checkOptions,
  isDefinition,
  POLICY_TIERS,
  type PolicyDefinition,
  type PolicyOptions,
  type PolicyTier,
  policyDefinition,
  registerPolicy,
} from '@strata/policy-engine';

/** A policy from the operator's own folder, as cdk.json names it under `strata.plugins`. */
export interface PluginConfig {
  readonly tier: PolicyTier;
  /** The name it registers under, used like a built-in's in the config and by `strata policy set`. */
  readonly name: string;
  /** Its module, absolute (cdk.json gives it relative to the project). */
  readonly module: string;
  /** Its options when it is the tier's policy, checked against its schema. */
  readonly options: PolicyOptions;
}

/** A plugin that cannot be used: the message names the key (`strata.plugins[0].module`) and the fix. */
export class PluginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginError';
  }
}

/**
 * Loads a plugin's module, checks it is a policy definition of the tier it is named for,
 * registers it in this process's engine (so the config can name it), checks its options
 * and runs the engine's conformance checks on it. Synth calls this for every plugin;
 * `npm run policy:check` for one.
 */
export function loadPlugin(raw: unknown, path: string, root: string): PluginConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new PluginError(`${path} must be an object with tier, name, module and options`);
  const entry = raw as Record<string, unknown>;
  const extra = Object.keys(entry).find((key) => !['tier', 'name', 'module', 'options'].includes(key));
  if (extra) throw new PluginError(`${path}.${extra} is not a plugin setting; they are tier, name, module, options`);
  const tier = entry.tier;
  if (typeof tier !== 'string' || !POLICY_TIERS.includes(tier as PolicyTier))
    throw new PluginError(`${path}.tier must be one of ${POLICY_TIERS.join(', ')}; got ${JSON.stringify(tier)}`);
  const name = entry.name;
  if (typeof name !== 'string' || !/^[a-z][a-z0-9-]{0,47}$/.test(name))
    throw new PluginError(
      `${path}.name must be lower-case letters, digits and dashes, up to 48; got ${JSON.stringify(name)}`,
    );
  if (typeof entry.module !== 'string' || entry.module === '')
    throw new PluginError(`${path}.module must be the path of a .ts or .js file, such as policies/least-memory.ts`);
  const module = isAbsolute(entry.module) ? entry.module : resolve(root, entry.module);
  if (!existsSync(module))
    throw new PluginError(`${path}.module: no file ${relative(root, module) || module} (paths are from ${root})`);
  const definition = definitionOf(module, `${path}.module`);
  if (definition.tier !== tier)
    throw new PluginError(`${path}.tier is ${tier}, but ${entry.module} defines a ${definition.tier} policy`);
  try {
    registerPolicy(name, definition);
  } catch (error) {
    throw new PluginError(`${path}.name: ${(error as Error).message} (a built-in or another plugin)`);
  }
  let options: PolicyOptions;
  try {
    options = checkOptions(definition.options ?? {}, entry.options ?? {}, `${path}.options`);
  } catch (error) {
    if (error instanceof RangeError) throw new PluginError(error.message);
    throw error;
  }
  const failed = conformance(definition, options).filter((result) => result.outcome === 'fail');
  if (failed.length > 0)
    throw new PluginError(
      `${path} (${name}) fails the engine's conformance checks: ${failed
        .map((result) => `${result.property} (${result.detail})`)
        .join('; ')}. Run npm run policy:check -- ${entry.module}`,
    );
  return { tier: tier as PolicyTier, name, module, options };
}

/** The conformance results for a definition with options; `policy:check` prints them. */
export function conformance(definition: PolicyDefinition, options: PolicyOptions = {}): ConformanceResult[] {
  return checkConformance(definition, options, { runs: 300, seed: 1 });
}

/** The policy definition a module exports: its default export, or one named `policy`. */
export function definitionOf(module: string, path = 'module'): PolicyDefinition {
  let loaded: Record<string, unknown>;
  try {
    loaded = require(module) as Record<string, unknown>;
  } catch (error) {
    throw new PluginError(`${path}: ${module} does not load: ${(error as Error).message}`);
  }
  const candidate = loaded.default ?? loaded.policy;
  if (!isDefinition(candidate))
    throw new PluginError(
      `${path}: ${module} must export a policy definition as its default export (export default definePolicy({ tier, summary, options, create }))`,
    );
  return candidate;
}

/** Checks options for a registered policy (a built-in or a loaded plugin); the RangeError names the key under `path`. */
export function checkPolicyOptions(tier: PolicyTier, name: string, options: unknown, path: string): PolicyOptions {
  return checkOptions(policyDefinition(tier, name).options ?? {}, options, path);
}

/**
 * Writes a module that registers each plugin with the engine, through the same call as
 * the built-ins, and answers its path: a bundle imports it before anything that looks a
 * policy up. It imports the engine by its real path, which is where the plugins' own
 * `@strata/policy-engine` resolves, so the bundle holds one engine and one registry.
 */
export function writePluginsModule(plugins: readonly PluginConfig[]): string {
  const engine = require.resolve('@strata/policy-engine');
  const lines = [
    `import { registerPolicy } from ${JSON.stringify(realpathSync(engine))};`,
    ...plugins.map((plugin, i) => `import * as plugin${i} from ${JSON.stringify(plugin.module)};`),
    ...plugins.map(
      (plugin, i) =>
        `registerPolicy(${JSON.stringify(plugin.name)}, (plugin${i} as { default?: unknown }).default as never);`,
    ),
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'strata-plugins-')), 'plugins.ts');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
