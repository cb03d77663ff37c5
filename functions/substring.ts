import { MiB } from './limits';
import { InputError, objectKeyField, type StrataFunction, stringField, type TextPass } from './types';

interface Args {
  readonly key: string;
  readonly pattern: string;
}

export interface SubstringMatches {
  readonly key: string;
  readonly pattern: string;
  readonly count: number;
  /** Offsets of the first ten matches, in code points of the NFC-normalised text. */
  readonly first: readonly number[];
}

/**
 * Substring search over one text object (AutoNDP's second workload): counts possibly
 * overlapping matches. It matches normalised text, not raw code points: the text and the
 * pattern are both NFC-normalised, so canonically equivalent spellings match (`café`
 * with a composed `é` or with `e` and a combining accent), while compatibility forms stay
 * apart (`ﬁ` is not `fi`: a search is literal about what a reader sees). Case counts. A
 * pattern `e` does not match inside `é`, in either spelling, since NFC composes it.
 */
export const substring: StrataFunction<Args> = {
  name: 'substring',
  description:
    'count the matches of a pattern in a text object (NFC-normalised text, offsets in code points); body {"key": "corpus/x.txt", "pattern": "love"}',
  parse: (body) => {
    const key = objectKeyField(body);
    const pattern = stringField(body, 'pattern', { max: 256 });
    if (/[\uD800-\uDFFF]/u.test(pattern))
      throw new InputError('pattern must be well-formed Unicode text: it has a lone surrogate');
    return { key, pattern };
  },
  dataStage: {
    objectKey: (args) => args.key,
    // Measured on the shared 2-core test machine: ~22 MB per CPU-second for the slowest
    // text (accents to compose), 33 for English; 128 MiB is at most ~6 s of one core,
    // ~9 s streamed through a worker thread.
    maxObjectBytes: 128 * MiB,
    begin: (args) => new SubstringPass(args),
  },
  finish: (_args, staged) => staged,
};

class SubstringPass implements TextPass {
  private readonly pattern: string;
  /** The end of the text so far, shorter than the pattern, so that a match across two pieces is found. */
  private tail = '';
  /** Code points of the text before `tail`: counted only while offsets are still wanted. */
  private codePointsBeforeTail = 0;
  private count = 0;
  private readonly first: number[] = [];

  constructor(private readonly args: Args) {
    this.pattern = args.pattern.normalize('NFC');
  }

  add(piece: string): void {
    const text = this.tail + piece.normalize('NFC');
    for (let at = text.indexOf(this.pattern); at !== -1; at = text.indexOf(this.pattern, at + 1)) {
      if (this.count++ < 10) this.first.push(this.codePointsBeforeTail + codePoints(text, 0, at));
    }
    // Keep the last pattern length - 1 code units (a pair of surrogates may be split: see codePoints).
    const keep = Math.max(0, text.length - (this.pattern.length - 1));
    if (this.first.length < 10) this.codePointsBeforeTail += codePoints(text, 0, keep);
    this.tail = text.slice(keep);
  }

  end(): SubstringMatches {
    return { key: this.args.key, pattern: this.args.pattern, count: this.count, first: this.first };
  }
}

/**
 * Code points in text[from, to): each low surrogate is the second half of a pair, counted
 * with its first (decoded text has no lone surrogates), so a pair split between the kept
 * tail and the text before it is still counted once.
 */
function codePoints(text: string, from: number, to: number): number {
  let count = to - from;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xdc00 && code <= 0xdfff) count--;
  }
  return count;
}
