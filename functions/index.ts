import { sha256 } from './sha256';
import { sleep } from './sleep';
import { substring } from './substring';
import type { StrataFunction } from './types';
import { wordcount } from './wordcount';

export * from './types';

/** The functions a node can run, by name. Adding one is a file and a line here. */
export const functions: Readonly<Record<string, StrataFunction<unknown>>> = { wordcount, substring, sha256, sleep };

export function findFunction(name: string): StrataFunction<unknown> | undefined {
  return Object.hasOwn(functions, name) ? functions[name] : undefined;
}
