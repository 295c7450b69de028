;; grow memory, write in the new page, report sizes
(module
  (memory (export "memory") 1 4)
  (func (export "run") (result i32)
    (local $old i32)
    i32.const 2
    memory.grow
    local.set $old
    i32.const 131072
    i32.const 0x5a5a
    i32.store
    i32.const 5
    memory.grow
    i32.const 100
    i32.mul
    local.get $old
    i32.const 10
    i32.mul
    i32.add
    memory.size
    i32.add
    i32.const 131072
    i32.load
    i32.add))
