;; Hostile: a table of ten million elements and no maximum: the worker's heap, not the
;; memory cap, would hold it (about 80 MB a call, and table.grow for more).
(module
  (import "env" "memory" (memory 1))
  (import "strata" "output" (func $output (param i32 i32)))
  (table 10000000 funcref)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $output (local.get 0) (local.get 1))))
