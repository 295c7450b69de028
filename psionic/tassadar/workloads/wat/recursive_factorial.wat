;; recursive factorial (i32, wrapping)
(module
  (func $fact (param $n i32) (result i32)
    local.get $n
    i32.const 2
    i32.lt_u
    if (result i32)
      i32.const 1
    else
      local.get $n
      local.get $n
      i32.const 1
      i32.sub
      call $fact
      i32.mul
    end)
  (func (export "run") (param $n i32) (result i32)
    local.get $n
    call $fact))
