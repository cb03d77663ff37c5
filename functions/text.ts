import { DataLimitError, type StrataFunction, type TextPass } from './types';

/** Pieces are cut at line feeds; a line longer than this is also cut after a space or tab. */
const LONG_LINE_CHARS = 64 * 1024;
/** Text with no place to cut for this long is refused: a stage would have to hold it whole. */
export const MAX_UNBROKEN_CHARS = 16 * 1024 * 1024;

/**
 * Feeds an object's bytes, arriving in chunks of any size, to a data stage's pass as
 * whole pieces of text. The bytes are decoded as UTF-8 (a sequence split between two
 * chunks is joined; a leading byte order mark is dropped; bytes that are not UTF-8 become
 * U+FFFD). A piece ends where nothing on either side can change how the other is read:
 *
 * - after a line feed: Unicode word segmentation (UAX #29, rules WB3a and WB4) always
 *   breaks there, whatever follows, and no character composes with a line feed;
 * - in a line over 64 Ki characters, after a space or tab followed by printable ASCII,
 *   or before ASCII punctuation that words never join across (a bracket, say): a break on
 *   both sides, and an ASCII character neither composes with nor reorders around what
 *   comes before it, for NFC and NFKC alike.
 *
 * So normalising and segmenting each piece gives what the whole text would give, for any
 * chunking (test/functions/text.test.ts checks that on random text and random chunks).
 * Text with no such place for MAX_UNBROKEN_CHARS is refused with a DataLimitError.
 */
export class TextFeed {
  private readonly decoder = new TextDecoder('utf-8');
  /** Text received but not yet given to the pass: it holds no line feed. */
  private carry: string[] = [];
  private carryLength = 0;
  /** Whether the carry holds no place to cut in a long line either (searched once it grew long). */
  private searched = false;
  private bytes = 0;

  private readonly longLineChars: number;
  private readonly maxUnbrokenChars: number;

  /** The limits are options for tests only. */
  constructor(
    private readonly pass: TextPass,
    { longLineChars = LONG_LINE_CHARS, maxUnbrokenChars = MAX_UNBROKEN_CHARS } = {},
  ) {
    this.longLineChars = longLineChars;
    this.maxUnbrokenChars = maxUnbrokenChars;
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    const text = this.decoder.decode(chunk, { stream: true });
    if (text === '') return;
    const lineEnd = text.lastIndexOf('\n');
    if (lineEnd !== -1) return this.cut(text, lineEnd + 1, false);
    if (this.carryLength + text.length <= this.longLineChars) return this.keep(text);
    if (!this.searched) {
      // A short carry, searched with the new text at once.
      const whole = this.carry.join('') + text;
      this.carry = [];
      this.carryLength = 0;
      const at = lastPlaceToCut(whole);
      if (at > 0) return this.cut(whole, at, true);
      this.searched = true;
      return this.keep(whole);
    }
    // A long carry was searched already: only the place between it and the new text is new.
    const last = this.carry[this.carry.length - 1];
    const at = lastPlaceToCut(last.slice(-1) + text) - 1;
    if (at >= 0) return this.cut(text, at, true);
    this.keep(text);
  }

  /** The pass's result, once the last chunk is in. */
  end(): unknown {
    const rest = this.carry.join('') + this.decoder.decode();
    if (rest !== '') this.pass.add(rest);
    this.carry = [];
    this.carryLength = 0;
    return this.pass.end(this.bytes);
  }

  /** Gives the pass the carry and `text` up to `at`, and keeps the rest (searched: it holds no place to cut). */
  private cut(text: string, at: number, searched: boolean): void {
    const piece = this.carry.join('') + text.slice(0, at);
    this.carry = [];
    this.carryLength = 0;
    this.searched = searched;
    if (piece !== '') this.pass.add(piece);
    if (at < text.length) this.keep(text.slice(at));
  }

  private keep(text: string): void {
    this.carry.push(text);
    this.carryLength += text.length;
    if (this.carryLength > this.maxUnbrokenChars) {
      throw new DataLimitError(
        `the object has more than ${this.maxUnbrokenChars} characters without a line break, a space or a bracket; a data stage reads text in pieces that end at one`,
      );
    }
  }
}

/**
 * Where a long line may be cut: before its last printable ASCII character that follows a
 * space or tab, or before its last ASCII punctuation that words never join across (UAX #29
 * class Other: not `_ . , ; : ' "`), e.g. the brackets of JSON that has no spaces. -1 if nowhere.
 */
function lastPlaceToCut(text: string): number {
  for (let at = text.length - 1; at > 0; at--) {
    const code = text.charCodeAt(at);
    if (code <= 0x20 || code >= 0x7f) continue;
    const before = text.charCodeAt(at - 1);
    if (before === 0x20 || before === 0x09 || WORDS_NEVER_JOIN_ACROSS.includes(text[at])) return at;
  }
  return -1;
}

const WORDS_NEVER_JOIN_ACROSS = '!#$%&()*+-/<=>?@[\\]^`{|}~';

/** Runs a function's data stage over an object given as chunks of its bytes: what a node's worker thread does, in one call. */
export function runStageOver<Args>(
  fn: StrataFunction<Args>,
  args: Args,
  chunks: Iterable<Uint8Array> | string,
): unknown {
  const feed = new TextFeed(fn.dataStage!.begin(args));
  for (const chunk of typeof chunks === 'string' ? [Buffer.from(chunks)] : chunks) feed.push(chunk);
  return feed.end();
}
