;; traps: INT_MIN / -1 overflows
(module
  (func (export "run") (param $a i32) (param $b i32) (result i32)
    local.get $a
    local.get $b
    i32.rem_s
    drop
    local.get $a
    local.get $b
    i32.div_s))
