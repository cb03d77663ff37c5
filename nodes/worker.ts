import { findFunction } from '../functions/index';
import type { FunctionTask } from './pool';

/** Runs one task in a worker thread (an execution slot). */
export default async function runTask(task: FunctionTask): Promise<unknown> {
  const fn = findFunction(task.name);
  if (!fn) throw new Error(`no function "${task.name}"`);
  if (task.phase === 'stage') return fn.dataStage!.run(Buffer.from(task.data).toString('utf8'), task.args);
  return fn.finish(task.args, task.staged);
}
