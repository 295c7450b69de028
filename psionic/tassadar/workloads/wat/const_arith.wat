;; straight-line i32 arithmetic with wrap-around
(module
  (func (export "run") (param $a i32) (param $b i32) (result i32)
    local.get $a
    local.get $b
    i32.add
    i32.const 0x7fffffff
    i32.add
    local.get $a
    local.get $b
    i32.mul
    i32.xor
    local.get $b
    i32.sub
    i32.const 3
    i32.shl
    local.get $a
    i32.or
    i32.const -1
    i32.and))
