;; traps: a load that runs past the end of memory
(module
  (memory (export "memory") 1)
  (func (export "run") (param $addr i32) (result i32)
    i32.const 0
    i32.const 77
    i32.store8
    local.get $addr
    i32.load offset=4))
