;; direct calls with several parameters and results
(module
  (func $mix (param $a i32) (param $b i64) (param $c i32) (result i64)
    local.get $a
    i64.extend_i32_s
    local.get $b
    i64.mul
    local.get $c
    i64.extend_i32_u
    i64.add)
  (func $twice (param $x i32) (result i32)
    local.get $x
    local.get $x
    i32.add)
  (func $pipeline (param $x i32) (result i32)
    local.get $x
    call $twice
    call $twice
    i32.const 1
    i32.add)
  (func (export "run") (param $x i32) (result i64)
    local.get $x
    call $pipeline
    i64.const -3
    local.get $x
    call $twice
    call $mix))
