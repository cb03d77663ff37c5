// grep: the lines of an object that contain a pattern, with a data stage.
//
// The stage (begin, add..., end) runs where the object is read, on a storage host if
// Strata offloads it; the object streams through `add` in pieces that may end anywhere,
// even inside a line or a UTF-8 sequence. Matching is on bytes (the pattern's UTF-8
// against the object's), with a Knuth-Morris-Pratt automaton whose state carries over
// from one piece to the next; so what the stage keeps between pieces is that state and
// at most KEEP bytes of the current line, whatever the size of the object or its lines.
// Between matches it skips eight bytes at a time to the next newline or first byte of
// the pattern.
// `finish` runs on the compute node with the stage's small result.

import { fail, JSON, JSONWriter, output, readArgs, readString, Value } from '../../sdk/assemblyscript';

export { alloc } from '../../sdk/assemblyscript';

/** Matching lines reported in full (well, their first KEEP bytes). */
const MAX_FIRST = 10;
/** Bytes of a line kept for the report; a longer line is cut and ends with "…". */
const KEEP = 1024;

let begun = false;
let pattern = new Uint8Array(0);
/** failure[i]: the length of the longest proper prefix of pattern[0..i] that is also its suffix. */
let failure = new Int32Array(0);
/** Pattern bytes matched so far in the current line. */
let state = 0;
let lineMatched = false;
let lineBytes: i64 = 0;
const head = new Uint8Array(KEEP);
let headLength = 0;
let lines: i64 = 0;
let matches: i64 = 0;
const first = new Array<string>();

export function begin(argsPtr: usize, argsLen: i32): void {
  const args = readArgs(argsPtr, argsLen);
  args.requireString('key'); // the object; Strata reads it, the stage only checks it is there
  const text = args.requireString('pattern');
  if (text.length == 0) fail('"pattern" must not be empty');
  pattern = Uint8Array.wrap(String.UTF8.encode(text));
  failure = new Int32Array(pattern.length);
  let k = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (k > 0 && pattern[i] != pattern[k]) k = failure[k - 1];
    if (pattern[i] == pattern[k]) k++;
    failure[i] = k;
  }
  begun = true;
}

export function add(chunkPtr: usize, chunkLen: i32): void {
  if (!begun) fail('add before begin');
  const patternAt = pattern.dataStart;
  const failureAt = failure.dataStart;
  const last = pattern.length;
  const firstByte = load<u8>(patternAt);
  const end = chunkPtr + <usize>chunkLen;
  let at = chunkPtr;
  let lineStart = chunkPtr; // where the current line's bytes in this piece begin
  while (at < end) {
    // Where no match is under way, jump to the next byte that can change anything.
    if (state == 0) {
      at = nextOfInterest(at, end, firstByte, !lineMatched);
      if (at >= end) break;
    }
    const byte = load<u8>(at);
    if (byte == 0x0a) {
      keep(lineStart, at);
      endLine();
      at++;
      lineStart = at;
      continue;
    }
    while (state > 0 && load<u8>(patternAt + <usize>state) != byte)
      state = load<i32>(failureAt + ((<usize>(state - 1)) << 2));
    if (load<u8>(patternAt + <usize>state) == byte) state++;
    if (state == last) {
      lineMatched = true;
      state = 0; // the rest of the line only needs its end found
    }
    at++;
  }
  keep(lineStart, end);
}

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/**
 * The first byte from `at` that is a newline or (if `orFirst`) the pattern's first byte,
 * or `end`. Eight bytes at a time: a byte of `w ^ (b * ONES)` is zero where `w` has `b`,
 * and `(x - ONES) & ~x & HIGHS` marks zero bytes, the lowest mark exactly (wasm is
 * little-endian, so the lowest is the first).
 */
function nextOfInterest(at: usize, end: usize, firstByte: u8, orFirst: bool): usize {
  const newlines = ONES * 0x0a;
  const firsts = ONES * <u64>(orFirst ? firstByte : 0x0a);
  while (at + 8 <= end) {
    const word = load<u64>(at);
    const a = word ^ newlines;
    const b = word ^ firsts;
    const marks = ((a - ONES) & ~a & HIGHS) | ((b - ONES) & ~b & HIGHS);
    if (marks != 0) return at + <usize>(ctz(marks) >> 3);
    at += 8;
  }
  while (at < end) {
    const byte = load<u8>(at);
    if (byte == 0x0a || (orFirst && byte == firstByte)) return at;
    at++;
  }
  return end;
}

/** Counts the line's bytes from `from` to `to`, keeping those that fit in the first KEEP. */
function keep(from: usize, to: usize): void {
  const length = <i32>(to - from);
  lineBytes += length;
  const room = KEEP - headLength;
  const kept = length < room ? length : room;
  if (kept > 0) {
    memory.copy(head.dataStart + <usize>headLength, from, <usize>kept);
    headLength += kept;
  }
}

export function end(): void {
  if (!begun) fail('end before begin');
  if (lineBytes > 0) endLine(); // a last line without a newline
  const w = new JSONWriter();
  w.beginObject();
  w.key('lines').number(<f64>lines);
  w.key('matches').number(<f64>matches);
  w.key('first').beginArray();
  for (let i = 0; i < first.length; i++) w.string(first[i]);
  w.endArray();
  w.endObject();
  output(w.toString());
}

export function finish(argsPtr: usize, argsLen: i32, stagedPtr: usize, stagedLen: i32): void {
  const args = readArgs(argsPtr, argsLen);
  const staged = JSON.parse(readString(stagedPtr, stagedLen));
  if (!staged.isObject()) fail('the stage result must be a JSON object');
  const result = Value.object().set('pattern', Value.string(args.requireString('pattern')));
  for (let i = 0; i < staged.keys.length; i++) result.set(staged.keys[i], staged.values[i]);
  output(JSON.stringify(result));
}

function endLine(): void {
  lines++;
  if (lineMatched) {
    matches++;
    if (first.length < MAX_FIRST) first.push(headText());
  }
  state = 0;
  lineMatched = false;
  lineBytes = 0;
  headLength = 0;
}

/** The kept start of the current line as text: without a final \r, and cut on a character boundary if the line was longer. */
function headText(): string {
  let n = headLength;
  const cut = lineBytes > <i64>n;
  if (!cut) {
    if (n > 0 && head[n - 1] == 0x0d) n--;
    return String.UTF8.decodeUnsafe(head.dataStart, n);
  }
  // Drop a last character whose bytes run past what was kept.
  let start = n - 1;
  while (start > 0 && (head[start] & 0xc0) == 0x80) start--;
  const lead = head[start];
  const size = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (start + size > n) n = start;
  return String.UTF8.decodeUnsafe(head.dataStart, n) + '…';
}
