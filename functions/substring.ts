import { objectKeyField, stringField, type StrataFunction } from './types';

interface Args {
  readonly key: string;
  readonly pattern: string;
}

export interface SubstringMatches {
  readonly key: string;
  readonly pattern: string;
  readonly count: number;
  /** Character offsets of the first ten matches. */
  readonly first: readonly number[];
}

/** Substring search over one text object (AutoNDP's second workload): counts possibly overlapping matches. */
export const substring: StrataFunction<Args> = {
  name: 'substring',
  description: 'count the matches of a pattern in a text object; body {"key": "corpus/x.txt", "pattern": "love"}',
  parse: (body) => ({ key: objectKeyField(body), pattern: stringField(body, 'pattern', { max: 256 }) }),
  dataStage: {
    objectKey: (args) => args.key,
    run: (text, args): SubstringMatches => {
      const first: number[] = [];
      let count = 0;
      for (let at = text.indexOf(args.pattern); at !== -1; at = text.indexOf(args.pattern, at + 1)) {
        if (count++ < 10) first.push(at);
      }
      return { key: args.key, pattern: args.pattern, count, first };
    },
  },
  finish: (_args, staged) => staged,
};
