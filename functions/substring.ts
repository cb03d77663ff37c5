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

/**
 * Finds every (possibly overlapping) match of a pattern in a text at a cost linear in the
 * text's length. `indexOf` alone, restarted after each match, costs text length × pattern
 * length on text like `aaaa…` with a pattern `aaa…` (about 20 s at the 128 MiB limit with
 * 256 characters). So after each match the overlapping matches are followed by
 * Knuth-Morris-Pratt, character by character, until no part of the pattern is matched;
 * only then does `indexOf` (linear in V8 for the first match) search on.
 */
export class PatternSearch {
  /** border[i]: the length of the longest proper prefix of pattern[0, i] that is also its suffix. */
  private readonly border: Int32Array;
  /** Characters of text looked at so far, by indexOf up to each match's end and by the Knuth-Morris-Pratt steps: the cost a test measures. */
  scanned = 0;

  constructor(private readonly pattern: string) {
    this.border = new Int32Array(pattern.length);
    for (let i = 1, k = 0; i < pattern.length; i++) {
      while (k > 0 && pattern.charCodeAt(i) !== pattern.charCodeAt(k)) k = this.border[k - 1];
      if (pattern.charCodeAt(i) === pattern.charCodeAt(k)) k++;
      this.border[i] = k;
    }
  }

  /** Counts the matches in text, and gives the offsets of the first `want` of them. */
  search(text: string, want: number): { count: number; first: number[] } {
    const { pattern, border } = this;
    const length = pattern.length;
    let count = 0;
    const first: number[] = [];
    for (let from = 0; from < text.length; ) {
      const at = text.indexOf(pattern, from);
      this.scanned += (at === -1 ? text.length : at + length) - from;
      if (at === -1) break;
      if (count++ < want) first.push(at);
      // Knuth-Morris-Pratt from the match's end, while part of the pattern is matched.
      let matched = border[length - 1];
      let i = at + length;
      for (; matched > 0 && i < text.length; i++) {
        const code = text.charCodeAt(i);
        while (matched > 0 && code !== pattern.charCodeAt(matched)) matched = border[matched - 1];
        if (code === pattern.charCodeAt(matched)) matched++;
        if (matched === length) {
          if (count++ < want) first.push(i + 1 - length);
          matched = border[length - 1];
        }
      }
      this.scanned += i - (at + length);
      // Nothing is matched after i - 1 (or the text ended): a next match starts at i at the earliest.
      from = i;
    }
    return { count, first };
  }
}

class SubstringPass implements TextPass {
  private readonly pattern: string;
  private readonly search: PatternSearch;
  /** The end of the text so far, shorter than the pattern, so that a match across two pieces is found. */
  private tail = '';
  /** Code points of the text before `tail`: counted only while offsets are still wanted. */
  private codePointsBeforeTail = 0;
  private count = 0;
  private readonly first: number[] = [];

  constructor(private readonly args: Args) {
    this.pattern = args.pattern.normalize('NFC');
    this.search = new PatternSearch(this.pattern);
  }

  add(piece: string): void {
    const text = this.tail + piece.normalize('NFC');
    const { count, first } = this.search.search(text, 10 - this.first.length);
    this.count += count;
    for (const at of first) this.first.push(this.codePointsBeforeTail + codePoints(text, 0, at));
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
