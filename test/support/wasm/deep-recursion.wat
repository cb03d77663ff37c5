;; Hostile: unbounded recursion (not a tail call: it adds after the call returns), so the
;; stack overflows.
(module
  (import "env" "memory" (memory 1))
  (func $down (param $depth i32) (result i32)
    (i32.add (call $down (i32.add (local.get $depth) (i32.const 1))) (i32.const 1)))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (drop (call $down (i32.const 0)))))
