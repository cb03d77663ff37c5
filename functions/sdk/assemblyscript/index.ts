// The Strata function ABI (version 1, docs/functions.md) for AssemblyScript.
//
// A function's entry file re-exports `alloc` from here and exports its own `run`, or
// `begin`, `add`, `end` and `finish`. Build it with `npm run functions:build`, which
// compiles with the flags this glue relies on: --importMemory --noExportMemory (memory
// is `env.memory`, made by Strata for each call) and --use abort=... (an AssemblyScript
// assertion or a failed allocation reaches Strata as `strata.fail`, not as `env.abort`:
// see abortWithFail in host.ts).

import { fail } from './host';
import { JSON, Value } from './json';

export { fail, output } from './host';
export { JSON, JSONWriter, Kind, Value } from './json';

// One buffer for everything the host writes (arguments, chunks), reused from call to
// call and grown by doubling, so streaming 1 MiB chunks through a stage allocates once.
// It lives in a global, which keeps it from the garbage collector.
let inputBuffer: ArrayBuffer = new ArrayBuffer(0);

/** The ABI's `alloc(len) -> ptr`: where the host writes the next `len` bytes. Re-export it from your entry file. */
export function alloc(len: i32): usize {
  if (len < 0) fail('alloc: a negative length');
  if (inputBuffer.byteLength < len) {
    const doubled = inputBuffer.byteLength * 2;
    inputBuffer = new ArrayBuffer(doubled > len ? doubled : len);
  }
  return changetype<usize>(inputBuffer);
}

/** `len` bytes of UTF-8 at `ptr` (the arguments, a stage's result) as a string. */
export function readString(ptr: usize, len: i32): string {
  return String.UTF8.decodeUnsafe(ptr, <usize>len);
}

/** The arguments at `ptr`: a JSON object, or the call fails with a message that says so. */
export function readArgs(ptr: usize, len: i32): Value {
  const args = JSON.parse(readString(ptr, len));
  if (!args.isObject()) fail('the arguments must be a JSON object');
  return args;
}
