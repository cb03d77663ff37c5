// grep: the lines of an object that contain a pattern, with a data stage.
//
// The stage (begin, add..., end) runs where the object is read, on a storage host if
// Strata offloads it; the object streams through `add` in pieces that may end anywhere,
// even inside a line or a UTF-8 sequence. Matching is on bytes (the pattern's UTF-8
// against the object's), with a Knuth-Morris-Pratt automaton whose state carries over
// from one piece to the next; so what the stage keeps between pieces is that state and
// at most KEEP bytes of the current line, whatever the size of the object or its lines.
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
  const last = pattern.length;
  for (let i = 0; i < chunkLen; i++) {
    const byte = load<u8>(chunkPtr + <usize>i);
    if (byte == 0x0a) {
      endLine();
      continue;
    }
    lineBytes++;
    if (headLength < KEEP) unchecked((head[headLength++] = byte));
    if (lineMatched) continue;
    while (state > 0 && unchecked(pattern[state]) != byte) state = unchecked(failure[state - 1]);
    if (unchecked(pattern[state]) == byte) state++;
    if (state == last) lineMatched = true;
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
