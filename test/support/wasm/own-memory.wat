;; Hostile: defines (and exports) a memory of its own, up to 4 GiB, instead of importing
;; env.memory, which is the one Strata caps.
(module
  (import "strata" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1 65536)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $output (local.get 0) (local.get 1))))
