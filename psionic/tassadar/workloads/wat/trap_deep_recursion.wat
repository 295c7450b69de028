;; traps: unbounded recursion exhausts the call stack
(module
  (func $down (param $n i32) (result i32)
    local.get $n
    i32.const 1
    i32.add
    call $down)
  (func (export "run") (result i32)
    i32.const 0
    call $down))
