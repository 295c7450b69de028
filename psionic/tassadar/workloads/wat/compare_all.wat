;; every i32 and i64 comparison, as a bitmask
(module
  (func $bit (param $c i32) (param $k i32) (param $acc i32) (result i32)
    local.get $acc
    local.get $c
    local.get $k
    i32.shl
    i32.or)
  (func (export "run") (param $a i32) (param $b i32) (result i32)
    (local $m i32) (local $x i64) (local $y i64)
    local.get $a
    i64.extend_i32_s
    local.set $x
    local.get $b
    i64.extend_i32_u
    local.set $y
    local.get $a local.get $b i32.eq  i32.const 0 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.ne  i32.const 1 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.lt_s i32.const 2 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.lt_u i32.const 3 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.gt_s i32.const 4 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.gt_u i32.const 5 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.le_s i32.const 6 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.le_u i32.const 7 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.ge_s i32.const 8 local.get $m call $bit local.set $m
    local.get $a local.get $b i32.ge_u i32.const 9 local.get $m call $bit local.set $m
    local.get $a i32.eqz i32.const 10 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.eq  i32.const 11 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.ne  i32.const 12 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.lt_s i32.const 13 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.lt_u i32.const 14 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.gt_s i32.const 15 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.gt_u i32.const 16 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.le_s i32.const 17 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.le_u i32.const 18 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.ge_s i32.const 19 local.get $m call $bit local.set $m
    local.get $x local.get $y i64.ge_u i32.const 20 local.get $m call $bit local.set $m
    local.get $x i64.eqz i32.const 21 local.get $m call $bit local.set $m
    local.get $m))
