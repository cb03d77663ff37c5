import { RUN_BUDGET_MS } from './limits';
import type { JsonSchema } from './schema';

/**
 * The built-in functions as the registry lists them: trusted TypeScript compiled into the
 * nodes (functions/), found by the dispatcher through the same lookup as users' functions
 * without its bundle holding their code. The schema is the dispatcher's first check; each
 * built-in's own `parse` on the node is the finer one.
 */
export interface BuiltinEntry {
  readonly name: string;
  /** The argument naming the object a data stage reads. */
  readonly objectKeyArg?: string;
  readonly argsSchema: JsonSchema;
}

const objectKey: JsonSchema = { type: 'string', minLength: 1, maxLength: 512 };

export const BUILTINS: readonly BuiltinEntry[] = [
  {
    name: 'wordcount',
    objectKeyArg: 'key',
    argsSchema: { type: 'object', properties: { key: objectKey }, required: ['key'] },
  },
  {
    name: 'substring',
    objectKeyArg: 'key',
    argsSchema: {
      type: 'object',
      properties: { key: objectKey, pattern: { type: 'string', minLength: 1, maxLength: 256 } },
      required: ['key', 'pattern'],
    },
  },
  {
    name: 'sha256',
    argsSchema: {
      type: 'object',
      properties: {
        data: { type: 'string', maxLength: 65_536 },
        rounds: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      },
      required: ['data'],
    },
  },
  {
    name: 'sleep',
    argsSchema: {
      type: 'object',
      properties: { ms: { type: 'integer', minimum: 0, maximum: RUN_BUDGET_MS } },
      required: ['ms'],
    },
  },
];

export const BUILTIN_NAMES: ReadonlySet<string> = new Set(BUILTINS.map((entry) => entry.name));
