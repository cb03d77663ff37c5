import type { IncomingMessage, ServerResponse } from 'node:http';
import { type OffloadThresholds, underThresholds } from '@strata/policy-engine';
import { BUDGET_HEADER, FUNCTION_VERSION_HEADER, NODE_HEADER, REFUSED_HEADER } from '../../common/http/headers';
import { refuse, safeDecode, sendJson } from '../../common/http/json';
import { ObjectNotFoundError, type ObjectStore } from '../../common/object-store';
import { DataLimitError } from '../../functions';
import { functionVersion, NodeBase, type NodeBaseOptions, sendFunctionError } from '../node-base';
import { FunctionError } from '../wasm/instance';

export interface StorageNodeOptions extends NodeBaseOptions {
  readonly objects: ObjectStore;
  /** The storage node refuses data stages while over any of these (AutoNDP's rule, checked again here on fresh figures). */
  readonly thresholds: OffloadThresholds;
}

/**
 * A storage node's agent: runs functions' data stages next to the data and answers only
 * their small results. It refuses (503, nothing run) while it is over its thresholds,
 * draining or full; the compute node then fetches the object and runs the stage itself.
 */
export class StorageNode extends NodeBase {
  constructor(protected readonly options: StorageNodeOptions) {
    super(options, 'storage');
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const name = /^\/stage\/([^/]+)$/.exec(path)?.[1];
    const version = functionVersion(req);
    if (version === null)
      return sendJson(res, 400, { error: `${FUNCTION_VERSION_HEADER} must be a whole number of at least 1` });
    const fn = name === undefined ? undefined : await this.catalog.find(safeDecode(name) ?? '', version);
    if (!fn?.dataStage)
      return sendJson(res, 404, { error: `no data stage at ${path}` }, name ? { [REFUSED_HEADER]: 'no-stage' } : {});
    if (req.method !== 'POST')
      return sendJson(res, 405, { error: `${req.method} is not allowed here; use POST` }, { allow: 'POST' });
    const budgetMs = Number(req.headers[BUDGET_HEADER] ?? fn.timeMs);
    if (!(Number.isInteger(budgetMs) && budgetMs >= 1))
      return sendJson(res, 400, { error: `${BUDGET_HEADER} must be a whole number of milliseconds of at least 1` });
    const read = await this.readArgs(req, res, fn, 64 * 1024);
    if (!read) return;
    const { args } = read;
    if (this.draining) return refuse(res, 'draining');
    if (!underThresholds(this.self, this.options.thresholds)) return refuse(res, 'over-thresholds');
    if (!this.slots.tryTake()) return refuse(res, 'full');
    try {
      const until = this.runDeadline(fn, Date.now() + budgetMs);
      sendJson(res, 200, await this.runDataStage(fn, args, this.options.objects, until), { [NODE_HEADER]: this.id });
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return sendJson(res, 404, { error: error.message });
      if (error instanceof DataLimitError) return sendJson(res, 422, { error: error.message });
      if (error instanceof FunctionError) return sendFunctionError(res, error, fn, this.id);
      throw error;
    } finally {
      this.slots.release();
    }
  }
}
