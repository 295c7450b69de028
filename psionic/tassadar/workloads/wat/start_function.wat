;; the start function initialises a global and memory before the entry runs
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 1))
  (func $init
    i32.const 42
    global.set $g
    i32.const 64
    i32.const 0x01020304
    i32.store)
  (start $init)
  (func (export "run") (result i32)
    global.get $g
    i32.const 64
    i32.load
    i32.add))
