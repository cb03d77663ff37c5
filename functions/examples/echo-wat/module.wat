;; echo-wat: the Strata function ABI (version 1, docs/functions.md) written by hand,
;; the reference for any language that compiles to WebAssembly.
;;
;; A call without a data stage goes: the host makes a fresh memory and a fresh instance,
;; calls alloc(len), writes the UTF-8 JSON arguments there, calls run(ptr, len); run
;; hands its result back through strata.output(ptr, len). Here the result is the
;; arguments themselves, byte for byte: they are a JSON object, so the output is JSON.
(module
  ;; The memory: made by Strata for each call with the manifest's limits.memoryPages as
  ;; its maximum. The 1 is this module's minimum (the page holding the message below);
  ;; the manifest's memoryPages must be at least that.
  (import "env" "memory" (memory 1))

  ;; strata.output(ptr, len): the call's result, len bytes at ptr, copied at once.
  (import "strata" "output" (func $output (param i32 i32)))

  ;; strata.fail(ptr, len): the function gives up with a UTF-8 message; the call ends.
  (import "strata" "fail" (func $fail (param i32 i32)))

  ;; The message alloc fails with, at address 16 (56 bytes of UTF-8).
  (data (i32.const 16) "echo-wat: the arguments are larger than the memory limit")

  ;; Where the host writes its input: from byte 1024 on, clear of the message.
  (global $input i32 (i32.const 1024))

  ;; alloc(len) -> ptr: room for len bytes, growing the memory if the input needs it.
  (func (export "alloc") (param $len i32) (result i32)
    (local $pages i64)                   ;; pages that [1024, 1024 + len) spans
    global.get $input                    ;; 1024
    i64.extend_i32_u                     ;;   as 64 bits, so no length can overflow the sum
    local.get $len                       ;; len
    i64.extend_i32_u                     ;;   as 64 bits, unsigned
    i64.add                              ;; 1024 + len: the first byte past the input
    i64.const 65535                      ;; round up...
    i64.add                              ;;
    i64.const 16                         ;; ...to whole 64 KiB pages
    i64.shr_u                            ;;
    local.set $pages                     ;; pages = ceil((1024 + len) / 65536)
    local.get $pages                     ;;
    memory.size                          ;; the pages the memory has now
    i64.extend_i32_u                     ;;
    i64.gt_u                             ;; more needed than there is?
    if                                   ;; then grow by the difference
      local.get $pages                   ;;
      memory.size                        ;;
      i64.extend_i32_u                   ;;
      i64.sub                            ;; pages - memory.size
      i32.wrap_i64                       ;;   (at most 65536: it fits)
      memory.grow                        ;; the old size, or -1 past the memory's maximum
      i32.const -1                       ;;
      i32.eq                             ;; did it fail?
      if                                 ;; then say so, and the call ends in strata.fail
        i32.const 16                     ;; the message's address
        i32.const 56                     ;; its length
        call $fail                       ;; does not return
        unreachable                      ;; (and if a host let it return: a trap)
      end                                ;;
    end                                  ;;
    global.get $input                    ;; the answer: the host writes at 1024
  )

  ;; run(args, argsLen): the result is the arguments, as they came.
  (func (export "run") (param $args i32) (param $argsLen i32)
    local.get $args                      ;; where the arguments are
    local.get $argsLen                   ;; how many bytes
    call $output                         ;; they are the output
  )
)
