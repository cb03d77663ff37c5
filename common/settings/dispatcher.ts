import { checkChoices, checkQuantile, policyNames } from '@strata/policy-engine';
import { STRATA_DEFAULTS } from './defaults';

/** The dispatcher Lambda's environment variables, one per setting. */
export const DISPATCHER_VARIABLES = {
  redisUrl: 'STRATA_REDIS_URL',
  redisAuthSecretArn: 'STRATA_REDIS_AUTH_SECRET_ARN',
  functionsBucket: 'STRATA_FUNCTIONS_BUCKET',
  strategy: 'STRATA_STRATEGY',
  strategyOptions: 'STRATA_STRATEGY_OPTIONS',
  policyParameter: 'STRATA_POLICY_PARAMETER',
  choices: 'STRATA_CHOICES',
  prequalProbes: 'STRATA_PREQUAL_PROBES',
  prequalQuantile: 'STRATA_PREQUAL_QUANTILE',
  maxAttempts: 'STRATA_MAX_ATTEMPTS',
  forwardTimeoutMs: 'STRATA_FORWARD_TIMEOUT_MS',
  refreshMs: 'STRATA_REFRESH_MS',
  heartbeatTtlMs: 'STRATA_HEARTBEAT_TTL_MS',
} as const;

/** The dispatcher's settings: what the CDK construct writes into its environment and the handler reads back. */
export interface DispatcherSettings {
  /** The state store, e.g. rediss://host:6380. */
  readonly redisUrl: string;
  /** A Secrets Manager secret whose JSON fields `username` and `password` are the dispatcher's user in the state store. @default none */
  readonly redisAuthSecretArn?: string;
  /** The function code bucket (docs/functions.md): the registry, read when its cache in Redis is empty. @default none: built-ins only */
  readonly functionsBucket?: string;
  /** The first tier-1 strategy, a built-in or a plugin in the layer (strata policy set changes it later). */
  readonly strategy: string;
  /** Its options, as JSON (checked at synth and against its schema). @default the built-ins' from choices and prequal */
  readonly strategyOptions?: Readonly<Record<string, unknown>>;
  /** The SSM parameter that keeps the live policy setting durably (strata policy set). @default none */
  readonly policyParameter?: string;
  /** How many nodes the power-of-two strategies sample. */
  readonly choices: number;
  /** Prequal's probes per decision and hot quantile. */
  readonly prequal: { readonly probes: number; readonly quantile: number };
  /** How many nodes to try when one cannot be reached or refuses. */
  readonly maxAttempts: number;
  /** The longest one forward to a compute node may take. */
  readonly forwardTimeoutMs: number;
  /** How old the node list may grow before it is read again. */
  readonly refreshMs: number;
  /** A node whose heartbeat is older is not chosen. */
  readonly heartbeatTtlMs: number;
}

/** Every default, the policies' from cdk.json. */
export const DISPATCHER_DEFAULTS = {
  strategy: STRATA_DEFAULTS.invocationStrategy,
  choices: STRATA_DEFAULTS.choices,
  prequal: STRATA_DEFAULTS.prequal,
  maxAttempts: 3,
  forwardTimeoutMs: 28_000,
  refreshMs: 1000,
  heartbeatTtlMs: 3000,
} as const satisfies Omit<DispatcherSettings, 'redisUrl' | 'redisAuthSecretArn' | 'functionsBucket'>;

/** What the writer must give; the rest has defaults. Strings may be CDK tokens. */
export type DispatcherSettingsInput = Pick<DispatcherSettings, 'redisUrl'> & Partial<DispatcherSettings>;

/** The Lambda environment for these settings: every setting written, defaults filled in. */
export function dispatcherEnvironment(input: DispatcherSettingsInput): Record<string, string> {
  const settings = { ...DISPATCHER_DEFAULTS, ...input };
  const v = DISPATCHER_VARIABLES;
  return {
    [v.redisUrl]: settings.redisUrl,
    ...(settings.redisAuthSecretArn ? { [v.redisAuthSecretArn]: settings.redisAuthSecretArn } : {}),
    ...(settings.functionsBucket ? { [v.functionsBucket]: settings.functionsBucket } : {}),
    [v.strategy]: settings.strategy,
    ...(settings.strategyOptions ? { [v.strategyOptions]: JSON.stringify(settings.strategyOptions) } : {}),
    ...(settings.policyParameter ? { [v.policyParameter]: settings.policyParameter } : {}),
    [v.choices]: String(settings.choices),
    [v.prequalProbes]: String(settings.prequal.probes),
    [v.prequalQuantile]: String(settings.prequal.quantile),
    [v.maxAttempts]: String(settings.maxAttempts),
    [v.forwardTimeoutMs]: String(settings.forwardTimeoutMs),
    [v.refreshMs]: String(settings.refreshMs),
    [v.heartbeatTtlMs]: String(settings.heartbeatTtlMs),
  };
}

/** Reads the settings from an environment; a bad value throws an error that names its variable and what it accepts. */
export function readDispatcherSettings(env: NodeJS.ProcessEnv = process.env): DispatcherSettings {
  const v = DISPATCHER_VARIABLES;
  const redisUrl = env[v.redisUrl];
  if (!redisUrl) throw new Error(`${v.redisUrl} must be set to the state store, e.g. rediss://host:6380`);
  const strategy = env[v.strategy] ?? DISPATCHER_DEFAULTS.strategy;
  if (!policyNames('invocation').includes(strategy))
    throw new RangeError(`${v.strategy} must be one of ${policyNames('invocation').join(', ')}, got "${strategy}"`);
  const optionsText = env[v.strategyOptions];
  let strategyOptions: Record<string, unknown> | undefined;
  if (optionsText) {
    try {
      strategyOptions = JSON.parse(optionsText) as Record<string, unknown>;
    } catch {
      throw new RangeError(`${v.strategyOptions} must be a JSON object of the strategy's options, got ${optionsText}`);
    }
  }
  return {
    redisUrl,
    redisAuthSecretArn: env[v.redisAuthSecretArn] || undefined,
    functionsBucket: env[v.functionsBucket] || undefined,
    strategy,
    ...(strategyOptions ? { strategyOptions } : {}),
    policyParameter: env[v.policyParameter] || undefined,
    choices: checked(env, v.choices, DISPATCHER_DEFAULTS.choices, checkChoices),
    prequal: {
      probes: checked(env, v.prequalProbes, DISPATCHER_DEFAULTS.prequal.probes, checkChoices),
      quantile: checked(env, v.prequalQuantile, DISPATCHER_DEFAULTS.prequal.quantile, checkQuantile),
    },
    maxAttempts: checked(env, v.maxAttempts, DISPATCHER_DEFAULTS.maxAttempts, aboveZero),
    forwardTimeoutMs: checked(env, v.forwardTimeoutMs, DISPATCHER_DEFAULTS.forwardTimeoutMs, aboveZero),
    refreshMs: checked(env, v.refreshMs, DISPATCHER_DEFAULTS.refreshMs, aboveZero),
    heartbeatTtlMs: checked(env, v.heartbeatTtlMs, DISPATCHER_DEFAULTS.heartbeatTtlMs, aboveZero),
  };
}

/**
 * A number from the environment, or the default when the variable is unset; `check`
 * throws a RangeError naming what it is given as the name, here the variable.
 */
export function checked(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  check: (value: number, name: string) => number,
): number {
  const text = env[name];
  if (text === undefined) return fallback;
  const value = text.trim() === '' ? Number.NaN : Number(text);
  return check(value, name);
}

function aboveZero(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a number above 0, got ${value}`);
  return value;
}
