;; min and max of three by select, both widths
(module
  (func $min (param $a i32) (param $b i32) (result i32)
    local.get $a local.get $b local.get $a local.get $b i32.lt_s select)
  (func $max64 (param $a i64) (param $b i64) (result i64)
    local.get $a local.get $b local.get $a local.get $b i64.gt_u select)
  (func (export "run") (param $a i32) (param $b i32) (param $c i32) (result i32)
    local.get $a
    local.get $b
    local.get $c
    call $min
    call $min
    local.get $a i64.extend_i32_u
    local.get $c i64.extend_i32_u
    call $max64
    i32.wrap_i64
    i32.const 16
    i32.shl
    i32.add))
