import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { DataLimitError } from '../functions';
import { FunctionError, type FunctionErrorKind, type InstanceLimits } from './wasm/instance';

/**
 * What a slot runs: a trusted built-in by name, or a user's WebAssembly module, compiled
 * once by the node and handed to the worker (a compiled module crosses threads without
 * being compiled again) with the limits of its memory.
 */
export type FunctionTarget =
  | { readonly runtime: 'builtin'; readonly name: string }
  | { readonly runtime: 'wasm'; readonly module: WebAssembly.Module; readonly limits: InstanceLimits };

export type FunctionTask = { readonly target: FunctionTarget; readonly args: unknown } & (
  | { readonly phase: 'stage'; readonly chunks: MessagePort }
  | { readonly phase: 'finish'; readonly staged: unknown }
  | { readonly phase: 'run' }
);

/** What the node sends a stage's worker on its port; the worker answers 'ack' to each chunk. */
export type ChunkMessage =
  | { readonly kind: 'chunk'; readonly bytes: Uint8Array }
  | { readonly kind: 'end' }
  | { readonly kind: 'abort'; readonly reason: string };

/**
 * A task's answer from its worker. A limit the stage hit, or the function's own failure,
 * comes back as a value, since errors lose their class between threads.
 */
export type TaskOutcome =
  | { readonly kind: 'done'; readonly value: unknown }
  | { readonly kind: 'over-limit'; readonly message: string }
  | { readonly kind: 'function-error'; readonly error: FunctionErrorKind; readonly message: string };

/** Chunks of an object in flight to a worker at once: enough to keep it busy while the next is read. */
const CHUNKS_IN_FLIGHT = 4;

/**
 * The execution slots of a node: one worker thread per slot (piscina), so that CPU
 * work never blocks the node's HTTP server, its heartbeats or its forwarding. The
 * caller counts slots and never gives the pool more tasks than it has threads.
 *
 * Why threads rather than processes: a slot then costs a few MB, not a whole Node.js
 * process, and an object's chunks move to it without a copy through a socket.
 */
export class FunctionPool {
  private readonly pool: Piscina;

  constructor(readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 1)
      throw new RangeError(`slots must be a whole number of at least 1, got ${slots}`);
    // Under tsx the worker is the .ts source (workers inherit tsx's loader); in a bundle, the .js beside this file.
    const filename = [join(__dirname, 'worker.js'), join(__dirname, 'worker.ts')].find((f) => existsSync(f))!;
    this.pool = new Piscina({ filename, minThreads: slots, maxThreads: slots, idleTimeout: Number.POSITIVE_INFINITY });
  }

  /**
   * Runs a function's data stage over an object, streamed: the chunks go to the worker
   * over a port of their own as they are read, at most CHUNKS_IN_FLIGHT ahead of it, so
   * the object is never whole in memory. Throws DataLimitError if the stage refuses it.
   * At `deadline` the worker is terminated (piscina replaces it) and the read stops.
   */
  async runStage(target: FunctionTarget, args: unknown, object: Readable, deadline: number): Promise<unknown> {
    const { port1, port2 } = new MessageChannel();
    const { signal, done } = deadlineSignal(deadline);
    const outcome: Promise<TaskOutcome> = this.pool.run(
      { target, phase: 'stage', args, chunks: port2 } satisfies FunctionTask,
      { transferList: [port2], signal },
    );
    const stopped = outcome.then(
      () => 'stopped' as const,
      () => 'stopped' as const,
    );
    const stopReading = () => object.destroy();
    signal.addEventListener('abort', stopReading, { once: true });
    let inFlight = 0;
    let acknowledged: (() => void) | undefined;
    port1.on('message', () => {
      inFlight--;
      acknowledged?.();
    });
    try {
      reading: for await (const chunk of object as AsyncIterable<Uint8Array>) {
        // A copy of our own (a Buffer may share its memory with others), moved to the thread without another copy.
        const bytes = new Uint8Array(chunk);
        port1.postMessage({ kind: 'chunk', bytes } satisfies ChunkMessage, [bytes.buffer]);
        inFlight++;
        while (inFlight >= CHUNKS_IN_FLIGHT) {
          const acked = new Promise<'acked'>((resolve) => {
            acknowledged = () => resolve('acked');
          });
          if ((await Promise.race([acked, stopped])) === 'stopped') break reading; // the stage refused or failed: stop reading
        }
      }
      port1.postMessage({ kind: 'end' } satisfies ChunkMessage);
    } catch (error) {
      // The deadline: the pool's signal terminates the worker, the read's own signal may have fired first.
      if (signal.aborted || (error as Error).name === 'AbortError') return unwrap(await settle(outcome), target);
      port1.postMessage({ kind: 'abort', reason: (error as Error).message } satisfies ChunkMessage);
      await stopped;
      throw error;
    } finally {
      signal.removeEventListener('abort', stopReading);
      void stopped.then(() => {
        port1.close();
        done();
      });
    }
    return unwrap(await settle(outcome), target);
  }

  /** The rest of a function after its data stage (`staged`), or all of a built-in without one. */
  async runFinish(target: FunctionTarget, args: unknown, staged: unknown, deadline: number): Promise<unknown> {
    return this.runTask({ target, phase: 'finish', args, staged }, deadline);
  }

  /** A function without a data stage. */
  async run(target: FunctionTarget, args: unknown, deadline: number): Promise<unknown> {
    return target.runtime === 'builtin'
      ? this.runFinish(target, args, undefined, deadline)
      : this.runTask({ target, phase: 'run', args }, deadline);
  }

  private async runTask(task: FunctionTask, deadline: number): Promise<unknown> {
    const { signal, done } = deadlineSignal(deadline);
    try {
      return unwrap(await settle(this.pool.run(task, { signal })), task.target);
    } finally {
      done();
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** An AbortSignal that fires at the deadline, and a way to stop its timer early. */
function deadlineSignal(deadline: number): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}

/** The task's outcome; a task aborted at its deadline (its worker terminated) reads as a timeout. */
async function settle(running: Promise<TaskOutcome>): Promise<TaskOutcome> {
  try {
    return await running;
  } catch (error) {
    if ((error as Error).name === 'AbortError')
      return { kind: 'function-error', error: 'timeout', message: 'its time ran out' };
    throw error;
  }
}

function unwrap(outcome: TaskOutcome, target: FunctionTarget): unknown {
  if (outcome.kind === 'done') return outcome.value;
  if (outcome.kind === 'over-limit') throw new DataLimitError(outcome.message);
  if (target.runtime === 'builtin' && outcome.error !== 'timeout') throw new Error(outcome.message); // a built-in's bug is the platform's
  throw new FunctionError(outcome.error, outcome.message);
}
