;; branches to the function's own label (a return by another name): br, br_if and br_table
(module
  (func $by_br (param $x i32) (result i32)
    i32.const 100
    local.get $x
    i32.const 7
    i32.mul
    br 0)
  (func $by_br_if (param $x i32) (result i32)
    i32.const 1
    i32.const 2
    local.get $x
    local.get $x
    i32.const 1
    i32.and
    br_if 0
    drop
    i32.add)
  (func $by_br_table (param $x i32) (result i32)
    block $inner (result i32)
      i32.const 55
      i32.const 66
      local.get $x
      br_table $inner 1 1
    end
    local.get $x
    i32.const 1000
    i32.add
    i32.add)
  (func (export "run") (param $n i32) (result i32)
    local.get $n
    call $by_br
    local.get $n
    call $by_br_if
    i32.add
    local.get $n
    i32.const 1
    i32.add
    call $by_br_if
    i32.add
    i32.const 0
    call $by_br_table
    i32.add
    local.get $n
    call $by_br_table
    i32.add))
