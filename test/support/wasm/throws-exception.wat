;; Throws a WebAssembly exception (exception handling, in Node 20's V8) that nothing
;; catches: not a JavaScript Error, and still the function's own failure (424, trap).
(module
  (import "env" "memory" (memory 1))
  (tag $oops)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32)
    (throw $oops)))
