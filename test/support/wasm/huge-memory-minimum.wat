;; Hostile: its memory import asks for at least 2048 pages (128 MiB), over the cap of
;; 1024 pages (64 MiB).
(module
  (import "env" "memory" (memory 2048))
  (import "strata" "output" (func $output (param i32 i32)))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $output (local.get 0) (local.get 1))))
