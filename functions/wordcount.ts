import { MiB } from './limits';
import { DataLimitError, objectKeyField, type StrataFunction, type TextPass } from './types';

interface Args {
  readonly key: string;
}

export interface WordCount {
  readonly key: string;
  /** The object's size in bytes. */
  readonly bytes: number;
  readonly lines: number;
  readonly words: number;
  /** The ten most frequent words (each NFKC-normalised, lower case), most frequent first, ties in code unit order. */
  readonly top: readonly (readonly [string, number])[];
}

/** Distinct words one pass keeps count of (2^20); more is refused rather than run a worker out of memory. */
export const MAX_DISTINCT_WORDS = 1 << 20;

/**
 * Word count over one text object (AutoNDP's I/O-heavy workload), by Unicode's word
 * segmentation (UAX #29, `Intl.Segmenter`) of the text as written: a word is a segment
 * the segmenter calls word-like, so `don’t` and `3.14` are one word each and a run of
 * punctuation or apostrophes is none. The text is not normalised before it is segmented
 * (NFKC rewrites letters of some scripts, a Thai SARA AM say, and the text would then
 * segment differently); each word is then NFKC-normalised and lower-cased to be counted,
 * so that what reads the same counts the same: `café` composed or with a combining
 * accent, a ligature `ﬁ` and `fi`, full-width `ｗｏｒｄ` and `word`; a typographic
 * apostrophe inside a word counts as `'`.
 */
export const wordcount: StrataFunction<Args> = {
  name: 'wordcount',
  description:
    'count lines and words (Unicode word segmentation of the text as written) of a text object, and its ten most frequent words; body {"key": "corpus/x.txt"}',
  parse: (body) => ({ key: objectKeyField(body) }),
  dataStage: {
    objectKey: (args) => args.key,
    // Measured on the shared 2-core test machine: English ~18 MB per CPU-second, the
    // slowest text ~3 (half a million distinct numbers: counting them dominates) and
    // Chinese without spaces ~5 (dictionary lookups): 32 MiB is at most ~11 s of one core.
    maxObjectBytes: 32 * MiB,
    begin: (args) => new WordCountPass(args.key),
  },
  finish: (_args, staged) => staged,
};

/** Segments text into words: Intl.Segmenter's interface, so that a test can watch what the segmenter is given. */
export interface WordSegmenter {
  segment(text: string): Iterable<Intl.SegmentData>;
}

const wordSegmenter: WordSegmenter = new Intl.Segmenter('und', { granularity: 'word' });
const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });
/**
 * The most text handed to the segmenter at once. Its cost on one text with no break grows
 * faster than the text's length (Chinese with no space took 0.3 s for 50 K characters and
 * 10 s for 100 K on Node.js 20), so a longer token is segmented a window of this many
 * characters at a time (see segmentLong), and a batch is flushed before it would exceed it.
 */
export const MAX_SEGMENTER_CHARS = 4096;
/**
 * How much of a window is segmented again at the start of the next: dictionary-based
 * segmentation (Thai, Lao, Khmer, Myanmar) looks a few words ahead, so the words just
 * before a window's end are only taken once the text after them has been seen.
 */
const WINDOW_OVERLAP = MAX_SEGMENTER_CHARS / 4;
/**
 * The words of lower-case printable ASCII, by UAX #29's rules as ICU applies them: letters,
 * digits and `_` join (WB5, WB8-WB10, WB13a/b); `: . '` join letters on both sides (WB6,
 * WB7), and `, ; . '` digits on both sides (WB11, WB12); everything else breaks. A lone `_`
 * is not word-like (ICU's rule status). test/functions/wordcount.test.ts checks this
 * against the segmenter on every ASCII token of up to three characters, and on up to five
 * of one character of each kind.
 */
