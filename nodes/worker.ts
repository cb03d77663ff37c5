import type { MessagePort } from 'node:worker_threads';
import { DataLimitError, findFunction } from '../functions/index';
import { TextFeed } from '../functions/text';
import type { ChunkMessage, FunctionTask, TaskOutcome } from './pool';
import { FunctionError, FunctionInstance } from './wasm/instance';

/** Runs one task in a worker thread (an execution slot). */
export default async function runTask(task: FunctionTask): Promise<TaskOutcome> {
  try {
    return { kind: 'done', value: await runPhase(task) };
  } catch (error) {
    if (error instanceof DataLimitError) return { kind: 'over-limit', message: error.message };
    if (error instanceof FunctionError) return { kind: 'function-error', error: error.kind, message: error.message };
    throw error;
  }
}

async function runPhase(task: FunctionTask): Promise<unknown> {
  const { target } = task;
  if (target.runtime === 'builtin') {
    const fn = findFunction(target.name);
    if (!fn) throw new Error(`no function "${target.name}"`);
    if (task.phase === 'stage') {
      const feed = new TextFeed(fn.dataStage!.begin(task.args));
      return runStage(
        task.chunks,
        (bytes) => feed.push(bytes),
        () => feed.end(),
      );
    }
    return fn.finish(task.args, task.phase === 'finish' ? task.staged : undefined);
  }
  // A fresh instance, and so a fresh memory, for every invocation and every stage.
  const instance = new FunctionInstance(target.module, target.limits);
  const args = JSON.stringify(task.args);
  if (task.phase === 'run') return instance.run(args);
  if (task.phase === 'finish') return instance.finish(args, JSON.stringify(task.staged));
  instance.begin(args);
  return runStage(
    task.chunks,
    (bytes) => instance.add(bytes),
    () => instance.end(),
  );
}

/** Feeds the object's chunks, as they arrive on the port, to the stage; acknowledges each, so the sender keeps only a few in flight. */
function runStage(port: MessagePort, add: (bytes: Uint8Array) => void, end: () => unknown): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    port.on('message', (message: ChunkMessage) => {
      try {
        if (message.kind === 'chunk') {
          add(message.bytes);
          port.postMessage('ack');
        } else if (message.kind === 'end') resolve(end());
        else reject(new Error(`reading the object failed: ${message.reason}`));
      } catch (error) {
        reject(error);
      }
    });
  }).finally(() => port.close());
}
