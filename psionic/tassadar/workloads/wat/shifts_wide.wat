;; shift and rotate counts at and beyond the width
(module
  (func (export "run") (param $x i32) (param $k i32) (result i64)
    local.get $x local.get $k i32.shl
    local.get $x local.get $k i32.shr_s i32.xor
    local.get $x local.get $k i32.shr_u i32.add
    local.get $x local.get $k i32.rotl i32.xor
    local.get $x local.get $k i32.rotr i32.sub
    i64.extend_i32_u
    local.get $x i64.extend_i32_s local.get $k i64.extend_i32_u i64.shl
    local.get $x i64.extend_i32_s local.get $k i64.extend_i32_u i64.shr_s i64.xor
    local.get $x i64.extend_i32_s local.get $k i64.extend_i32_u i64.rotr i64.add
    i64.xor))
