import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';

export type FunctionTask =
  | { readonly name: string; readonly phase: 'stage'; readonly args: unknown; readonly data: Uint8Array }
  | { readonly name: string; readonly phase: 'finish'; readonly args: unknown; readonly staged: unknown };

/**
 * The execution slots of a node: one worker thread per slot (piscina), so that CPU
 * work never blocks the node's HTTP server, its heartbeats or its forwarding. The
 * caller counts slots and never gives the pool more tasks than it has threads.
 *
 * Why threads rather than processes: a slot then costs a few MB, not a whole Node.js
 * process, and objects move to it without a copy through a socket.
 */
export class FunctionPool {
  private readonly pool: Piscina;

  constructor(readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a whole number of at least 1, got ${slots}`);
    // Under tsx the worker is the .ts source (workers inherit tsx's loader); in a bundle, the .js beside this file.
    const filename = [join(__dirname, 'worker.js'), join(__dirname, 'worker.ts')].find((f) => existsSync(f))!;
    this.pool = new Piscina({ filename, minThreads: slots, maxThreads: slots, idleTimeout: Number.POSITIVE_INFINITY });
  }

  runStage(name: string, args: unknown, data: Buffer): Promise<unknown> {
    // A copy of our own (a Buffer may share its memory with others), moved to the thread without another copy.
    const bytes = new Uint8Array(data);
    return this.pool.run({ name, phase: 'stage', args, data: bytes } satisfies FunctionTask, { transferList: [bytes.buffer] });
  }

  runFinish(name: string, args: unknown, staged: unknown): Promise<unknown> {
    return this.pool.run({ name, phase: 'finish', args, staged } satisfies FunctionTask);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
