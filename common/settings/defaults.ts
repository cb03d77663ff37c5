import {
  checkChoices,
  checkOffloadThresholds,
  checkQuantile,
  type InvocationStrategyName,
  invocationStrategies,
  type NodePolicyName,
  nodePolicies,
  type OffloadPolicyName,
  type OffloadThresholds,
  offloadPolicies,
} from '@strata/policy-engine';
import cdk from '../../cdk.json';

/**
 * The one default of every setting cdk.json gives (its `context.strata`): the CDK app's
 * config fills a key left out with it (lib/config.ts), and so do the dispatcher, the
 * nodes and `npm start` when no variable or flag says otherwise. Change a default in
 * cdk.json and all of them follow.
 */
const strata = cdk.context.strata;

function oneOf<T extends string>(key: string, value: string, names: Record<T, unknown>): T {
  if (!(value in names))
    throw new RangeError(`cdk.json strata.${key} must be one of ${Object.keys(names).join(', ')}, got "${value}"`);
  return value as T;
}

export const STRATA_DEFAULTS = {
  invocationStrategy: oneOf<InvocationStrategyName>(
    'invocationStrategy',
    strata.invocationStrategy,
    invocationStrategies,
  ),
  nodePolicy: oneOf<NodePolicyName>('nodePolicy', strata.nodePolicy, nodePolicies),
  offloadPolicy: oneOf<OffloadPolicyName>('offloadPolicy', strata.offloadPolicy, offloadPolicies),
  choices: checkChoices(strata.choices, 'cdk.json strata.choices'),
  prequal: {
    probes: checkChoices(strata.prequal.probes, 'cdk.json strata.prequal.probes'),
    quantile: checkQuantile(strata.prequal.quantile, 'cdk.json strata.prequal.quantile'),
  },
  offloadThresholds: checkOffloadThresholds(strata.offloadThresholds) as OffloadThresholds,
  network: strata.network,
  state: strata.state,
  compute: strata.compute,
  storage: strata.storage,
  dispatch: strata.dispatch,
} as const;
