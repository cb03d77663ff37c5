/** Limits above which a storage node refuses to run data stages. */
export interface OffloadThresholds {
  /** CPU busy fraction, 0..1. */
  readonly cpu: number;
  /** Memory used fraction, 0..1. */
  readonly memory: number;
  /** One-minute load average per core (1 means one runnable task per core). */
  readonly loadPerCore: number;
}

/** AutoNDP's defaults. */
export const DEFAULT_OFFLOAD_THRESHOLDS: OffloadThresholds = { cpu: 0.8, memory: 0.8, loadPerCore: 0.8 };

/**
 * One option a policy takes, as its schema declares it: the type, the range or the
 * accepted values, the default and a line for the operator. Checked at synth (cdk.json),
 * at `strata policy set`, and again where the policy is built.
 */
export type OptionSpec =
  | {
      readonly type: 'integer' | 'number';
      readonly min?: number;
      readonly max?: number;
      /** Values must be above `min`, not equal to it. */
      readonly exclusiveMin?: boolean;
      readonly default: number;
      readonly description: string;
    }
  | { readonly type: 'boolean'; readonly default: boolean; readonly description: string }
  | {
      readonly type: 'string';
      readonly values?: readonly string[];
      readonly default: string;
      readonly description: string;
    }
  | {
      readonly type: 'list';
      /** Each item must be one of these, when given. */
      readonly values?: readonly string[];
      readonly default: readonly string[];
      readonly description: string;
    };

/** A policy's options, by name. */
export type OptionsSchema = Readonly<Record<string, OptionSpec>>;

/** The values of a schema's options, every one present (defaults filled in). */
export type OptionValues<S extends OptionsSchema = OptionsSchema> = {
  readonly [K in keyof S]: S[K] extends { type: 'boolean' }
    ? boolean
    : S[K] extends { type: 'string' }
      ? string
      : S[K] extends { type: 'list' }
        ? readonly string[]
        : number;
};

/** What a caller passes as a policy's options: checked against its schema before use. */
export type PolicyOptions = Readonly<Record<string, unknown>>;

/**
 * Checks raw options against a schema and fills in the defaults. Throws a RangeError
 * whose message names the key (`path.key`) and what it accepts.
 */
export function checkOptions<S extends OptionsSchema>(schema: S, raw: unknown, path = 'options'): OptionValues<S> {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new RangeError(`${path} must be an object, got ${show(raw)}`);
  const given = raw as Record<string, unknown>;
  const known = Object.keys(schema);
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(schema, key)) {
      const valid = known.length > 0 ? `valid options: ${known.join(', ')}` : 'it takes no options';
      throw new RangeError(`${path}.${key} is not an option; ${valid}`);
    }
  }
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    values[key] = given[key] === undefined ? spec.default : checkOption(spec, given[key], `${path}.${key}`);
  }
  return values as OptionValues<S>;
}

function checkOption(spec: OptionSpec, value: unknown, path: string): unknown {
  switch (spec.type) {
    case 'integer':
    case 'number': {
      const whole = spec.type === 'integer';
      const low = spec.min === undefined ? -Infinity : spec.min;
      const high = spec.max === undefined ? Infinity : spec.max;
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (!whole || Number.isInteger(value)) &&
        (spec.exclusiveMin ? value > low : value >= low) &&
        value <= high;
      if (!ok) throw new RangeError(`${path} must be ${describeRange(spec)}, got ${show(value)}`);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new RangeError(`${path} must be true or false, got ${show(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string' || (spec.values && !spec.values.includes(value)))
        throw new RangeError(
          `${path} must be ${spec.values ? `one of ${spec.values.join(', ')}` : 'a string'}, got ${show(value)}`,
        );
      return value;
    case 'list': {
      const accepted = spec.values ? `a list of ${spec.values.join(', ')}` : 'a list of strings';
      if (!Array.isArray(value) || value.length === 0)
        throw new RangeError(`${path} must be ${accepted}, got ${show(value)}`);
      value.forEach((item, i) => {
        if (typeof item !== 'string' || (spec.values && !spec.values.includes(item)))
          throw new RangeError(
            `${path}[${i}] must be ${spec.values ? `one of ${spec.values.join(', ')}` : 'a string'}, got ${show(item)}`,
          );
      });
      return [...value];
    }
  }
}

/** "a whole number from 1 to 64", "a number above 0 and at most 1", ... */
export function describeRange(spec: Extract<OptionSpec, { type: 'integer' | 'number' }>): string {
  const kind = spec.type === 'integer' ? 'a whole number' : 'a number';
  const { min, max } = spec;
  if (min !== undefined && max !== undefined)
    return spec.exclusiveMin ? `${kind} above ${min} and at most ${max}` : `${kind} from ${min} to ${max}`;
  if (min !== undefined) return spec.exclusiveMin ? `${kind} above ${min}` : `${kind} of at least ${min}`;
  if (max !== undefined) return `${kind} of at most ${max}`;
  return kind;
}

function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : String(JSON.stringify(value) ?? value);
}

/** Throws a RangeError naming the option when a sample size is not a whole number from 1 to 64. */
export function checkChoices(choices: number, name = 'choices'): number {
  if (!Number.isInteger(choices) || choices < 1 || choices > 64) {
    throw new RangeError(`${name} must be a whole number from 1 to 64, got ${choices}`);
  }
  return choices;
}

/** Throws a RangeError naming the option when prequal's quantile is not in [0, 1]. */
export function checkQuantile(quantile: number, name = 'prequalQuantile'): number {
  if (typeof quantile !== 'number' || !(quantile >= 0 && quantile <= 1)) {
    throw new RangeError(`${name} must be a number from 0 to 1, got ${quantile}`);
  }
  return quantile;
}

/** Fills in defaults and throws a RangeError naming the threshold that is out of range. */
export function checkOffloadThresholds(partial: Partial<OffloadThresholds> = {}): OffloadThresholds {
  const thresholds = { ...DEFAULT_OFFLOAD_THRESHOLDS, ...partial };
  // CPU and memory are fractions; load per core may exceed 1 (more runnable tasks than cores).
  const ceilings: Record<keyof OffloadThresholds, number> = { cpu: 1, memory: 1, loadPerCore: Number.MAX_VALUE };
  for (const [key, ceiling] of Object.entries(ceilings) as [keyof OffloadThresholds, number][]) {
    const value = thresholds[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > ceiling) {
      const accepted = ceiling === 1 ? 'a number above 0 and at most 1' : 'a finite number above 0';
      throw new RangeError(`offloadThresholds.${key} must be ${accepted}, got ${String(value)}`);
    }
  }
  return thresholds;
}
