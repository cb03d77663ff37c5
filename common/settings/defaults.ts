import {
  checkChoices,
  checkOffloadThresholds,
  checkQuantile,
  type OffloadThresholds,
  type PolicyTier,
  policyNames,
} from '@strata/policy-engine';
import cdk from '../../cdk.json';

/**
 * The one default of every setting cdk.json gives (its `context.strata`): the CDK app's
 * config fills a key left out with it (lib/config.ts), and so do the dispatcher, the
 * nodes and `npm start` when no variable or flag says otherwise. Change a default in
 * cdk.json and all of them follow.
 */
const strata = cdk.context.strata;

/**
 * A policy name from cdk.json: a built-in's, or a plugin's that cdk.json names (its module
 * is loaded at synth, where lib/config.ts checks the name against the registry).
 */
function oneOf(key: string, value: string, tier: PolicyTier): string {
  const plugins = (strata as { plugins?: { tier: string; name: string }[] }).plugins ?? [];
  const names = [...policyNames(tier), ...plugins.filter((p) => p.tier === tier).map((p) => p.name)];
  if (!names.includes(value))
    throw new RangeError(`cdk.json strata.${key} must be one of ${names.join(', ')}, got "${value}"`);
  return value;
}

export const STRATA_DEFAULTS = {
  invocationStrategy: oneOf('invocationStrategy', strata.invocationStrategy, 'invocation'),
  nodePolicy: oneOf('nodePolicy', strata.nodePolicy, 'node'),
  offloadPolicy: oneOf('offloadPolicy', strata.offloadPolicy, 'offload'),
  choices: checkChoices(strata.choices, 'cdk.json strata.choices'),
  prequal: {
    probes: checkChoices(strata.prequal.probes, 'cdk.json strata.prequal.probes'),
    quantile: checkQuantile(strata.prequal.quantile, 'cdk.json strata.prequal.quantile'),
  },
  offloadThresholds: checkOffloadThresholds(strata.offloadThresholds) as OffloadThresholds,
  offloadByLocality: strata.offloadByLocality,
  network: strata.network,
  state: strata.state,
  compute: strata.compute,
  storage: strata.storage,
  dispatch: strata.dispatch,
} as const;
