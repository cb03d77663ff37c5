import { objectKeyField, type StrataFunction } from './types';

interface Args {
  readonly key: string;
}

export interface WordCount {
  readonly key: string;
  readonly bytes: number;
  readonly lines: number;
  readonly words: number;
  /** The ten most frequent words (lower case), most frequent first, ties alphabetical. */
  readonly top: readonly (readonly [string, number])[];
}

/** Word count over one text object (AutoNDP's I/O-heavy workload). */
export const wordcount: StrataFunction<Args> = {
  name: 'wordcount',
  description: 'count lines and words of a text object, and its ten most frequent words; body {"key": "corpus/x.txt"}',
  parse: (body) => ({ key: objectKeyField(body) }),
  dataStage: {
    objectKey: (args) => args.key,
    run: (text, args): WordCount => {
      const counts = new Map<string, number>();
      let words = 0;
      for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}']+/gu)) {
        words++;
        counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
      }
      const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
      const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      return { key: args.key, bytes: Buffer.byteLength(text), lines, words, top };
    },
  },
  finish: (_args, staged) => staged,
};
