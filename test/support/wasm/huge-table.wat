;; Hostile: a table with a maximum, but a million elements of it.
(module
  (import "env" "memory" (memory 1))
  (import "strata" "output" (func $output (param i32 i32)))
  (table 1000000 1000000 funcref)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $output (local.get 0) (local.get 1))))
