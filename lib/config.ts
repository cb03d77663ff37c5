import {
  checkChoices,
  checkOffloadThresholds,
  invocationStrategies,
  nodePolicies,
  offloadPolicies,
  type InvocationStrategyName,
  type NodePolicyName,
  type OffloadPolicyName,
  type OffloadThresholds,
} from '@strata/policy-engine';

/** Strata's settings, from the `strata` key of cdk.json's context (or `-c strata=...`). */
export interface StrataConfig {
  /** Tier 1: how the dispatcher picks a compute node. @default 'round-robin' */
  readonly invocationStrategy: InvocationStrategyName;
  /** Tier 2: which peer a full compute node forwards to. @default 'most-slots' */
  readonly nodePolicy: NodePolicyName;
  /** Tier 3: where a data stage runs. @default 'thresholds' */
  readonly offloadPolicy: OffloadPolicyName;
  /** How many nodes the power-of-two policies sample. @default 2 */
  readonly choices: number;
  /** @default cpu 0.8, memory 0.8, loadPerCore 0.8 (AutoNDP's) */
  readonly offloadThresholds: OffloadThresholds;
}

/** A config value that Strata cannot deploy; the message names the key and what it accepts. */
export class StrataConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrataConfigError';
  }
}

const KEYS = ['invocationStrategy', 'nodePolicy', 'offloadPolicy', 'choices', 'offloadThresholds'] as const;

/** Validates the raw context value and fills in defaults. Throws StrataConfigError on the first bad key. */
export function loadStrataConfig(raw: unknown = {}): StrataConfig {
  if (typeof raw === 'string') raw = parseJson(raw); // `cdk synth -c strata='{...}'` passes a string
  if (!isRecord(raw)) throw new StrataConfigError(`strata must be an object with the keys ${KEYS.join(', ')}`);
  const unknown = Object.keys(raw).filter((key) => !(KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new StrataConfigError(`strata.${unknown[0]} is not a setting; the settings are ${KEYS.join(', ')}`);
  }
  return {
    invocationStrategy: oneOf('invocationStrategy', raw.invocationStrategy ?? 'round-robin', invocationStrategies),
    nodePolicy: oneOf('nodePolicy', raw.nodePolicy ?? 'most-slots', nodePolicies),
    offloadPolicy: oneOf('offloadPolicy', raw.offloadPolicy ?? 'thresholds', offloadPolicies),
    choices: checked(() => checkChoices(raw.choices === undefined ? 2 : (raw.choices as number))),
    offloadThresholds: checked(() => {
      const thresholds = raw.offloadThresholds ?? {};
      if (!isRecord(thresholds)) throw new RangeError('offloadThresholds must be an object with cpu, memory and loadPerCore');
      const extra = Object.keys(thresholds).filter((key) => !['cpu', 'memory', 'loadPerCore'].includes(key));
      if (extra.length > 0) throw new RangeError(`offloadThresholds.${extra[0]} is not a threshold; they are cpu, memory, loadPerCore`);
      return checkOffloadThresholds(thresholds);
    }),
  };
}

function oneOf<R extends object>(key: string, value: unknown, registry: R): keyof R & string {
  const names = Object.keys(registry);
  if (typeof value !== 'string' || !names.includes(value)) {
    throw new StrataConfigError(`strata.${key} must be one of ${names.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as keyof R & string;
}

/** Runs a policy-engine check and re-throws its RangeError with the `strata.` prefix of the config key. */
function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof RangeError) throw new StrataConfigError(`strata.${error.message}`);
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
