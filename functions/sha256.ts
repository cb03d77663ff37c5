import { createHash } from 'node:crypto';
import { integerField, type StrataFunction, stringField } from './types';

interface Args {
  readonly data: string;
  readonly rounds: number;
}

/** CPU work: SHA-256 of the data, hashed again `rounds` times. */
export const sha256: StrataFunction<Args> = {
  name: 'sha256',
  description: 'hash data with SHA-256 `rounds` times (CPU); body {"data": "abc", "rounds": 10000}',
  parse: (body) => ({
    data: stringField(body, 'data', { min: 0, max: 65_536 }),
    // A million rounds take about 2 s of one core: well inside RUN_BUDGET_MS.
    rounds: integerField(body, 'rounds', { min: 1, max: 1_000_000, fallback: 1 }),
  }),
  finish: (args) => {
    let digest = createHash('sha256').update(args.data).digest();
    for (let i = 1; i < args.rounds; i++) digest = createHash('sha256').update(digest).digest();
    return { rounds: args.rounds, hex: digest.toString('hex') };
  },
};
