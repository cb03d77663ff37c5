import type { IncomingMessage, ServerResponse } from 'node:http';
import { underThresholds, type OffloadThresholds } from '@strata/policy-engine';
import { findFunction, InputError } from '../functions';
import { BodyTooLargeError, readBody, sendJson } from '../lambdas/http/json';
import { NodeBase, type NodeBaseOptions } from '../runtime/node-base';
import { refuse } from '../runtime/compute-node';
import { ObjectNotFoundError, type ObjectStore } from './object-store';

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

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      return sendJson(res, 200, { id: this.id, role: this.role, slotsTotal: this.slots.total, slotsUsed: this.slots.inUse, draining: this.draining });
    }
    const name = /^\/stage\/([^/]+)$/.exec(path)?.[1];
    const fn = name === undefined ? undefined : findFunction(decodeURIComponent(name));
    if (!fn?.dataStage) return sendJson(res, 404, { error: `no data stage at ${path}` });
    if (req.method !== 'POST') return sendJson(res, 405, { error: `${req.method} is not allowed here; use POST` }, { allow: 'POST' });
    let args: unknown;
    try {
      args = fn.parse(JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')));
    } catch (error) {
      if (error instanceof BodyTooLargeError) return sendJson(res, 413, { error: error.message });
      if (error instanceof InputError || error instanceof SyntaxError) return sendJson(res, 400, { error: error.message });
      throw error;
    }
    if (this.draining) return refuse(res, 'draining');
    if (!underThresholds(this.self, this.options.thresholds)) return refuse(res, 'over-thresholds');
    if (!this.slots.tryTake()) return refuse(res, 'full');
    try {
      const data = await this.options.objects.get(fn.dataStage.objectKey(args));
      sendJson(res, 200, await this.pool.runStage(fn.name, args, data), { 'x-strata-node': this.id });
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return sendJson(res, 404, { error: error.message });
      throw error;
    } finally {
      this.slots.release();
    }
  }
}
