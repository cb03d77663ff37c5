;; Hostile: imports strata.clock, which Strata does not give (no clock, by design).
(module
  (import "env" "memory" (memory 1))
  (import "strata" "clock" (func $clock (result i64)))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (drop (call $clock))))
