import type { Server } from 'node:http';
import { HttpStateStore, MemoryStateStore } from '../../../common/state';
import { serveStateStore } from '../../../local/shared-state';
import { stateStoreContract } from './contract';

let server: Server | undefined;

afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

describe("HttpStateStore over a served MemoryStateStore (the local cluster's embedded state)", () => {
  stateStoreContract(async () => {
    let now = 1_000;
    const served = await serveStateStore(new MemoryStateStore(() => now));
    server = served.server;
    return {
      store: new HttpStateStore(served.url),
      advance: async (ms) => {
        now += ms;
      },
    };
  });
});
