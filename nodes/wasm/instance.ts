/**
 * One call of a user's WebAssembly function, as the ABI in docs/functions.md says: a
 * fresh memory capped at the manifest's pages, the only imports `env.memory`,
 * `strata.output` and `strata.fail`, input written where the module's `alloc` says,
 * the output copied out as JSON. Runs inside a worker thread (an execution slot); the
 * time cap is the pool's, which terminates the thread.
 */

/** Why a function's own code failed: it is the function's error, never the platform's. */
export type FunctionErrorKind = 'trap' | 'failed' | 'bad-output' | 'timeout';

/** A user function failed on its own: a trap, `strata.fail`, an output that is not JSON, or its time ran out. */
export class FunctionError extends Error {
  constructor(
    readonly kind: FunctionErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'FunctionError';
  }
}

export interface InstanceLimits {
  /** The module's own minimum (its memory import's), in 64 KiB pages. */
  readonly memoryMinPages: number;
  /** The manifest's cap. */
  readonly memoryPages: number;
}

/**
 * The most a call may output: the reply goes back through the dispatcher's Lambda, whose
 * response is at most 6 MB, the output escaped inside it as a JSON string.
 */
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Thrown by `strata.fail` to end the call; caught by `call`. */
class Failed extends Error {}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
/** For `strata.fail`'s message: text that is not UTF-8 is still the function's own failure. */
const lenientDecoder = new TextDecoder('utf-8');

/** An instance of a module with its own memory, for one invocation or one data stage. */
export class FunctionInstance {
  private readonly memory: WebAssembly.Memory;
  private readonly exports: Record<string, (...args: number[]) => number | undefined>;
  private output: Uint8Array | undefined;

  constructor(module: WebAssembly.Module, limits: InstanceLimits) {
    this.memory = new WebAssembly.Memory({ initial: limits.memoryMinPages, maximum: limits.memoryPages });
    const strata = {
      output: (ptr: number, len: number) => {
        if (len > MAX_OUTPUT_BYTES)
          throw new FunctionError('bad-output', `the output is ${len} bytes; at most ${MAX_OUTPUT_BYTES} (4 MiB)`);
        this.output = this.bytesAt(ptr, len).slice();
      },
      fail: (ptr: number, len: number) => {
        throw new Failed(lenientDecoder.decode(this.bytesAt(ptr, len)).slice(0, 1000));
      },
    };
    const instance = guard(() => new WebAssembly.Instance(module, { env: { memory: this.memory }, strata }));
    this.exports = instance.exports as unknown as typeof this.exports;
  }

  /** `run(args)`: a function without a data stage. */
  run(args: string): unknown {
    return this.call('run', [encoder.encode(args)]);
  }

  begin(args: string): void {
    this.call('begin', [encoder.encode(args)], false);
  }

  add(chunk: Uint8Array): void {
    this.call('add', [chunk], false);
  }

  /** The stage's result, as JSON. */
  end(): unknown {
    return this.call('end', []);
  }

  finish(args: string, staged: string): unknown {
    return this.call('finish', [encoder.encode(args), encoder.encode(staged)]);
  }

  /** Writes the inputs one after the other where `alloc` says, calls the entry point with each one's pointer and length. */
  private call(entry: string, inputs: Uint8Array[], wantsOutput = true): unknown {
    this.output = undefined;
    guard(() => {
      const total = inputs.reduce((sum, input) => sum + input.byteLength, 0);
      const pointers: number[] = [];
      if (inputs.length > 0) {
        let at = this.exports.alloc(total) as number;
        for (const input of inputs) {
          this.bytesAt(at, input.byteLength).set(input);
          pointers.push(at, input.byteLength);
          at += input.byteLength;
        }
      }
      this.exports[entry](...pointers);
    });
    if (!wantsOutput) return undefined;
    if (this.output === undefined)
      throw new FunctionError('bad-output', `${entry} returned without calling strata.output`);
    try {
      return JSON.parse(decoder.decode(this.output)) as unknown;
    } catch (error) {
      throw new FunctionError('bad-output', `${entry}'s output is not JSON: ${(error as Error).message}`);
    }
  }

  /** A view of memory that must lie inside it; a pointer outside is the module's trap. */
  private bytesAt(ptr: number, len: number): Uint8Array {
    const buffer = this.memory.buffer;
    if (!(Number.isInteger(ptr) && Number.isInteger(len) && ptr >= 0 && len >= 0 && ptr + len <= buffer.byteLength)) {
      throw new WebAssembly.RuntimeError(
        `memory access out of bounds: ${len} bytes at ${ptr} (memory is ${buffer.byteLength} bytes)`,
      );
    }
    return new Uint8Array(buffer, ptr, len);
  }
}

/** Runs module code; what it throws becomes a FunctionError of the right kind. */
function guard<T>(body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof FunctionError) throw error;
    if (error instanceof Failed) throw new FunctionError('failed', error.message);
    if (error instanceof WebAssembly.RuntimeError) throw new FunctionError('trap', error.message);
    if (error instanceof RangeError) throw new FunctionError('trap', error.message); // the stack ran out (deep recursion)
    if (error instanceof WebAssembly.LinkError)
      throw new FunctionError('trap', `the module does not link: ${error.message}`);
    // Anything else came out of the module's code too (a WebAssembly exception is not even an Error).
    throw new FunctionError(
      'trap',
      error instanceof Error ? error.message : 'the module threw an exception it did not catch',
    );
  }
}
