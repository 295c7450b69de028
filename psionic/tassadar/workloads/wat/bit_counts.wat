;; clz, ctz and popcnt of both widths, folded into one number
(module
  (func (export "run") (param $x i32) (result i32)
    local.get $x
    i32.clz
    local.get $x
    i32.ctz
    i32.const 8
    i32.shl
    i32.or
    local.get $x
    i32.popcnt
    i32.const 16
    i32.shl
    i32.or
    local.get $x
    i64.extend_i32_u
    i64.const 20
    i64.shl
    i64.popcnt
    i32.wrap_i64
    i32.xor
    local.get $x
    i64.extend_i32_s
    i64.clz
    i32.wrap_i64
    i32.const 24
    i32.shl
    i32.xor))
