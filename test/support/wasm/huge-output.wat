;; Outputs 4 MiB and a byte of valid JSON (0 and spaces): more than the dispatcher's Lambda
;; can answer (6 MB, the output escaped inside it). A function error naming the size (424,
;; bad-output), not a 502 from API Gateway.
(module
  (import "env" "memory" (memory 65))
  (import "strata" "output" (func $output (param i32 i32)))
  (data (i32.const 0) "0")
  (func (export "alloc") (param i32) (result i32) (i32.const 4194400))
  (func (export "run") (param i32 i32)
    (memory.fill (i32.const 1) (i32.const 32) (i32.const 4194304))
    (call $output (i32.const 0) (i32.const 4194305))))
