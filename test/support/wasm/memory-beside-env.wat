;; Hostile: imports env.memory as it should, and defines a second memory of its own (up to
;; 4 GiB) beside it (multi-memory, on by default in Node 22's V8), where the cap is not.
;; wabt's JavaScript cannot write a second memory: hostile.ts adds its section to this.
(module
  (import "env" "memory" (memory 1))
  (import "strata" "output" (func $output (param i32 i32)))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $output (local.get 0) (local.get 1))))
