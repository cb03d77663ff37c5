import { RUN_BUDGET_MS } from './limits';
import { integerField, type StrataFunction } from './types';

interface Args {
  readonly ms: number;
}

/** A pure wait that holds its slot: for queueing and fault tests. At most RUN_BUDGET_MS (20 s), what an invocation has. */
export const sleep: StrataFunction<Args> = {
  name: 'sleep',
  description: 'wait `ms` milliseconds holding a slot; body {"ms": 100}',
  parse: (body) => ({ ms: integerField(body, 'ms', { min: 0, max: RUN_BUDGET_MS }) }),
  finish: async (args) => {
    await new Promise((resolve) => setTimeout(resolve, args.ms));
    return { sleptMs: args.ms };
  },
};
