;; Hostile: exports run with the wrong type, (i64) -> i32 instead of (i32, i32) -> ().
(module
  (import "env" "memory" (memory 1))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i64) (result i32)
    (i32.wrap_i64 (local.get 0))))
