import type { IConstruct } from 'constructs';

/**
 * Props checks for the constructs, aws-cdk-lib's way: each throws at synth an error that
 * names the construct, the prop and what it accepts. A construct checks its own props,
 * whoever builds it (lib/config.ts checks the operator's config before that).
 */
export class PropError extends Error {
  constructor(scope: IConstruct, prop: string, accepts: string, got: unknown) {
    super(`${scope.node.path}: ${prop} must be ${accepts}, got ${JSON.stringify(got) ?? String(got)}`);
    this.name = 'PropError';
  }
}

/** A whole number from min to max (an unset optional prop is not checked: its default applies). */
export function wholeProp(scope: IConstruct, prop: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new PropError(scope, prop, `a whole number from ${min} to ${max}`, value);
}

/** At least one item. */
export function nonEmptyProp(scope: IConstruct, prop: string, value: readonly unknown[] | undefined): void {
  if (value !== undefined && value.length === 0) throw new PropError(scope, prop, 'a list of at least one', value);
}

/** One of the listed values. */
export function oneOfProp<T>(scope: IConstruct, prop: string, value: T | undefined, allowed: readonly T[]): void {
  if (value !== undefined && !allowed.includes(value))
    throw new PropError(scope, prop, `one of ${allowed.join(', ')}`, value);
}

/** A TCP port, 1 to 65535. */
export function portProp(scope: IConstruct, prop: string, value: number | undefined): void {
  wholeProp(scope, prop, value, 1, 65535);
}
