;; Hostile: run never returns. Only the host's timer (a worker it terminates) ends it.
(module
  (import "env" "memory" (memory 1))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (loop $forever
      (br $forever))))
