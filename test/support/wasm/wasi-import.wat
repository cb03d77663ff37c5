;; Hostile: imports WASI's fd_write to write to standard output. Not in the ABI.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 8) "hello\n")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (i32.store (i32.const 0) (i32.const 8))  ;; one iovec: the text at 8...
    (i32.store (i32.const 4) (i32.const 6))  ;; ...6 bytes long
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))
