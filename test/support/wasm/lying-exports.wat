;; Hostile with its manifest: exports run only, while the manifest claims a data stage
;; (begin, add, end, finish).
(module
  (import "env" "memory" (memory 1))
  (import "strata" "output" (func $output (param i32 i32)))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $output (local.get 0) (local.get 1))))
