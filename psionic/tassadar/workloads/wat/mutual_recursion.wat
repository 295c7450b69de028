;; is_even / is_odd by mutual recursion
(module
  (func $even (param $n i32) (result i32)
    local.get $n
    i32.eqz
    if (result i32)
      i32.const 1
    else
      local.get $n
      i32.const 1
      i32.sub
      call $odd
    end)
  (func $odd (param $n i32) (result i32)
    local.get $n
    i32.eqz
    if (result i32)
      i32.const 0
    else
      local.get $n
      i32.const 1
      i32.sub
      call $even
    end)
  (func (export "run") (param $n i32) (result i32)
    local.get $n
    call $even
    i32.const 10
    i32.mul
    local.get $n
    i32.const 1
    i32.add
    call $odd
    i32.add))
