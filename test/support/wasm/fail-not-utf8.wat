;; Fails through strata.fail with a message that is not UTF-8: still the function's own
;; failure (424, failed), not the platform's.
(module
  (import "env" "memory" (memory 1))
  (import "strata" "fail" (func $fail (param i32 i32)))
  (data (i32.const 0) "bad \ff\fe bytes")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (call $fail (i32.const 0) (i32.const 12))))
