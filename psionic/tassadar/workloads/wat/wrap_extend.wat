;; wrap and every sign/zero extension
(module
  (func (export "run") (param $v i64) (result i64)
    local.get $v
    i32.wrap_i64
    i32.extend8_s
    i64.extend_i32_s
    local.get $v
    i32.wrap_i64
    i32.extend16_s
    i64.extend_i32_u
    i64.add
    local.get $v
    i64.extend8_s
    i64.xor
    local.get $v
    i64.extend16_s
    i64.sub
    local.get $v
    i64.extend32_s
    i64.add))
