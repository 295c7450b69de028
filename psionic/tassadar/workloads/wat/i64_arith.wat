;; straight-line i64 arithmetic: mul, div, rem, shifts, rotations
(module
  (func (export "run") (param $a i64) (param $b i64) (result i64)
    local.get $a
    local.get $b
    i64.mul
    local.get $a
    i64.const 7
    i64.div_s
    i64.add
    local.get $b
    i64.const 13
    i64.rem_u
    i64.xor
    local.get $a
    i64.const 61
    i64.rotl
    i64.sub
    local.get $b
    i64.const 3
    i64.rotr
    i64.add
    i64.const 5
    i64.shr_s
    local.get $a
    i64.const 60
    i64.shr_u
    i64.or))
