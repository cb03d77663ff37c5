import type { MessagePort } from 'node:worker_threads';
import { DataLimitError, findFunction } from '../functions/index';
import { TextFeed } from '../functions/text';
import type { ChunkMessage, FunctionTask, StageOutcome } from './pool';

/** Runs one task in a worker thread (an execution slot). */
export default async function runTask(task: FunctionTask): Promise<unknown> {
  const fn = findFunction(task.name);
  if (!fn) throw new Error(`no function "${task.name}"`);
  if (task.phase === 'stage') return runStage(new TextFeed(fn.dataStage!.begin(task.args)), task.chunks);
  return fn.finish(task.args, task.staged);
}

/** Feeds the object's chunks, as they arrive on the port, to the stage; acknowledges each, so the sender keeps only a few in flight. */
function runStage(feed: TextFeed, port: MessagePort): Promise<StageOutcome> {
  return new Promise<StageOutcome>((resolve, reject) => {
    port.on('message', (message: ChunkMessage) => {
      try {
        if (message.kind === 'chunk') {
          feed.push(message.bytes);
          port.postMessage('ack');
        } else if (message.kind === 'end') resolve({ kind: 'done', value: feed.end() });
        else reject(new Error(`reading the object failed: ${message.reason}`));
      } catch (error) {
        if (error instanceof DataLimitError) resolve({ kind: 'over-limit', message: error.message });
        else reject(error);
      }
    });
  }).finally(() => port.close());
}
