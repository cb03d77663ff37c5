/** A request body that a function cannot take; the message names the field and what it accepts. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** An object a data stage will not read: over a stated limit, which the message names. The API answers 422. */
export class DataLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataLimitError';
  }
}

/**
 * A function the runtime can run. A near-data function declares a data stage: the part
 * that reads one object and reduces it to a small result, which may run on a storage
 * node next to the object (offload) or on the compute node after fetching it. `finish`
 * is the rest: a small merge after a stage, or all the work for a function without one.
 * Both run in an execution slot (a worker thread) and must be pure over their inputs.
 *
 * A data stage never holds the whole object: the runtime streams it, decodes it as UTF-8
 * and feeds the stage's pass the text in pieces that end between words (functions/text.ts),
 * so that an object of any size up to the stage's limit costs a few MB of memory.
 */
export interface StrataFunction<Args = unknown> {
  readonly name: string;
  readonly description: string;
  /**
   * Validates a request body; throws InputError naming the field. Returns plain JSON data
   * that this same function accepts again: the dispatcher forwards it as the node's body.
   */
  parse(body: unknown): Args;
  readonly dataStage?: {
    objectKey(args: Args): string;
    /**
     * The largest object the stage reads: what it gets through within RUN_BUDGET_MS on one
     * core for the slowest text it is meant for. A larger object is refused (422) unread.
     */
    readonly maxObjectBytes: number;
    /** A fresh pass over one object's text. */
    begin(args: Args): TextPass;
  };
  finish(args: Args, staged: unknown): unknown;
}

/** A data stage's pass over one object, fed its text in order, a piece at a time. */
export interface TextPass {
  /**
   * The next piece of the object's text. A piece ends after a line feed, or after a space
   * or tab followed by printable ASCII: never inside a word, a grapheme cluster or a
   * sequence that Unicode normalisation may change, so each piece may be segmented and
   * normalised on its own with the same result as the whole text.
   */
  add(piece: string): void;
  /** The stage's small result, once every piece is in; `bytes` is the object's size. */
  end(bytes: number): unknown;
}

/** Reads one field of an object body, or throws an InputError naming it. */
export function field(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InputError('the body must be a JSON object');
  }
  return (body as Record<string, unknown>)[name];
}

export function stringField(body: unknown, name: string, { min = 1, max = 1024 } = {}): string {
  const value = field(body, name);
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw new InputError(`${name} must be a string of ${min} to ${max} characters`);
  }
  return value;
}

export function integerField(
  body: unknown,
  name: string,
  { min, max, fallback }: { min: number; max: number; fallback?: number },
): number {
  const value = field(body, name) ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Object keys as S3 takes them, without the parts that would escape a local folder. */
export function objectKeyField(body: unknown): string {
  const key = stringField(body, 'key', { max: 512 });
  if (
    key.startsWith('/') ||
    key.split('/').some((part) => part === '..' || part === '') ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what a key must not hold
    /[\u0000-\u001f]/.test(key)
  ) {
    throw new InputError('key must be a relative object key such as "corpus/hamlet.txt", without empty or ".." parts');
  }
  return key;
}