const ASCII_WORDS = /[a-z0-9_]+(?:(?:(?<=[a-z])[:.'](?=[a-z])|(?<=[0-9])[.,;'](?=[0-9]))[a-z0-9_]+)*/g;
const PRINTABLE_ASCII = /^[!-~]+$/;
/** The commonest token, one run of letters and digits between punctuation other than `_`: the same words, found quicker. */
const ONE_PLAIN_WORD = /^[!-/:-@[-^`{-~]*([a-z0-9]+)[!-/:-@[-^`{-~]*$/;
/** Inside a word a quotation mark is an apostrophe (UAX #29 joins letters across it): `don’t` and `don't` are one word. */
const QUOTE_MARKS = /[\u2018\u2019]/g;
/** Tokens between ASCII white space. */
const TOKEN = /[^\t\n\v\f\r ]+/g;
/**
 * In Node.js 20's V8 a call to the segmenter costs about 25 µs, and a segment 1 µs or
 * more, the more the longer the text (it grows with the square of the length): tokens go
 * to it in batches of about this many characters, the fastest measured.
 */
const BATCH_CHARS = 256;
/** Tokens whose words are remembered, so that text repeating its words asks the segmenter once each; cleared when full. */
const KNOWN_TOKENS = 1 << 16;
const KNOWN_TOKEN_CHARS = 64;

/** How a word is counted: NFKC-normalised, lower case, a typographic apostrophe as `'`. */
const wordKey = (segment: string) => segment.normalize('NFKC').toLowerCase().replace(QUOTE_MARKS, "'");

export class WordCountPass implements TextPass {
  private readonly counts = new Map<string, number>();
  private words = 0;
  private lineFeeds = 0;
  private endsInLineFeed = true;
  /** The words of tokens segmented already, by the white space before the token and the token. */
  private readonly known = new Map<string, readonly string[]>();
  /** Tokens waiting for the segmenter, each after its white space, and where each ends in the batch. */
  private batch = '';
  private batched: { readonly token: string; readonly end: number }[] = [];

  /** The segmenter is an option for tests only. */
  constructor(
    private readonly key: string,
    private readonly segmenter: WordSegmenter = wordSegmenter,
  ) {}

  add(piece: string): void {
    for (let at = piece.indexOf('\n'); at !== -1; at = piece.indexOf('\n', at + 1)) this.lineFeeds++;
    this.endsInLineFeed = piece.endsWith('\n');
    // Tokens between spaces in ASCII are split into words by ASCII_WORDS, which is the
    // segmenter's answer for them (case changes no ASCII character's word class), without
    // its cost; the rest go to the segmenter as written, each after the white space it
    // followed, which is all the context a token's segmentation depends on (a piece starts
    // as after a line feed).
    for (const { 0: token, index } of piece.matchAll(TOKEN)) {
      if (!PRINTABLE_ASCII.test(token)) {
        this.segment((index === 0 ? '\n' : piece[index - 1]) + token);
        continue;
      }
      const lower = token.toLowerCase();
      const plain = ONE_PLAIN_WORD.exec(lower);
      if (plain) this.count(plain[1]);
      else for (const [word] of lower.matchAll(ASCII_WORDS)) if (word !== '_') this.count(word);
    }
    this.flush();
  }

  end(bytes: number): WordCount {
    const top = [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
    const lines = this.lineFeeds + (this.endsInLineFeed ? 0 : 1);
    return { key: this.key, bytes, lines, words: this.words, top };
  }

  /** Counts the words of a token (with the white space before it): remembered, or from the segmenter with the next batch. */
  private segment(token: string): void {
    const words = this.known.get(token);
    if (words) {
      for (const word of words) this.count(word);
      return;
    }
    if (this.batch.length + token.length > MAX_SEGMENTER_CHARS) this.flush();
    if (token.length > MAX_SEGMENTER_CHARS) return this.segmentLong(token);
    this.batch += token;
    this.batched.push({ token, end: this.batch.length });
    if (this.batch.length >= BATCH_CHARS) this.flush();
  }

  /**
   * Counts the words of a token longer than MAX_SEGMENTER_CHARS, a window at a time. Each
   * window but the last ends where its first segment in the last quarter starts (or its
   * last segment, if later), so that the segments near the end are segmented again with
   * the text after them, and a word never straddles two windows. A window that is one segment (a single word longer than a window) ends at its
   * last grapheme boundary, and the next window's first segment continues that word. Every
   * window advances past a segment start or a window's worth of text, so the segmenter is
   * given at most about twice the token (a third more for text
   * of short words), in windows of at most MAX_SEGMENTER_CHARS.
   */
  private segmentLong(token: string): void {
    /** The start of a word that runs on into the next window, and whether it is word-like. */
    let runOn: { text: string; wordLike: boolean } | undefined;
    const take = (segment: string, wordLike: boolean) => {
      if (runOn) {
        segment = runOn.text + segment;
        wordLike ||= runOn.wordLike;
        runOn = undefined;
      }
      if (wordLike) this.count(wordKey(segment));
    };
    for (let start = 0; start < token.length; ) {
      const window = token.slice(start, start + MAX_SEGMENTER_CHARS);
      if (start + window.length === token.length) {
        for (const { segment, isWordLike } of this.segmenter.segment(window)) take(segment, isWordLike ?? false);
        return;
      }
      // Takes the window's segments up to the first that starts in its last quarter, and
      // never the last one, which the window may cut short: each is taken once the next starts.
      let previous: Intl.SegmentData | undefined;
      let cut = 0;
      for (const data of this.segmenter.segment(window)) {
        if (previous) take(previous.segment, previous.isWordLike ?? false);
        cut = data.index;
        if (cut > window.length - WINDOW_OVERLAP) break;
        previous = data;
      }
      if (cut > 0) {
        start += cut;
        continue;
      }
      // The window is one segment, cut short: keep its text up to its last grapheme boundary.
      for (const { index } of graphemes.segment(window)) cut = index;
      if (cut === 0) cut = window.length - (/[\uD800-\uDBFF]$/.test(window) ? 1 : 0);
      const wordLike = previous?.isWordLike ?? false;
      runOn = { text: (runOn?.text ?? '') + window.slice(0, cut), wordLike: (runOn?.wordLike ?? false) || wordLike };
      start += cut;
    }
  }

  /** Segments the batch, counts its words and remembers each token's. */
  private flush(): void {
    if (this.batch === '') return;
    let next = 0;
    let words: string[] = [];
    for (const { segment, index, isWordLike } of this.segmenter.segment(this.batch)) {
      // A segment never spans two tokens: each starts after white space, where words break.
      while (index >= this.batched[next].end) {
        this.remember(this.batched[next++].token, words);
        words = [];
      }
      if (!isWordLike) continue;
      const word = wordKey(segment);
      words.push(word);
      this.count(word);
    }
    while (next < this.batched.length) {
      this.remember(this.batched[next++].token, words);
      words = [];
    }
    this.batch = '';
    this.batched = [];
  }

  private remember(token: string, words: readonly string[]): void {
    if (token.length > KNOWN_TOKEN_CHARS) return;
    if (this.known.size >= KNOWN_TOKENS) this.known.clear();
    this.known.set(token, words);
  }

  private count(word: string): void {
    const seen = this.counts.get(word);
    if (seen === undefined && this.counts.size >= MAX_DISTINCT_WORDS) {
      throw new DataLimitError(
        `the object has more than ${MAX_DISTINCT_WORDS} distinct words; wordcount counts at most that many`,
      );
    }
    this.counts.set(word, (seen ?? 0) + 1);
    this.words++;
  }
}
