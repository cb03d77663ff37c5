import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { DataLimitError } from '../functions';

export type FunctionTask =
  | { readonly name: string; readonly phase: 'stage'; readonly args: unknown; readonly chunks: MessagePort }
  | { readonly name: string; readonly phase: 'finish'; readonly args: unknown; readonly staged: unknown };

/** What the node sends a stage's worker on its port; the worker answers 'ack' to each chunk. */
export type ChunkMessage =
  | { readonly kind: 'chunk'; readonly bytes: Uint8Array }
  | { readonly kind: 'end' }
  | { readonly kind: 'abort'; readonly reason: string };

/** A stage's answer from its worker: a limit it hit comes back as a value, since errors lose their class between threads. */
export type StageOutcome =
  | { readonly kind: 'done'; readonly value: unknown }
  | { readonly kind: 'over-limit'; readonly message: string };

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
   */
  async runStage(name: string, args: unknown, chunks: AsyncIterable<Uint8Array>): Promise<unknown> {
    const { port1, port2 } = new MessageChannel();
    const outcome: Promise<StageOutcome> = this.pool.run(
      { name, phase: 'stage', args, chunks: port2 } satisfies FunctionTask,
      { transferList: [port2] },
    );
    const stopped = outcome.then(
      () => 'stopped' as const,
      () => 'stopped' as const,
    );
    let inFlight = 0;
    let acknowledged: (() => void) | undefined;
    port1.on('message', () => {
      inFlight--;
      acknowledged?.();
    });
    try {
      reading: for await (const chunk of chunks) {
        // A copy of our own (a Buffer may share its memory with others), moved to the thread without another copy.
        const bytes = new Uint8Array(chunk);
        port1.postMessage({ kind: 'chunk', bytes } satisfies ChunkMessage, [bytes.buffer]);
        inFlight++;
        while (inFlight >= CHUNKS_IN_FLIGHT) {
          const acked = new Promise<'acked'>((resolve) => (acknowledged = () => resolve('acked')));
          if ((await Promise.race([acked, stopped])) === 'stopped') break reading; // the stage refused or failed: stop reading
        }
      }
      port1.postMessage({ kind: 'end' } satisfies ChunkMessage);
    } catch (error) {
      port1.postMessage({ kind: 'abort', reason: (error as Error).message } satisfies ChunkMessage);
      await stopped;
      throw error;
    } finally {
      void stopped.then(() => port1.close());
    }
    const result = await outcome;
    if (result.kind === 'over-limit') throw new DataLimitError(result.message);
    return result.value;
  }

  runFinish(name: string, args: unknown, staged: unknown): Promise<unknown> {
    return this.pool.run({ name, phase: 'finish', args, staged } satisfies FunctionTask);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
