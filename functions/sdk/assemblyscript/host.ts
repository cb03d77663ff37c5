// What Strata gives a module (strata.output, strata.fail), as AssemblyScript declares it,
// and the SDK's functions over them. The decorators belong to AssemblyScript, not
// TypeScript, so this file is kept out of Biome's reach (biome.jsonc).

/** strata.output(ptr, len): the call's result, `len` bytes of UTF-8 JSON at `ptr`. */
@external('strata', 'output')
declare function hostOutput(ptr: usize, len: i32): void;

/** strata.fail(ptr, len): the function gives up with a UTF-8 message; the call ends there. */
@external('strata', 'fail')
declare function hostFail(ptr: usize, len: i32): void;

/** Hands the call's result (JSON text) to Strata. A second call replaces the first. */
export function output(json: string): void {
  const bytes = String.UTF8.encode(json);
  hostOutput(changetype<usize>(bytes), bytes.byteLength);
}

/**
 * Gives up: the invocation answers a function error (424, "kind": "failed") with this
 * message. Strata ends the call inside `strata.fail`; should a host ever return from
 * it, the `unreachable` still ends the call, as a trap.
 */
export function fail(message: string): void {
  const bytes = String.UTF8.encode(message);
  hostFail(changetype<usize>(bytes), bytes.byteLength);
  unreachable();
}

/**
 * Set while an abort is being reported. Lazy: an abort may come before the module's
 * globals are initialised (a failed allocation in one of their initialisers).
 */
@lazy
let aborting = false;

/**
 * AssemblyScript's `abort` (a failed `assert`, an index out of range, an allocation
 * over the memory limit), routed to `strata.fail` by `--use abort=` so that the caller
 * reads what went wrong and where instead of a bare trap.
 */
export function abortWithFail(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // An abort while aborting (the memory is too full even for the message): a plain trap.
  if (aborting) unreachable();
  aborting = true;
  let text = message !== null ? message : 'abort';
  if (fileName !== null) text += ' at ' + fileName + ':' + line.toString() + ':' + column.toString();
  fail(text);
}
