;; div_s, div_u, rem_s, rem_u with every sign combination
(module
  (func (export "run") (param $a i32) (param $b i32) (result i64)
    (local $r i64)
    local.get $a local.get $b i32.div_s i64.extend_i32_u
    local.get $a local.get $b i32.div_u i64.extend_i32_u i64.const 8 i64.shl i64.xor
    local.get $a local.get $b i32.rem_s i64.extend_i32_u i64.const 16 i64.shl i64.xor
    local.get $a local.get $b i32.rem_u i64.extend_i32_u i64.const 24 i64.shl i64.xor
    local.get $a i64.extend_i32_s local.get $b i64.extend_i32_s i64.div_s i64.xor
    local.get $a i64.extend_i32_s local.get $b i64.extend_i32_s i64.rem_s i64.const 32 i64.shl i64.xor
    local.get $a i64.extend_i32_s local.get $b i64.extend_i32_u i64.div_u i64.add
    local.get $a i64.extend_i32_s local.get $b i64.extend_i32_u i64.rem_u i64.add))
