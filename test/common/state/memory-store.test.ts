import { MemoryStateStore } from '../../../common/state';
import { stateStoreContract } from './contract';

describe('MemoryStateStore', () => {
  stateStoreContract(async () => {
    let now = 1_000;
    return {
      store: new MemoryStateStore(() => now),
      advance: async (ms) => {
        now += ms;
      },
    };
  });
});
