;; A good module with a data stage, for the runtime's own tests: the stage counts the
;; object's bytes and answers {"bytes":N}; finish answers the stage's result as it is.
(module
  (import "env" "memory" (memory 1))
  (import "strata" "output" (func $output (param i32 i32)))
  (import "strata" "fail" (func $fail (param i32 i32)))

  ;; The result's opening, at 256; the digits follow it from 265 on.
  (data (i32.const 256) "{\"bytes\":")
  ;; alloc's message, at 16 (42 bytes).
  (data (i32.const 16) "count-bytes: a piece over the memory limit")

  (global $count (mut i64) (i64.const 0))

  ;; The input goes at 1024; the memory grows to hold it (a piece is up to 1 MiB).
  (func (export "alloc") (param $len i32) (result i32)
    (local $pages i32)
    (local.set $pages
      (i32.wrap_i64
        (i64.shr_u
          (i64.add (i64.extend_i32_u (local.get $len)) (i64.const 66559)) ;; 1024 + 65535
          (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then
            (call $fail (i32.const 16) (i32.const 42))
            unreachable))))
    (i32.const 1024))

  (func (export "begin") (param i32 i32)
    (global.set $count (i64.const 0)))

  (func (export "add") (param $chunk i32) (param $len i32)
    (global.set $count (i64.add (global.get $count) (i64.extend_i32_u (local.get $len)))))

  ;; {"bytes":N}: N's digits counted, written from the last one back, then the brace.
  (func (export "end")
    (local $digits i32)
    (local $n i64)
    (local $at i32)
    (local.set $n (global.get $count))
    (local.set $digits (i32.const 1))
    (block $counted
      (loop $count
        (br_if $counted (i64.lt_u (local.get $n) (i64.const 10)))
        (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (br $count)))
    (local.set $n (global.get $count))
    (local.set $at (i32.add (i32.const 265) (local.get $digits)))
    (i32.store8 (local.get $at) (i32.const 125)) ;; }
    (loop $write
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (i32.store8 (local.get $at)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $write (i32.gt_u (local.get $at) (i32.const 265))))
    (call $output (i32.const 256) (i32.add (i32.const 10) (local.get $digits))))

  (func (export "finish") (param $args i32) (param $argsLen i32) (param $staged i32) (param $stagedLen i32)
    (call $output (local.get $staged) (local.get $stagedLen))))
