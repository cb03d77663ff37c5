import { basename, resolve } from 'node:path';
import { isDefinition, type PolicyTier, policyNames, registerPolicy } from '@strata/policy-engine';

/** A plugin as a process is told of it: its tier, the name it registers under, its module's absolute path. */
export interface PluginModule {
  readonly tier: PolicyTier;
  readonly name: string;
  readonly module: string;
}

/**
 * Registers plugins by loading their modules, for processes that run from source (the
 * one-machine cluster, the simulator). A bundle (the layer, the node bundle) registers
 * its plugins at build time instead and is given none.
 */
export async function registerPluginModules(plugins: readonly PluginModule[]): Promise<void> {
  for (const plugin of plugins) {
    const loaded = (await import(plugin.module)) as { default?: unknown; policy?: unknown };
    // A CommonJS-compiled module nests its default export once more.
    const candidates = [loaded.default, loaded.policy, (loaded.default as { default?: unknown } | undefined)?.default];
    const definition = candidates.find(isDefinition);
    if (!definition) throw new TypeError(`plugin ${plugin.name}: ${plugin.module} exports no policy definition`);
    if (definition.tier !== plugin.tier)
      throw new TypeError(
        `plugin ${plugin.name}: ${plugin.module} defines a ${definition.tier} policy, not ${plugin.tier}`,
      );
    registerPolicy(plugin.name, definition);
  }
}

/** Parses a `--plugins` flag: a JSON list of { tier, name, module }. */
export function parsePluginsFlag(text: string): PluginModule[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new SyntaxError('--plugins must be a JSON list of { tier, name, module }');
  return parsed as PluginModule[];
}

/**
 * Loads a policy module given on a command line (`--policy PATH`) and registers it under
 * its file's name (`policies/least-memory.ts` is `least-memory`), unless a policy of that
 * name is registered already. Answers the name and the tier.
 */
export async function registerPolicyFile(path: string): Promise<{ name: string; tier: PolicyTier }> {
  const module = resolve(path);
  const name = basename(module).replace(/\.[cm]?[jt]s$/, '');
  const loaded = (await import(module)) as { default?: unknown; policy?: unknown };
  const definition = [
    loaded.default,
    loaded.policy,
    (loaded.default as { default?: unknown } | undefined)?.default,
  ].find(isDefinition);
  if (!definition) throw new TypeError(`${path} exports no policy definition (export default definePolicy({ ... }))`);
  if (!policyNames(definition.tier).includes(name)) registerPolicy(name, definition);
  return { name, tier: definition.tier };
}
