/**
 * A small JSON Schema: the keywords a function's arguments need, checked the same way by
 * the dispatcher (400 before any node is reserved) and at deploy (the schema itself).
 * Anything else is refused at deploy, so a schema never silently means less than it says.
 */

export type JsonSchema = {
  readonly type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: false;
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
};

const TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems'] as const;
const KEYWORDS = new Set([
  'type',
  'description',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'pattern',
  'minimum',
  'maximum',
  ...COUNTS,
]);

/** How deep a schema may nest (properties, items): far past what arguments need, far from the stack's limit. */
export const MAX_SCHEMA_DEPTH = 32;

/** Checks that a value is a schema of the supported keywords; answers the problems, each naming its place. */
export function schemaProblems(schema: unknown, at = 'argsSchema', depth = 0): string[] {
  if (depth > MAX_SCHEMA_DEPTH) return [`${at} nests deeper than ${MAX_SCHEMA_DEPTH} levels, the limit`];
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return [`${at} must be an object`];
  const s = schema as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(s)) {
    if (!KEYWORDS.has(key))
      problems.push(`${at}.${key} is not supported; the keywords are ${[...KEYWORDS].join(', ')}`);
  }
  if (s.type !== undefined && !TYPES.includes(s.type as string))
    problems.push(`${at}.type must be one of ${TYPES.join(', ')}`);
  if (s.description !== undefined && typeof s.description !== 'string')
    problems.push(`${at}.description must be a string`);
  if (s.properties !== undefined) {
    if (typeof s.properties !== 'object' || s.properties === null || Array.isArray(s.properties)) {
      problems.push(`${at}.properties must be an object of schemas`);
    } else {
      for (const [name, sub] of Object.entries(s.properties))
        problems.push(...schemaProblems(sub, `${at}.properties.${name}`, depth + 1));
    }
  }
  if (s.required !== undefined && !(Array.isArray(s.required) && s.required.every((r) => typeof r === 'string'))) {
    problems.push(`${at}.required must be an array of property names`);
  }
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
    problems.push(`${at}.additionalProperties may only be false`);
  }
  if (s.items !== undefined) problems.push(...schemaProblems(s.items, `${at}.items`, depth + 1));
  if (s.enum !== undefined && !(Array.isArray(s.enum) && s.enum.length > 0))
    problems.push(`${at}.enum must be a non-empty array`);
  for (const key of COUNTS) {
    const value = s[key];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 0)) {
      problems.push(`${at}.${key} must be a whole number of at least 0`);
    }
  }
  for (const key of ['minimum', 'maximum'] as const) {
    if (s[key] !== undefined && !Number.isFinite(s[key])) problems.push(`${at}.${key} must be a number`);
  }
  if (s.pattern !== undefined) {
    try {
      new RegExp(String(s.pattern), 'u');
      if (typeof s.pattern !== 'string') throw new Error();
    } catch {
      problems.push(`${at}.pattern must be a regular expression`);
    }
  }
  return problems;
}

/** The first way a value breaks the schema, naming the field (`args.key`), or undefined when it fits. */
export function schemaViolation(schema: JsonSchema, value: unknown, at = 'args'): string | undefined {
  if (schema.type !== undefined && !hasType(value, schema.type)) return `${at} must be ${article(schema.type)}`;
  if (schema.enum && !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))) {
    return `${at} must be one of ${schema.enum.map((option) => JSON.stringify(option)).join(', ')}`;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      return `${at} must be at least ${schema.minLength} characters`;
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      return `${at} must be at most ${schema.maxLength} characters`;
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
      return `${at} must match ${schema.pattern}`;
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${at} must be at least ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${at} must be at most ${schema.maximum}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      return `${at} must have at least ${schema.minItems} items`;
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      return `${at} must have at most ${schema.maxItems} items`;
    }
    if (schema.items) {
      for (const [index, item] of value.entries()) {
        const problem = schemaViolation(schema.items, item, `${at}[${index}]`);
        if (problem) return problem;
      }
    }
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (!Object.hasOwn(object, name)) return `${at}.${name} is required`;
    }
    for (const [name, item] of Object.entries(object)) {
      const sub = schema.properties && Object.hasOwn(schema.properties, name) ? schema.properties[name] : undefined;
      if (!sub) {
        if (schema.additionalProperties === false) return `${at}.${name} is not an argument of this function`;
        continue;
      }
      const problem = schemaViolation(sub, item, `${at}.${name}`);
      if (problem) return problem;
    }
  }
  return undefined;
}

function hasType(value: unknown, type: NonNullable<JsonSchema['type']>): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'null':
      return value === null;
    default:
      return typeof value === type;
  }
}

function article(type: string): string {
  return type === 'null' ? 'null' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}
