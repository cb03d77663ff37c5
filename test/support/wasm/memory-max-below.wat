;; Not hostile, only wrong: its env.memory may grow to 2 pages, and its manifest asks for 16,
;; the maximum the runtime gives the memory: it could never link, so every call would fail.
(module
  (import "env" "memory" (memory 1 2))
  (import "strata" "output" (func $output (param i32 i32)))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $output (local.get 0) (local.get 1))))
